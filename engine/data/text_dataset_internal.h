/* What the text dataset readers (text_dataset_read.c) share with the core
 * (text_dataset.c): a builder that collects (text, label string, line)
 * items and resolves the labels into classes. Private to engine/data. */
#ifndef THAW_DATA_TEXT_DATASET_INTERNAL_H
#define THAW_DATA_TEXT_DATASET_INTERNAL_H

#include "text_dataset.h"

typedef struct TextBuilder {
    const char *path;          /* for messages */
    char **texts;
    size_t *lens;
    char **labels;             /* label text as read */
    int64_t *lines;            /* 1-based line of each item, for messages */
    int64_t n, cap;
    int64_t empty, invalid;    /* skipped empty texts, kept non-UTF-8 texts */
} TextBuilder;

/* Trims text, skips it (counted) when empty, counts invalid UTF-8, copies
 * both strings. */
int text_builder_add(TextBuilder *b, const char *text, size_t len, const char *label,
                     size_t label_len, int64_t line, ThawError *err);
/* Resolves the labels: with fixed (n_fixed > 0) each label must be one of
 * fixed[] and class k is fixed[k]; else integers or sorted names (module
 * header). Consumes the builder's items into *out (the builder is freed). */
int text_builder_finish(TextBuilder *b, int num_classes, const char *const *fixed,
                        int n_fixed, ThawTextDataset **out, ThawError *err);
void text_builder_free(TextBuilder *b);

/* Whole file into a NUL-terminated buffer (malloc'd). */
int text_read_file(const char *path, char **data, size_t *len, ThawError *err);

#endif
