/* Text datasets: the shared source (texts, labels, classes), the builder
 * the readers fill, and the views (subset per class, stratified split). */
#include "text_dataset_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/transforms.h"
#include "engine/text/utf8.h"

typedef struct TextSource {
    int refs;
    int64_t count;
    char **texts;
    size_t *lens;
    int32_t *labels;
    int num_classes;
    char **class_names;
    int64_t empty, invalid;
} TextSource;

struct ThawTextDataset {
    TextSource *src;
    int64_t count;
    int64_t *index;            /* NULL: identity */
};

static void source_release(TextSource *s)
{
    if (!s || --s->refs > 0) {
        return;
    }
    for (int64_t i = 0; i < s->count; i++) {
        free(s->texts[i]);
    }
    for (int k = 0; k < s->num_classes && s->class_names; k++) {
        free(s->class_names[k]);
    }
    free(s->texts);
    free(s->lens);
    free(s->labels);
    free(s->class_names);
    free(s);
}

void thaw_text_free(ThawTextDataset *ds)
{
    if (ds) {
        source_release(ds->src);
        free(ds->index);
        free(ds);
    }
}

static int64_t src_index(const ThawTextDataset *ds, int64_t i)
{
    return ds->index ? ds->index[i] : i;
}

int64_t thaw_text_count(const ThawTextDataset *ds) { return ds->count; }
int thaw_text_num_classes(const ThawTextDataset *ds) { return ds->src->num_classes; }
int64_t thaw_text_skipped_empty(const ThawTextDataset *ds) { return ds->src->empty; }
int64_t thaw_text_invalid_utf8(const ThawTextDataset *ds) { return ds->src->invalid; }
int64_t thaw_text_source_index(const ThawTextDataset *ds, int64_t i) { return src_index(ds, i); }

const char *thaw_text_class_name(const ThawTextDataset *ds, int k)
{
    return k >= 0 && k < ds->src->num_classes ? ds->src->class_names[k] : NULL;
}

const char *thaw_text_get(const ThawTextDataset *ds, int64_t i, size_t *len)
{
    int64_t s = src_index(ds, i);
    if (len) {
        *len = ds->src->lens[s];
    }
    return ds->src->texts[s];
}

int thaw_text_label(const ThawTextDataset *ds, int64_t i)
{
    return ds->src->labels[src_index(ds, i)];
}

/* ---- reading helpers ---- */

