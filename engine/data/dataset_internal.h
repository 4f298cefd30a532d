/* What the dataset files share (private to engine/data): the source that
 * views share, the view itself, and the helpers of the openers.
 *   dataset.c         source lifetime, shared helpers, item access
 *   dataset_idx.c     IDX pairs and Fashion-MNIST
 *   dataset_files.c   (path, label) lists and image checks for folder/CSV
 *   dataset_folder.c  root/<class>/<image> folders
 *   dataset_csv.c     CSV manifests
 *   dataset_split.c   per-class subsets and stratified splits (views) */
#ifndef THAW_DATA_DATASET_INTERNAL_H
#define THAW_DATA_DATASET_INTERNAL_H

#include <stdint.h>

#include "dataset.h"

/* The items as opened; every view of them holds a reference. */
typedef struct Source {
    int refs;
    int num_classes;
    char **class_names;
    int64_t count;
    int32_t *labels;
    /* IDX items */
    uint8_t *pixels;
    int h, w;
    /* file items */
    char **paths;
    /* open-time warnings */
    int64_t skipped;
    int nwarn;
    char **warnings;
} Source;

/* A view: count items of src, at index[i] (all of src in order when NULL). */
struct ThawDataset {
    Source *src;
    int64_t count;
    int64_t *index; /* NULL: identity */
};

/* ---- helpers (dataset.c) ------------------------------------------------ */

char *dataset_dupstr(const char *s);
/* a + "/" + b (no second slash when a ends with one); malloc'd. */
char *dataset_join_path(const char *a, const char *b);
/* Drops one reference; the last one frees the source. NULL is fine. */
void dataset_source_release(Source *s);
/* A view of the whole source; on failure s is released. */
int dataset_wrap_source(Source *s, ThawDataset **out, ThawError *err);
/* Classes named "0".."k-1"; -1 when out of memory. */
int dataset_set_numbered_classes(Source *s, int k);
/* qsort comparator for char * arrays. */
int dataset_cmp_str(const void *a, const void *b);

/* ---- file lists (dataset_files.c) --------------------------------------- */

typedef struct FileList {
    int64_t n, cap;
    char **paths;
    int32_t *labels;
} FileList;

/* Appends (path owned by the list); -1 when out of memory. */
int dataset_list_push(FileList *l, char *path, int32_t label);
void dataset_list_free(FileList *l);
/* Checks an image file; 0 = usable, 1 = corrupt (warning added),
 * <0 = hard error (err filled). where (the CSV line) names a missing file;
 * NULL for folders. */
int dataset_check_image(Source *s, const char *path, int verify,
                        const char *where, ThawError *err);
/* Moves the list's items into s and wraps s in a dataset. */
int dataset_finish_files(Source *s, FileList *l, ThawDataset **out,
                         ThawError *err);

#endif
