#include "engine/text/bert_basic.h"

#include <stdlib.h>
#include <string.h>

#include "engine/text/unicode.h"
#include "engine/text/utf8.h"

#define GREEK_CAPITAL_SIGMA 0x3A3u
#define GREEK_SMALL_SIGMA 0x3C3u
#define GREEK_FINAL_SIGMA 0x3C2u

/* Grows *v to hold at least need elements of size elem. */
static int reserve(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / elem) return -1;
        cap2 *= 2;
    }
    void *p = realloc(*v, cap2 * elem);
    if (!p) return -1;
    *v = p;
    *cap = cap2;
    return 0;
}

static int reserve_u32(uint32_t **v, size_t *cap, size_t need)
{
    void *p = *v;
    int rc = reserve(&p, cap, need, sizeof **v);
    *v = p;
    return rc;
}

/* clean_text + _tokenize_chinese_chars into t->scratch_clean. */
static int clean_text(const char *text, size_t len, ThawBasicTokens *t, size_t *n_out)
{
    if (len > SIZE_MAX / 4 || reserve_u32(&t->scratch_clean, &t->cap_clean, 3 * len + 1))
        return -1;
    const unsigned char *s = (const unsigned char *)text;
    uint32_t *out = t->scratch_clean;
    size_t n = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        i += thaw_utf8_decode(s + i, len - i, &cp);
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') {
            out[n++] = ' ';
            continue;
        }
        if (cp == 0 || cp == THAW_UTF8_REPLACEMENT) continue;
        unsigned f = thaw_uc_flags(cp);
        if (f & THAW_UC_CONTROL) continue;
        if (f & THAW_UC_ZS) {
            out[n++] = ' ';
        } else if (thaw_uc_is_cjk(cp)) {
            out[n++] = ' ';
            out[n++] = cp;
            out[n++] = ' ';
        } else {
            out[n++] = cp;
        }
    }
    *n_out = n;
    return 0;
}

/* CPython's handle_capital_sigma: Σ is final when a cased letter precedes
 * it and none follows, case-ignorable characters skipped both ways. */
static int is_final_sigma(const uint32_t *w, size_t n, size_t i)
{
    unsigned f = 0;
    size_t j = i;
    int found = 0;
    while (j > 0) {
        f = thaw_uc_flags(w[--j]);
        if (!(f & THAW_UC_CASE_IGN)) {
            found = 1;
            break;
        }
    }
    if (!found || !(f & THAW_UC_CASED)) return 0;
    for (j = i + 1; j < n; j++) {
        f = thaw_uc_flags(w[j]);
        if (!(f & THAW_UC_CASE_IGN)) return !(f & THAW_UC_CASED);
    }
    return 1;
}

/* str.lower() of one word into t->scratch_word. */
static int lower_word(const uint32_t *w, size_t n, ThawBasicTokens *t, size_t *n_out)
{
    if (reserve_u32(&t->scratch_word, &t->cap_word, 2 * n)) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == GREEK_CAPITAL_SIGMA) {
            t->scratch_word[m++] = is_final_sigma(w, n, i) ? GREEK_FINAL_SIGMA : GREEK_SMALL_SIGMA;
            continue;
        }
        uint32_t low[2];
        size_t k = thaw_uc_lower(w[i], low);
        for (size_t q = 0; q < k; q++) t->scratch_word[m++] = low[q];
    }
    *n_out = m;
    return 0;
}

/* Canonical ordering: a stable sort by combining class of a run of
 * non-starters (counting sort, so a long hostile run stays linear). */
static int sort_run(uint32_t *run, size_t m)
{
    int sorted = 1;
    for (size_t i = 1; i < m && sorted; i++)
        sorted = thaw_uc_ccc(run[i - 1]) <= thaw_uc_ccc(run[i]);
    if (sorted) return 0;
    uint32_t *tmp = malloc(m * sizeof *tmp);
    if (!tmp) return -1;
    size_t start[257] = {0};
    for (size_t i = 0; i < m; i++) start[thaw_uc_ccc(run[i]) + 1]++;
    for (int c = 0; c < 256; c++) start[c + 1] += start[c];
    for (size_t i = 0; i < m; i++) tmp[start[thaw_uc_ccc(run[i])]++] = run[i];
    memcpy(run, tmp, m * sizeof *tmp);
    free(tmp);
    return 0;
}

/* Appends cp to the output, splitting punctuation into words of its own. */
static int emit(ThawBasicTokens *t, uint32_t cp, int *open)
{
    unsigned f = thaw_uc_flags(cp);
    if (f & THAW_UC_PYSPACE) {   /* cannot come out of lower/NFD; split anyway */
        *open = 0;
        return 0;
    }
    void *words = t->words;
    int rc = reserve(&words, &t->cap_words, t->n_words + 1, sizeof *t->words);
    t->words = words;
    if (rc) return -1;
    if ((f & THAW_UC_PUNCT) || !*open) {
        t->words[t->n_words++] = (ThawSpan){ .start = t->n_cps, .len = 0 };
        *open = !(f & THAW_UC_PUNCT);
    }
    t->words[t->n_words - 1].len++;
    t->cps[t->n_cps++] = cp;
    return 0;
}

/* NFD, accent stripping and punctuation split of one lowered word. */
static int decompose_word(const uint32_t *w, size_t n, ThawBasicTokens *t)
{
    if (n > SIZE_MAX / 8 || reserve_u32(&t->cps, &t->cap_cps, t->n_cps + 4 * n)) return -1;
    int open = 0;
    size_t run = SIZE_MAX;   /* output index where the current non-starter run began */
    for (size_t i = 0; i < n; i++) {
        uint32_t d[4];
        size_t k = thaw_uc_nfd(w[i], d);
        for (size_t q = 0; q < k; q++) {
            unsigned ccc = thaw_uc_ccc(d[q]);
            if (ccc == 0 && run != SIZE_MAX) {
                if (sort_run(t->cps + run, t->n_cps - run)) return -1;
                run = SIZE_MAX;
            }
            if (thaw_uc_flags(d[q]) & THAW_UC_MN) continue;
            if (ccc != 0 && run == SIZE_MAX) run = t->n_cps;
            if (emit(t, d[q], &open)) return -1;
        }
    }
    if (run != SIZE_MAX && sort_run(t->cps + run, t->n_cps - run)) return -1;
    return 0;
}

int thaw_bert_basic_tokenize(const char *text, size_t len, ThawBasicTokens *t, ThawError *err)
{
    t->n_cps = 0;
    t->n_words = 0;
    size_t n;
    if (clean_text(text, len, t, &n))
        return thaw_fail(err, THAW_ERR_NOMEM, "tokenizer: out of memory on a %zu-byte text", len);
    const uint32_t *c = t->scratch_clean;
    size_t i = 0;
    while (i < n) {
        while (i < n && (thaw_uc_flags(c[i]) & THAW_UC_PYSPACE)) i++;
        size_t start = i;
        while (i < n && !(thaw_uc_flags(c[i]) & THAW_UC_PYSPACE)) i++;
        if (i == start) break;
        size_t m;
        if (lower_word(c + start, i - start, t, &m) || decompose_word(t->scratch_word, m, t))
            return thaw_fail(err, THAW_ERR_NOMEM, "tokenizer: out of memory on a %zu-byte text", len);
    }
    return THAW_OK;
}

void thaw_bert_basic_free(ThawBasicTokens *t)
{
    free(t->cps);
    free(t->words);
    free(t->scratch_clean);
    free(t->scratch_word);
    memset(t, 0, sizeof *t);
}
