/* WordPiece tokenizer matching Hugging Face's BertTokenizer with
 * do_lower_case=True (uncased BERT, all-MiniLM-L6-v2): BasicTokenizer
 * (bert_basic.h) then greedy longest-match WordPiece with "##"
 * continuations. Literal special tokens in the text ("[CLS]", "[SEP]",
 * "[PAD]", "[UNK]", "[MASK]", case-sensitive) map to their ids, as HF's
 * added-token split does.
 *
 * Input text is UTF-8 with an explicit length (NUL bytes are dropped like
 * any control character). Invalid UTF-8 is not an error: each invalid
 * sequence reads as U+FFFD, which BERT's cleaning drops, exactly what HF
 * gives for bytes.decode("utf-8", errors="replace").
 *
 * A loaded ThawWordPiece is read-only: threads may share it. About 7 MB/s
 * of English text on one core.
 *
 * Typical use:
 *   ThawWordPiece *wp;
 *   thaw_wordpiece_load(&wp, "vocab.txt", &err);
 *   ThawEncodeOptions o = { .max_length = 128, .pad_to = 128 };
 *   ThawEncoding e = {0};
 *   thaw_wordpiece_encode(wp, text, strlen(text), NULL, 0, &o, &e, &err);
 *   ... e.input_ids, e.token_type_ids, e.attention_mask, e.length ...
 *   thaw_encoding_free(&e); thaw_wordpiece_free(wp); */
#ifndef THAW_WORDPIECE_H
#define THAW_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"

/* Words longer than this many code points become [UNK] (HF's default). */
#define THAW_WORDPIECE_MAX_WORD_CHARS 100

typedef struct ThawWordPiece ThawWordPiece;

typedef struct ThawSpecialIds {
    int32_t pad, unk, cls, sep;
    int32_t mask;   /* -1 when the vocab has no [MASK] */
} ThawSpecialIds;

/* Loads vocab.txt: one token per line, id = 0-based line index, "\n" line
 * ends (a final newline is optional). Fails with THAW_ERR_FORMAT and the
 * file and line for: an empty file, an empty line, a "\r" line end,
 * invalid UTF-8, a duplicate token (both lines named), or a missing [UNK],
 * [CLS], [SEP] or [PAD]; THAW_ERR_IO when it cannot be read. */
int thaw_wordpiece_load(ThawWordPiece **out, const char *vocab_path, ThawError *err);

/* The same from a vocab already in memory; name is what errors call it. */
int thaw_wordpiece_load_memory(ThawWordPiece **out, const char *data, size_t len,
                               const char *name, ThawError *err);

void thaw_wordpiece_free(ThawWordPiece *wp);

size_t thaw_wordpiece_vocab_size(const ThawWordPiece *wp);
ThawSpecialIds thaw_wordpiece_special_ids(const ThawWordPiece *wp);
/* Id of an exact vocab entry, or -1. */
int32_t thaw_wordpiece_token_id(const ThawWordPiece *wp, const char *token, size_t len);
/* Vocab entry of id (NUL-terminated), or NULL when out of range. */
const char *thaw_wordpiece_token(const ThawWordPiece *wp, int32_t id);

/* A growable id list; zero-initialize, free with thaw_ids_free. */
typedef struct ThawIds {
    int32_t *ids;
    size_t n, cap;
} ThawIds;
void thaw_ids_free(ThawIds *ids);

/* Appends the ids of text (no [CLS]/[SEP], no truncation) to out: what
 * HF's tokenizer.encode(text, add_special_tokens=False) returns. */
int thaw_wordpiece_tokenize(const ThawWordPiece *wp, const char *text, size_t len,
                            ThawIds *out, ThawError *err);

typedef struct ThawEncodeOptions {
    size_t max_length;   /* 0: no truncation; else truncate to this many ids,
                            special tokens included (HF truncation=True,
                            longest_first for pairs, from the right) */
    size_t pad_to;       /* 0: no padding; else pad with [PAD] up to this
                            length (HF padding="max_length" when equal to
                            max_length); longer encodings are not cut */
} ThawEncodeOptions;

typedef struct ThawEncoding {
    int32_t *input_ids;       /* [CLS] a [SEP] (b [SEP]) [PAD]... */
    int32_t *token_type_ids;  /* 0 for [CLS] a [SEP], 1 for b [SEP], 0 for padding */
    int32_t *attention_mask;  /* 1 for real tokens, 0 for padding */
    size_t length;
} ThawEncoding;

/* Encodes a text (pair == NULL) or a pair like HF's tokenizer(a, b,
 * truncation=..., max_length=..., padding=...). opts may be NULL (no
 * truncation, no padding). out is overwritten (free it first if reused).
 * THAW_ERR_ARG when max_length is below the number of special tokens. */
int thaw_wordpiece_encode(const ThawWordPiece *wp, const char *text, size_t text_len,
                          const char *pair, size_t pair_len, const ThawEncodeOptions *opts,
                          ThawEncoding *out, ThawError *err);
void thaw_encoding_free(ThawEncoding *e);

#endif
