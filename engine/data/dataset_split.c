/* Dataset views: n items per class, and stratified train/validation
 * splits, both chosen per class by seed and keeping the parent's order. */
#include "dataset_internal.h"

#include <math.h>
#include <stdlib.h>

/* ---- views -------------------------------------------------------------- */

static int make_view(const ThawDataset *ds, const int64_t *pos, int64_t n,
                     ThawDataset **out, ThawError *err)
{
    ThawDataset *v = calloc(1, sizeof *v);
    int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!v || !idx) {
        free(v);
        free(idx);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset view: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = thaw_dataset_source_index(ds, pos[i]);
    v->src = ds->src;
    v->src->refs++;
    v->count = n;
    v->index = idx;
    *out = v;
    return THAW_OK;
}

/* Per class: positions of the class in parent order, Fisher-Yates shuffled
 * with a seed of (seed, class); take[k] of them are marked. mark[i] = 1 for
 * chosen items. */
static int choose_per_class(const ThawDataset *ds, uint64_t seed,
                            int64_t n_fixed, double frac, uint8_t *mark,
                            ThawError *err)
{
    int K = ds->src->num_classes;
    int64_t n = ds->count;
    int64_t *pos = malloc((size_t)(n > 0 ? n : 1) * sizeof *pos);
    int64_t *start = calloc((size_t)K + 1, sizeof *start);
    int64_t *fill = calloc((size_t)K + 1, sizeof *fill);
    if (!pos || !start || !fill) {
        free(pos);
        free(start);
        free(fill);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        start[thaw_dataset_label(ds, i) + 1]++;
    for (int k = 0; k < K; k++)
        start[k + 1] += start[k];
    for (int64_t i = 0; i < n; i++) {
        int k = thaw_dataset_label(ds, i);
        pos[start[k] + fill[k]++] = i;
    }
    for (int k = 0; k < K; k++) {
        int64_t *p = pos + start[k];
        int64_t m = start[k + 1] - start[k];
        ThawRng rng;
        thaw_rng_seed(&rng, thaw_seed_mix(seed, (uint64_t)k));
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = thaw_rng_below(&rng, i + 1);
            int64_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        int64_t take = n_fixed >= 0 ? (n_fixed < m ? n_fixed : m)
                                    : (int64_t)nearbyint(frac * (double)m);
        for (int64_t i = 0; i < take; i++)
            mark[p[i]] = 1;
    }
    free(pos);
    free(start);
    free(fill);
    return THAW_OK;
}

int thaw_dataset_subset_per_class(const ThawDataset *ds, int64_t n_per_class,
                                  uint64_t seed, ThawDataset **out,
                                  ThawError *err)
{
    *out = NULL;
    if (n_per_class < 0)
        return thaw_fail(err, THAW_ERR_ARG, "subset: %lld items per class",
                         (long long)n_per_class);
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n > 0 ? n : 1), 1);
    int64_t *pos = malloc((size_t)(n > 0 ? n : 1) * sizeof *pos);
    int rc = THAW_OK;
    if (!mark || !pos)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "subset: out of memory");
    if (rc == THAW_OK)
        rc = choose_per_class(ds, seed, n_per_class, 0.0, mark, err);
    if (rc == THAW_OK) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (mark[i])
                pos[m++] = i;
        rc = make_view(ds, pos, m, out, err);
    }
    free(mark);
    free(pos);
    return rc;
}

int thaw_dataset_split(const ThawDataset *ds, double val_fraction,
                       uint64_t seed, ThawDataset **train, ThawDataset **val,
                       ThawError *err)
{
    *train = *val = NULL;
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
        return thaw_fail(err, THAW_ERR_ARG,
                         "split: validation fraction %g outside [0, 1]",
                         val_fraction);
    int64_t n = ds->count;
    uint8_t *mark = calloc((size_t)(n > 0 ? n : 1), 1);
    int64_t *pt = malloc((size_t)(n > 0 ? n : 1) * sizeof *pt);
    int64_t *pv = malloc((size_t)(n > 0 ? n : 1) * sizeof *pv);
    int rc = THAW_OK;
    if (!mark || !pt || !pv)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "split: out of memory");
    if (rc == THAW_OK)
        rc = choose_per_class(ds, seed, -1, val_fraction, mark, err);
    if (rc == THAW_OK) {
        int64_t nt = 0, nv = 0;
        for (int64_t i = 0; i < n; i++) {
            if (mark[i])
                pv[nv++] = i;
            else
                pt[nt++] = i;
        }
        rc = make_view(ds, pt, nt, train, err);
        if (rc == THAW_OK) {
            rc = make_view(ds, pv, nv, val, err);
            if (rc) {
                thaw_dataset_free(*train);
                *train = NULL;
            }
        }
    }
    free(mark);
    free(pt);
    free(pv);
    return rc;
}
