#include "engine/text/unicode.h"

/* Index of the run containing cp in a run-length table (starts[0] == 0). */
static size_t run_index(const uint32_t *starts, size_t count, uint32_t cp)
{
    size_t lo = 0, hi = count;   /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Position of cp in a sorted array, or count when absent. */
static size_t sorted_find(const uint32_t *keys, size_t count, uint32_t cp)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < count && keys[lo] == cp ? lo : count;
}

unsigned thaw_uc_flags(uint32_t cp)
{
    if (cp > 0x10FFFF) return 0;
    return thaw_uc_flag_value[run_index(thaw_uc_flag_start, thaw_uc_flag_count, cp)];
}

unsigned thaw_uc_ccc(uint32_t cp)
{
    if (cp < 0x300 || cp > 0x10FFFF) return 0;   /* nothing below U+0300 combines */
    return thaw_uc_ccc_value[run_index(thaw_uc_ccc_start, thaw_uc_ccc_count, cp)];
}

size_t thaw_uc_lower(uint32_t cp, uint32_t out[2])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    size_t i = sorted_find(thaw_uc_lower_from, thaw_uc_lower_count, cp);
    if (i == thaw_uc_lower_count) {
        out[0] = cp;
        return 1;
    }
    out[0] = thaw_uc_lower_to[2 * i];
    out[1] = thaw_uc_lower_to[2 * i + 1];
    return out[1] ? 2 : 1;
}

/* Hangul syllables decompose by arithmetic (Unicode 3.12). */
enum {
    HANGUL_S_BASE = 0xAC00, HANGUL_L_BASE = 0x1100, HANGUL_V_BASE = 0x1161,
    HANGUL_T_BASE = 0x11A7, HANGUL_V_COUNT = 21, HANGUL_T_COUNT = 28,
    HANGUL_S_COUNT = 11172,
};

size_t thaw_uc_nfd(uint32_t cp, uint32_t out[4])
{
    if (cp < 0xC0) {
        out[0] = cp;
        return 1;
    }
    if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
        uint32_t s = cp - HANGUL_S_BASE;
        uint32_t n_lv = HANGUL_V_COUNT * HANGUL_T_COUNT;
        out[0] = HANGUL_L_BASE + s / n_lv;
        out[1] = HANGUL_V_BASE + (s % n_lv) / HANGUL_T_COUNT;
        uint32_t t = s % HANGUL_T_COUNT;
        if (t == 0) return 2;
        out[2] = HANGUL_T_BASE + t;
        return 3;
    }
    size_t i = sorted_find(thaw_uc_nfd_from, thaw_uc_nfd_count, cp);
    if (i == thaw_uc_nfd_count) {
        out[0] = cp;
        return 1;
    }
    size_t n = 0;
    for (uint16_t k = thaw_uc_nfd_offset[i]; k < thaw_uc_nfd_offset[i + 1] && n < 4; k++)
        out[n++] = thaw_uc_nfd_pool[k];
    return n;
}

int thaw_uc_is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
