#include "engine/text/utf8.h"

size_t thaw_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t value;
    unsigned char lo = 0x80, hi = 0xBF;   /* allowed range of the 2nd byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1; value = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2; value = b0 & 0x0Fu;
        if (b0 == 0xE0) lo = 0xA0;         /* overlong */
        if (b0 == 0xED) hi = 0x9F;         /* surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3; value = b0 & 0x07u;
        if (b0 == 0xF0) lo = 0x90;         /* overlong */
        if (b0 == 0xF4) hi = 0x8F;         /* above U+10FFFF */
    } else {
        *cp = THAW_UTF8_REPLACEMENT;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len) break;
        unsigned char b = s[i];
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
        if (b < min || b > max) break;
        value = (value << 6) | (b & 0x3Fu);
    }
    if (i <= need) {             /* truncated or bad continuation */
        *cp = THAW_UTF8_REPLACEMENT;
        return i;
    }
    *cp = value;
    return need + 1;
}

int thaw_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = thaw_utf8_decode(p + i, len - i, &cp);
        /* A genuine U+FFFD is 3 bytes (EF BF BD); a replacement for bad input is shorter or differs. */
        if (cp == THAW_UTF8_REPLACEMENT &&
            !(n == 3 && p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD))
            return 0;
        i += n;
    }
    return 1;
}

size_t thaw_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
