/* Datasets for training runs: a list of items (an image and a class label)
 * from an IDX pair (Fashion-MNIST), an image folder (root/<class>/<name>.jpg,
 * .png or .bmp; classes sorted by name like torchvision's ImageFolder) or a CSV
 * manifest (path,label). Subsets and splits are views that share the
 * source (freed with the last view).
 *
 * Thread safety: after opening, thaw_dataset_label / _load / _load_image may
 * be called from several threads at once (the loader's workers do). Creating
 * and freeing views is not thread-safe. */
#ifndef THAW_DATA_DATASET_H
#define THAW_DATA_DATASET_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/data/image.h"
#include "engine/data/transforms.h"

typedef struct ThawDataset ThawDataset;

/* How much of each image file is checked when a folder or CSV is opened.
 * Corrupt files are skipped with a warning naming the file and counted. */
enum {
    THAW_VERIFY_HEADER = 0, /* header only (fast; truncation shows at load) */
    THAW_VERIFY_DECODE = 1, /* full decode of every image */
};

/* IDX pair: images [N, H, W] uint8, labels [N] uint8. Counts must match.
 * class_names may be NULL (classes named "0".."K-1", K = max label + 1). */
int thaw_dataset_open_idx(const char *images_path, const char *labels_path,
                          const char *const *class_names, int num_classes,
                          ThawDataset **out, ThawError *err);

/* Fashion-MNIST from dir (e.g. /usr/share/datasets/fashion-mnist): the
 * train (60000) or t10k (10000) pair, with the 10 class names. */
int thaw_dataset_open_fashion_mnist(const char *dir, int train,
                                    ThawDataset **out, ThawError *err);

/* root/<class>/<image>; hidden entries and files of other extensions are
 * ignored; a class folder with no readable image is an error. */
int thaw_dataset_open_folder(const char *root, int verify, ThawDataset **out,
                             ThawError *err);

/* CSV manifest: one "path,label" line per item, paths relative to the CSV's
 * folder (or absolute); an optional first line whose first field is "path"
 * (any case) is a header. Fields may be double-quoted ("" escapes a quote).
 * Labels are either all integers (classes 0..K-1, K = num_classes when > 0,
 * else max + 1; out of range is an error) or all names (classes sorted by
 * name). A missing file is an error naming the CSV line; a corrupt image is
 * skipped with a warning. */
int thaw_dataset_open_csv(const char *csv_path, int num_classes, int verify,
                          ThawDataset **out, ThawError *err);

void thaw_dataset_free(ThawDataset *ds);

int64_t thaw_dataset_count(const ThawDataset *ds);
int thaw_dataset_num_classes(const ThawDataset *ds);
const char *thaw_dataset_class_name(const ThawDataset *ds, int k);
int thaw_dataset_label(const ThawDataset *ds, int64_t i);
/* Index of item i in the source it was opened from (stable across views). */
int64_t thaw_dataset_source_index(const ThawDataset *ds, int64_t i);
/* File of item i, or NULL for IDX items. */
const char *thaw_dataset_path(const ThawDataset *ds, int64_t i);

/* Files skipped when opening (corrupt/truncated) and their warning lines. */
int64_t thaw_dataset_skipped(const ThawDataset *ds);
int thaw_dataset_num_warnings(const ThawDataset *ds);
const char *thaw_dataset_warning(const ThawDataset *ds, int k);

/* Decoded item i (uint8 HWC, 1 or 3 channels). */
int thaw_dataset_load_image(const ThawDataset *ds, int64_t i, ThawImage *out,
                            ThawError *err);
/* Item i through transform t into dst [3, t->out_h, t->out_w]; seed drives
 * the random steps. */
int thaw_dataset_load(const ThawDataset *ds, int64_t i, const ThawTransform *t,
                      uint64_t seed, float *dst, ThawError *err);

/* A view with n_per_class items of each class (all of a class that has
 * fewer), chosen by seed; items keep the parent's order. */
int thaw_dataset_subset_per_class(const ThawDataset *ds, int64_t n_per_class,
                                  uint64_t seed, ThawDataset **out,
                                  ThawError *err);
/* Stratified split: in each class, round(val_fraction * n) items chosen by
 * seed go to *val, the rest to *train; both keep the parent's order. */
int thaw_dataset_split(const ThawDataset *ds, double val_fraction,
                       uint64_t seed, ThawDataset **train, ThawDataset **val,
                       ThawError *err);

#endif
