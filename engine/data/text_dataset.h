/* Labelled texts for text classification runs: a CSV/TSV with a header row
 * (text and label columns, RFC 4180 quoting), JSON lines
 * ({"text": "...", "label": ...}) or the Debian `fortunes` package's topic
 * files (/usr/share/games/fortunes/<topic>, entries separated by lines
 * holding only "%"; the class is the topic).
 *
 * Labels are either all integers (classes 0..K-1, K = num_classes when > 0,
 * else max + 1) or all names (classes sorted by name, strcmp order). A
 * label out of range, a missing column or key, or a malformed line is an
 * error naming the file and line ("t.csv:7: label 5 out of range 0..1").
 *
 * Texts are trimmed of surrounding whitespace; an empty text is skipped and
 * counted. A text that is not valid UTF-8 is kept and counted: the
 * tokenizer reads each invalid sequence as U+FFFD, which BERT's cleaning
 * drops (Hugging Face's bytes.decode("utf-8", errors="replace")). Texts of
 * any length are kept; the tokenizer truncates them to max_length.
 *
 * Subsets and splits are views sharing the source (freed with the last
 * view); items keep the parent's order. Read-only once opened: threads may
 * read texts and labels concurrently. */
#ifndef THAW_DATA_TEXT_DATASET_H
#define THAW_DATA_TEXT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"

#define THAW_FORTUNES_DIR "/usr/share/games/fortunes"

typedef struct ThawTextDataset ThawTextDataset;

/* CSV (',') or TSV: sep 0 picks '\t' for a ".tsv" name, else ','. The first
 * row is the header; text_column / label_column name the columns (NULL:
 * "text" and "label"). Fields may be double-quoted ("" escapes a quote,
 * newlines allowed inside quotes). */
int thaw_text_open_csv(const char *path, char sep, const char *text_column,
                       const char *label_column, int num_classes,
                       ThawTextDataset **out, ThawError *err);

/* One JSON object per line with a string "text" and a "label" that is a
 * string or an integer (keys renamed by text_key / label_key, NULL: the
 * defaults); blank lines are ignored; other keys are ignored. */
int thaw_text_open_jsonl(const char *path, const char *text_key, const char *label_key,
                         int num_classes, ThawTextDataset **out, ThawError *err);

/* dir/<topic> for each topic (dir NULL: THAW_FORTUNES_DIR); class k is
 * topics[k]. A missing topic file or one with no entries is an error. */
int thaw_text_open_fortunes(const char *dir, const char *const *topics, int n_topics,
                            ThawTextDataset **out, ThawError *err);

void thaw_text_free(ThawTextDataset *ds);

int64_t thaw_text_count(const ThawTextDataset *ds);
int thaw_text_num_classes(const ThawTextDataset *ds);
const char *thaw_text_class_name(const ThawTextDataset *ds, int k);
/* Text of item i (NUL-terminated; *len, when non-NULL, its byte length). */
const char *thaw_text_get(const ThawTextDataset *ds, int64_t i, size_t *len);
int thaw_text_label(const ThawTextDataset *ds, int64_t i);
/* Index of item i in the source it was opened from. */
int64_t thaw_text_source_index(const ThawTextDataset *ds, int64_t i);
/* What opening found: empty texts skipped, texts kept that are not UTF-8. */
int64_t thaw_text_skipped_empty(const ThawTextDataset *ds);
int64_t thaw_text_invalid_utf8(const ThawTextDataset *ds);

/* A view with n_per_class items of each class (all of a class that has
 * fewer), chosen by seed. */
int thaw_text_subset_per_class(const ThawTextDataset *ds, int64_t n_per_class,
                               uint64_t seed, ThawTextDataset **out, ThawError *err);
/* Stratified split: in each class round(val_fraction * n) items chosen by
 * seed go to *val, the rest to *train. */
int thaw_text_split(const ThawTextDataset *ds, double val_fraction, uint64_t seed,
                    ThawTextDataset **train, ThawTextDataset **val, ThawError *err);

#endif
