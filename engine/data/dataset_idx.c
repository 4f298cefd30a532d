/* Datasets from IDX pairs (images [N, H, W], labels [N]) and the
 * Fashion-MNIST files with their class names. */
#include "dataset_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/data/idx.h"

int thaw_dataset_open_idx(const char *images_path, const char *labels_path,
                          const char *const *class_names, int num_classes,
                          ThawDataset **out, ThawError *err)
{
    *out = NULL;
    ThawIdx im = {0}, lb = {0};
    int rc = thaw_idx_read(images_path, 3, &im, err);
    if (rc)
        return rc;
    rc = thaw_idx_read(labels_path, 1, &lb, err);
    if (rc) {
        thaw_idx_free(&im);
        return rc;
    }
    if (im.dims[0] != lb.dims[0]) {
        rc = thaw_fail(err, THAW_ERR_MISMATCH,
                       "%s: %lld labels, but %s has %lld images", labels_path,
                       (long long)lb.dims[0], images_path,
                       (long long)im.dims[0]);
        goto fail;
    }
    if (im.dims[1] > INT_MAX || im.dims[2] > INT_MAX) {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: image size too large",
                       images_path);
        goto fail;
    }
    int maxl = 0;
    for (int64_t i = 0; i < lb.dims[0]; i++)
        if (lb.data[i] > maxl)
            maxl = lb.data[i];
    if (num_classes > 0 && maxl >= num_classes) {
        int64_t bad = 0;
        while (lb.data[bad] < num_classes)
            bad++;
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: item %lld has label %d, outside 0..%d",
                       labels_path, (long long)bad, lb.data[bad],
                       num_classes - 1);
        goto fail;
    }
    Source *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->refs = 1;
    s->count = im.dims[0];
    s->h = (int)im.dims[1];
    s->w = (int)im.dims[2];
    s->pixels = im.data;
    im.data = NULL;
    s->labels = malloc((size_t)s->count * sizeof(int32_t));
    if (!s->labels) {
        dataset_source_release(s);
        goto nomem;
    }
    for (int64_t i = 0; i < s->count; i++)
        s->labels[i] = lb.data[i];
    int k = num_classes > 0 ? num_classes : maxl + 1;
    if (class_names) {
        s->class_names = calloc((size_t)k, sizeof(char *));
        if (!s->class_names) {
            dataset_source_release(s);
            goto nomem;
        }
        s->num_classes = k;
        for (int i = 0; i < k; i++)
            if (!(s->class_names[i] = dataset_dupstr(class_names[i]))) {
                dataset_source_release(s);
                goto nomem;
            }
    } else if (dataset_set_numbered_classes(s, k) != 0) {
        dataset_source_release(s);
        goto nomem;
    }
    thaw_idx_free(&im);
    thaw_idx_free(&lb);
    return dataset_wrap_source(s, out, err);
nomem:
    rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", images_path);
fail:
    thaw_idx_free(&im);
    thaw_idx_free(&lb);
    return rc;
}

static const char *const FASHION_CLASSES[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

int thaw_dataset_open_fashion_mnist(const char *dir, int train,
                                    ThawDataset **out, ThawError *err)
{
    const char *pre = train ? "train" : "t10k";
    char a[64], b[64];
    snprintf(a, sizeof a, "%s-images-idx3-ubyte.gz", pre);
    snprintf(b, sizeof b, "%s-labels-idx1-ubyte.gz", pre);
    char *ip = dataset_join_path(dir, a), *lp = dataset_join_path(dir, b);
    int rc;
    if (!ip || !lp)
        rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", dir);
    else
        rc = thaw_dataset_open_idx(ip, lp, FASHION_CLASSES, 10, out, err);
    free(ip);
    free(lp);
    return rc;
}
