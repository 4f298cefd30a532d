/* Datasets: the shared source and its views' lifetime, the helpers the
 * openers share, and item access (labels, paths, decoding, transforms).
 * The openers and views are in dataset_idx.c, dataset_folder.c,
 * dataset_csv.c and dataset_split.c (see dataset_internal.h). */
#include "dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

char *dataset_dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *dataset_join_path(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    size_t k = na;
    if (na > 0 && a[na - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

void dataset_source_release(Source *s)
{
    if (!s || --s->refs > 0)
        return;
    for (int k = 0; k < s->num_classes && s->class_names; k++)
        free(s->class_names[k]);
    free(s->class_names);
    if (s->paths)
        for (int64_t i = 0; i < s->count; i++)
            free(s->paths[i]);
    free(s->paths);
    free(s->labels);
    free(s->pixels);
    for (int k = 0; k < s->nwarn; k++)
        free(s->warnings[k]);
    free(s->warnings);
    free(s);
}

int dataset_wrap_source(Source *s, ThawDataset **out, ThawError *err)
{
    ThawDataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        dataset_source_release(s);
        return thaw_fail(err, THAW_ERR_NOMEM, "dataset: out of memory");
    }
    ds->src = s;
    ds->count = s->count;
    *out = ds;
    return THAW_OK;
}

int dataset_set_numbered_classes(Source *s, int k)
{
    s->class_names = calloc((size_t)k, sizeof(char *));
    if (!s->class_names)
        return -1;
    s->num_classes = k;
    for (int i = 0; i < k; i++) {
        char b[24];
        snprintf(b, sizeof b, "%d", i);
        if (!(s->class_names[i] = dataset_dupstr(b)))
            return -1;
    }
    return 0;
}

int dataset_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- access ------------------------------------------------------------- */

void thaw_dataset_free(ThawDataset *ds)
{
    if (!ds)
        return;
    dataset_source_release(ds->src);
    free(ds->index);
    free(ds);
}

int64_t thaw_dataset_count(const ThawDataset *ds) { return ds->count; }
int thaw_dataset_num_classes(const ThawDataset *ds)
{
    return ds->src->num_classes;
}
const char *thaw_dataset_class_name(const ThawDataset *ds, int k)
{
    if (k < 0 || k >= ds->src->num_classes)
        return NULL;
    return ds->src->class_names[k];
}
int64_t thaw_dataset_source_index(const ThawDataset *ds, int64_t i)
{
    return ds->index ? ds->index[i] : i;
}
int thaw_dataset_label(const ThawDataset *ds, int64_t i)
{
    return ds->src->labels[thaw_dataset_source_index(ds, i)];
}
const char *thaw_dataset_path(const ThawDataset *ds, int64_t i)
{
    return ds->src->paths ? ds->src->paths[thaw_dataset_source_index(ds, i)]
                          : NULL;
}
int64_t thaw_dataset_skipped(const ThawDataset *ds) { return ds->src->skipped; }
int thaw_dataset_num_warnings(const ThawDataset *ds) { return ds->src->nwarn; }
const char *thaw_dataset_warning(const ThawDataset *ds, int k)
{
    return k >= 0 && k < ds->src->nwarn ? ds->src->warnings[k] : NULL;
}

int thaw_dataset_load_image(const ThawDataset *ds, int64_t i, ThawImage *out,
                            ThawError *err)
{
    if (i < 0 || i >= ds->count)
        return thaw_fail(err, THAW_ERR_ARG, "dataset: item %lld of %lld",
                         (long long)i, (long long)ds->count);
    const Source *s = ds->src;
    int64_t j = thaw_dataset_source_index(ds, i);
    if (s->paths)
        return thaw_image_load(s->paths[j], out, err);
    int rc = thaw_image_alloc(out, s->h, s->w, 1, err);
    if (rc == THAW_OK)
        memcpy(out->px, s->pixels + (size_t)j * (size_t)s->h * (size_t)s->w,
               (size_t)s->h * (size_t)s->w);
    return rc;
}

int thaw_dataset_load(const ThawDataset *ds, int64_t i, const ThawTransform *t,
                      uint64_t seed, float *dst, ThawError *err)
{
    ThawImage img;
    int rc = thaw_dataset_load_image(ds, i, &img, err);
    if (rc)
        return rc;
    rc = thaw_transform_apply(t, &img, seed, dst, err);
    thaw_image_free(&img);
    return rc;
}
