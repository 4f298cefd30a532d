/* The texts of a text run, shared by the text job (training) and thaw eval
 * (text_evaluate.h), so both see the same items in the same order: the
 * source per dataset.type, the seeded subset and stratified
 * train/validation split, each text's token ids encoded once, and batches
 * padded to their longest text. */
#ifndef THAW_RUN_TEXT_DATA_H
#define THAW_RUN_TEXT_DATA_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/data/text_dataset.h"
#include "engine/run/run_config.h"
#include "engine/text/wordpiece.h"

/* Token ids of a set of texts, each encoded once ([CLS] ... [SEP], at most
 * max_length ids, no padding). Zero-initialise; text_tokens_free. */
typedef struct {
    int64_t n;
    int64_t *start;            /* n + 1 offsets into ids */
    int32_t *ids;
    int32_t *labels;
} TextTokens;

/* The run's dataset (dataset.type, dataset.path, topics, columns). */
int text_data_open_source(const RunConfig *c, ThawTextDataset **out, ThawError *err);

/* The run's subset (dataset.subset_per_class; *subset stays NULL at 0) and
 * its stratified split by dataset.val_fraction and dataset.seed. All three
 * are views of source; free them before it. */
int text_data_split(const RunConfig *c, const ThawTextDataset *source,
                    ThawTextDataset **subset, ThawTextDataset **train,
                    ThawTextDataset **val, ThawError *err);

/* Encodes every text of ds, cut to max_length ids; labels are the
 * dataset's. Adds the texts cut short to *truncated and the ids to
 * *tokens (either may be NULL). */
int text_data_tokenize(const ThawWordPiece *wp, const ThawTextDataset *ds, int max_length,
                       TextTokens *out, int64_t *truncated, double *tokens, ThawError *err);
/* The same for NUL-terminated texts (labels 0), e.g. typed by a user. */
int text_tokens_from_strings(const ThawWordPiece *wp, const char *const *texts, int64_t n,
                             int max_length, TextTokens *out, int64_t *truncated,
                             ThawError *err);
void text_tokens_free(TextTokens *t);

/* ids/mask [count, seq] of tok's items, padded with pad to the longest
 * (seq, returned, at least 1), and their labels (labels may be NULL). */
int text_tokens_fill_batch(const TextTokens *tok, const int64_t *items, int count, int32_t pad,
                           int32_t *ids, int32_t *mask, int32_t *labels);

#endif
