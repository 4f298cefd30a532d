/* BERT's BasicTokenizer (Hugging Face, do_lower_case=True): turns text into
 * words, each a span of normalized code points, ready for WordPiece.
 *   clean: drop U+0000, U+FFFD and category C* (tab, LF, CR aside); Zs, tab,
 *          LF, CR become a space
 *   CJK ideographs get spaces around them
 *   split on str.isspace(); per word: str.lower() (with final sigma), NFD,
 *   drop Mn (accents), split every punctuation character into its own word.
 * HF also applies NFC before splitting; NFC cannot change what NFD + Mn
 * stripping give afterwards (checked by make_wordpiece_golden.py), so it is
 * not done here. Invalid UTF-8 decodes to U+FFFD, which clean drops. */
#ifndef THAW_BERT_BASIC_H
#define THAW_BERT_BASIC_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"

typedef struct ThawSpan {
    size_t start, len;   /* into ThawBasicTokens.cps */
} ThawSpan;

/* Output plus scratch, reused across calls; zero-initialize, then
 * thaw_bert_basic_free once. */
typedef struct ThawBasicTokens {
    uint32_t *cps;
    size_t n_cps, cap_cps;
    ThawSpan *words;
    size_t n_words, cap_words;
    uint32_t *scratch_clean, *scratch_word;
    size_t cap_clean, cap_word;
} ThawBasicTokens;

/* Replaces out's words with those of text[0..len). Fails only on memory. */
int thaw_bert_basic_tokenize(const char *text, size_t len, ThawBasicTokens *out,
                             ThawError *err);
void thaw_bert_basic_free(ThawBasicTokens *t);

#endif