int text_read_file(const char *path, char **data, size_t *len, ThawError *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) {
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    if (bad) {
        free(buf);
        return thaw_fail(err, THAW_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* ---- builder ---- */

static char *copy_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int text_builder_add(TextBuilder *b, const char *text, size_t len, const char *label,
                     size_t label_len, int64_t line, ThawError *err)
{
    while (len > 0 && isspace((unsigned char)text[0])) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    if (len == 0) {
        b->empty++;
        return 0;
    }
    b->invalid += !thaw_utf8_valid(text, len);
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 256;
        char **t = realloc(b->texts, (size_t)cap * sizeof *t);
        b->texts = t ? t : b->texts;
        size_t *l = t ? realloc(b->lens, (size_t)cap * sizeof *l) : NULL;
        b->lens = l ? l : b->lens;
        char **lb = l ? realloc(b->labels, (size_t)cap * sizeof *lb) : NULL;
        b->labels = lb ? lb : b->labels;
        int64_t *ln = lb ? realloc(b->lines, (size_t)cap * sizeof *ln) : NULL;
        b->lines = ln ? ln : b->lines;
        if (!ln) {
            return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
        }
        b->cap = cap;
    }
    char *t = copy_bytes(text, len), *l = copy_bytes(label, label_len);
    if (!t || !l) {
        free(t);
        free(l);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
    }
    b->texts[b->n] = t;
    b->lens[b->n] = len;
    b->labels[b->n] = l;
    b->lines[b->n] = line;
    b->n++;
    return 0;
}

void text_builder_free(TextBuilder *b)
{
    for (int64_t i = 0; i < b->n; i++) {
        free(b->texts ? b->texts[i] : NULL);
        free(b->labels[i]);
    }
    free(b->texts);
    free(b->lens);
    free(b->labels);
    free(b->lines);
    memset(b, 0, sizeof *b);
}

/* 1 and *v when s is a decimal integer (optional sign, surrounding blanks). */
static int parse_int(const char *s, long long *v)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || errno) {
        return 0;
    }
    while (*end && isspace((unsigned char)*end)) {
        end++;
    }
    if (*end) {
        return 0;
    }
    *v = x;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Classes from the labels: fixed names, all integers, or sorted names. */
static int resolve_labels(TextBuilder *b, TextSource *s, int num_classes,
                          const char *const *fixed, int n_fixed, ThawError *err)
{
    int all_int = n_fixed == 0 && b->n > 0;
    long long maxv = -1;
    for (int64_t i = 0; i < b->n && all_int; i++) {
        long long v;
        all_int = parse_int(b->labels[i], &v);
        maxv = all_int && v > maxv ? v : maxv;
    }
    int k = 0;
    const char **names = NULL;
    if (n_fixed > 0) {
        k = n_fixed;
    } else if (all_int) {
        /* a huge integer label must not allocate a class table: cap it, then the
         * range check below names the line */
        k = num_classes > 0 ? num_classes : (int)(maxv + 1 > 100000 ? 100000 : maxv + 1);
    } else {
        /* distinct names, sorted */
        names = malloc((size_t)(b->n ? b->n : 1) * sizeof *names);
        if (!names) {
            return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
        }
        for (int64_t i = 0; i < b->n; i++) {
            names[i] = b->labels[i];
        }
        qsort(names, (size_t)b->n, sizeof *names, cmp_str);
        for (int64_t i = 0; i < b->n; i++) {
            if (k == 0 || strcmp(names[k - 1], names[i]) != 0) {
                names[k++] = names[i];
            }
        }
        if (num_classes > 0 && k != num_classes) {
            free(names);
            return thaw_fail(err, THAW_ERR_ARG, "%s: %d distinct label names, but "
                             "num_classes is %d", b->path, k, num_classes);
        }
        fixed = names;
    }
    s->class_names = calloc((size_t)(k ? k : 1), sizeof *s->class_names);
    s->labels = malloc((size_t)(b->n ? b->n : 1) * sizeof *s->labels);
    int rc = s->class_names && s->labels ? 0
             : thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
    for (int c = 0; c < k && rc == 0; c++) {
        char num[24];
        snprintf(num, sizeof num, "%d", c);
        const char *name = all_int ? num : fixed[c];
        s->class_names[c] = copy_bytes(name, strlen(name));
        s->num_classes = c + 1;
        rc = s->class_names[c] ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
    }
    for (int64_t i = 0; i < b->n && rc == 0; i++) {
        long long v = -1;
        if (all_int) {
            parse_int(b->labels[i], &v);
            if (v < 0 || v >= k) {
                rc = thaw_fail(err, THAW_ERR_ARG, "%s:%lld: label %lld out of range 0..%d",
                               b->path, (long long)b->lines[i], v, k - 1);
            }
        } else {
            /* sorted names: binary search; fixed classes keep their order */
            const char *const *hit = NULL;
            if (n_fixed == 0) {
                hit = bsearch(&b->labels[i], fixed, (size_t)k, sizeof *fixed, cmp_str);
            }
            for (int c = 0; n_fixed > 0 && c < k && !hit; c++) {
                hit = strcmp(fixed[c], b->labels[i]) == 0 ? &fixed[c] : NULL;
            }
            v = hit ? hit - fixed : -1;
            if (!hit) {
                rc = thaw_fail(err, THAW_ERR_ARG, "%s:%lld: label '%s' is not a class",
                               b->path, (long long)b->lines[i], b->labels[i]);
            }
        }
        s->labels[i] = (int32_t)v;
    }
    free(names);
    return rc;
}

int text_builder_finish(TextBuilder *b, int num_classes, const char *const *fixed,
                        int n_fixed, ThawTextDataset **out, ThawError *err)
{
    *out = NULL;
    if (b->n == 0) {
        int rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: no texts (%lld empty skipped)", b->path,
                           (long long)b->empty);
        text_builder_free(b);
        return rc;
    }
    TextSource *s = calloc(1, sizeof *s);
    ThawTextDataset *ds = calloc(1, sizeof *ds);
    int rc = s && ds ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", b->path);
    if (rc == 0) {
        s->refs = 1;
        rc = resolve_labels(b, s, num_classes, fixed, n_fixed, err);
    }
    if (rc != 0) {
        source_release(s);
        free(ds);
        text_builder_free(b);
        return rc;
    }
    s->count = b->n;
    s->texts = b->texts;
    s->lens = b->lens;
    s->empty = b->empty;
    s->invalid = b->invalid;
    b->texts = NULL;
    b->lens = NULL;
    b->n = 0;   /* the texts now belong to s; free the label strings */
    for (int64_t i = 0; i < s->count; i++) {
        free(b->labels[i]);
    }
    text_builder_free(b);
    ds->src = s;
    ds->count = s->count;
    *out = ds;
    return 0;
}

