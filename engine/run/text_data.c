/* The texts of a text run: source, subset and split, token ids, padded
 * batches (text_data.h). */
#include "text_data.h"

#include <stdlib.h>
#include <string.h>

int text_data_open_source(const RunConfig *c, ThawTextDataset **out, ThawError *err)
{
    const char *topics[RUN_MAX_TOPICS];
    switch (c->data_kind) {
    case DATA_FORTUNES:
        for (int k = 0; k < c->n_topics; k++) {
            topics[k] = c->topics[k];
        }
        return thaw_text_open_fortunes(c->data_path, topics, c->n_topics, out, err);
    case DATA_TEXT_JSONL:
        return thaw_text_open_jsonl(c->data_path, c->text_column, c->label_column,
                                    c->num_classes, out, err);
    default:
        return thaw_text_open_csv(c->data_path, 0, c->text_column, c->label_column,
                                  c->num_classes, out, err);
    }
}

int text_data_split(const RunConfig *c, const ThawTextDataset *source,
                    ThawTextDataset **subset, ThawTextDataset **train,
                    ThawTextDataset **val, ThawError *err)
{
    const ThawTextDataset *base = source;
    if (c->subset_per_class > 0) {
        int rc = thaw_text_subset_per_class(source, c->subset_per_class, c->data_seed, subset,
                                            err);
        if (rc != 0) {
            return rc;
        }
        base = *subset;
    }
    return thaw_text_split(base, c->val_fraction, c->data_seed, train, val, err);
}

static int tokens_alloc(TextTokens *out, int64_t n, size_t max, ThawError *err)
{
    out->n = n;
    out->start = malloc((size_t)(n + 1) * sizeof *out->start);
    out->ids = malloc((size_t)(n ? n : 1) * max * sizeof *out->ids);
    out->labels = calloc((size_t)(n ? n : 1), sizeof *out->labels);
    if (!out->start || !out->ids || !out->labels) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for %lld texts", (long long)n);
    }
    out->start[0] = 0;
    return 0;
}

/* Appends the ids of text as item i of out (items before it are in place). */
static int encode_one(const ThawWordPiece *wp, const char *text, size_t len, size_t max,
                      TextTokens *out, int64_t i, int64_t *truncated, double *tokens,
                      ThawError *err)
{
    ThawEncodeOptions cut = {.max_length = max}, probe = {.max_length = max + 1};
    ThawEncoding e = {0};
    /* a text over 1 MiB is read up to its first MiB: far more than
     * max_length tokens, and the tokenizer's time stays bounded */
    size_t scan = len > (1u << 20) ? (1u << 20) : len;
    int rc = thaw_wordpiece_encode(wp, text, scan, NULL, 0, &cut, &e, err);
    if (rc != 0) {
        return rc;
    }
    if (e.length == max && truncated) {   /* at the limit: was anything cut? */
        ThawEncoding f = {0};
        rc = thaw_wordpiece_encode(wp, text, scan, NULL, 0, &probe, &f, err);
        *truncated += rc == 0 && f.length > max;
        thaw_encoding_free(&f);
    }
    memcpy(out->ids + out->start[i], e.input_ids, e.length * sizeof *out->ids);
    out->start[i + 1] = out->start[i] + (int64_t)e.length;
    if (tokens) {
        *tokens += (double)e.length;
    }
    thaw_encoding_free(&e);
    return rc;
}

int text_data_tokenize(const ThawWordPiece *wp, const ThawTextDataset *ds, int max_length,
                       TextTokens *out, int64_t *truncated, double *tokens, ThawError *err)
{
    int64_t n = thaw_text_count(ds);
    int rc = tokens_alloc(out, n, (size_t)max_length, err);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        size_t len;
        const char *text = thaw_text_get(ds, i, &len);
        rc = encode_one(wp, text, len, (size_t)max_length, out, i, truncated, tokens, err);
        out->labels[i] = thaw_text_label(ds, i);
    }
    return rc;
}

int text_tokens_from_strings(const ThawWordPiece *wp, const char *const *texts, int64_t n,
                             int max_length, TextTokens *out, int64_t *truncated,
                             ThawError *err)
{
    int rc = tokens_alloc(out, n, (size_t)max_length, err);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        rc = encode_one(wp, texts[i], strlen(texts[i]), (size_t)max_length, out, i, truncated,
                        NULL, err);
    }
    return rc;
}

void text_tokens_free(TextTokens *t)
{
    free(t->start);
    free(t->ids);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

int text_tokens_fill_batch(const TextTokens *tok, const int64_t *items, int count, int32_t pad,
                           int32_t *ids, int32_t *mask, int32_t *labels)
{
    int seq = 1;
    for (int b = 0; b < count; b++) {
        int64_t len = tok->start[items[b] + 1] - tok->start[items[b]];
        seq = len > seq ? (int)len : seq;
    }
    for (int b = 0; b < count; b++) {
        int64_t s = tok->start[items[b]], len = tok->start[items[b] + 1] - s;
        for (int t = 0; t < seq; t++) {
            ids[b * seq + t] = t < len ? tok->ids[s + t] : pad;
            mask[b * seq + t] = t < len;
        }
        if (labels) {
            labels[b] = tok->labels[items[b]];
        }
    }
    return seq;
}