/* ---- views ---- */

static int make_view(const ThawTextDataset *ds, const int64_t *pos, int64_t n,
                     ThawTextDataset **out, ThawError *err)
{
    ThawTextDataset *v = calloc(1, sizeof *v);
    int64_t *index = malloc((size_t)(n ? n : 1) * sizeof *index);
    if (!v || !index) {
        free(v);
        free(index);
        return thaw_fail(err, THAW_ERR_NOMEM, "text dataset: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        index[i] = src_index(ds, pos[i]);
    }
    v->src = ds->src;
    v->src->refs++;
    v->count = n;
    v->index = index;
    *out = v;
    return 0;
}

/* Marks, per class, a seeded choice of n_fixed items (n_fixed >= 0) or of
 * round(frac * n) items: a Fisher-Yates shuffle of the class's positions. */
static int choose_per_class(const ThawTextDataset *ds, uint64_t seed, int64_t n_fixed,
                            double frac, uint8_t *mark, ThawError *err)
{
    int k = ds->src->num_classes;
    int64_t n = ds->count;
    int64_t *pos = malloc((size_t)(n ? n : 1) * sizeof *pos);
    if (!pos) {
        return thaw_fail(err, THAW_ERR_NOMEM, "text dataset: out of memory");
    }
    for (int c = 0; c < k; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            if (thaw_text_label(ds, i) == c) {
                pos[m++] = i;
            }
        }
        ThawRng rng;
        thaw_rng_seed(&rng, thaw_seed_mix(seed, (uint64_t)c));
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = thaw_rng_below(&rng, i + 1);
            int64_t t = pos[i];
            pos[i] = pos[j];
            pos[j] = t;
        }
        int64_t take = n_fixed >= 0 ? (n_fixed < m ? n_fixed : m)
                                    : (int64_t)nearbyint(frac * (double)m);
        for (int64_t i = 0; i < take; i++) {
            mark[pos[i]] = 1;
        }
    }
    free(pos);
    return 0;
}

int thaw_text_subset_per_class(const ThawTextDataset *ds, int64_t n_per_class,
                               uint64_t seed, ThawTextDataset **out, ThawError *err)
{
    *out = NULL;
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n ? n : 1), 1);
    int64_t *pos = malloc((size_t)(n ? n : 1) * sizeof *pos);
    int rc = mark && pos ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "text dataset: out of memory");
    rc = rc ? rc : choose_per_class(ds, seed, n_per_class < 0 ? 0 : n_per_class, 0, mark, err);
    if (rc == 0) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            if (mark[i]) {
                pos[m++] = i;
            }
        }
        rc = make_view(ds, pos, m, out, err);
    }
    free(mark);
    free(pos);
    return rc;
}

int thaw_text_split(const ThawTextDataset *ds, double val_fraction, uint64_t seed,
                    ThawTextDataset **train, ThawTextDataset **val, ThawError *err)
{
    *train = *val = NULL;
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0)) {
        return thaw_fail(err, THAW_ERR_ARG, "split: validation fraction %g outside [0, 1]",
                         val_fraction);
    }
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n ? n : 1), 1);
    int64_t *pt = malloc((size_t)(n ? n : 1) * sizeof *pt);
    int64_t *pv = malloc((size_t)(n ? n : 1) * sizeof *pv);
    int rc = mark && pt && pv ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "text dataset: out of memory");
    rc = rc ? rc : choose_per_class(ds, seed, -1, val_fraction, mark, err);
    if (rc == 0) {
        int64_t nt = 0, nv = 0;
        for (int64_t i = 0; i < n; i++) {
            if (mark[i]) {
                pv[nv++] = i;
            } else {
                pt[nt++] = i;
            }
        }
        rc = make_view(ds, pt, nt, train, err);
        rc = rc ? rc : make_view(ds, pv, nv, val, err);
        if (rc != 0) {
            thaw_text_free(*train);
            *train = NULL;
        }
    }
    free(mark);
    free(pt);
    free(pv);
    return rc;
}
