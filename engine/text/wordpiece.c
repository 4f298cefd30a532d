/* WordPiece over BasicTokenizer words, special-token splitting, and the
 * [CLS]/[SEP] encoding with truncation and padding. A ThawWordPiece is
 * read-only after loading, so threads may tokenize with it concurrently. */
#include "engine/text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include "engine/text/bert_basic.h"
#include "engine/text/utf8.h"
#include "engine/text/vocab_internal.h"

void thaw_ids_free(ThawIds *ids)
{
    free(ids->ids);
    memset(ids, 0, sizeof *ids);
}

static int push_id(ThawIds *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap2 = ids->cap ? ids->cap * 2 : 64;
        int32_t *p = realloc(ids->ids, cap2 * sizeof *p);
        if (!p) return -1;
        ids->ids = p;
        ids->cap = cap2;
    }
    ids->ids[ids->n++] = id;
    return 0;
}

/* Greedy longest-match-first over one word; the whole word becomes [UNK]
 * when it is too long or some position matches no piece. */
static int wordpiece_word(const ThawWordPiece *wp, const uint32_t *cps, size_t n, ThawIds *out)
{
    if (n > THAW_WORDPIECE_MAX_WORD_CHARS) return push_id(out, wp->special.unk);
    char buf[4 * THAW_WORDPIECE_MAX_WORD_CHARS];
    size_t off[THAW_WORDPIECE_MAX_WORD_CHARS + 1];
    off[0] = 0;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + thaw_utf8_encode(cps[i], buf + off[i]);
    size_t first = out->n;
    for (size_t start = 0; start < n;) {
        /* No vocab entry is longer than max_piece_cps, so longer candidates cannot match. */
        size_t end = n - start > wp->max_piece_cps ? start + wp->max_piece_cps : n;
        int32_t id = -1;
        for (; end > start; end--) {
            id = thaw_vocab_find(wp, "##", start > 0 ? 2 : 0, buf + off[start], off[end] - off[start]);
            if (id >= 0) break;
        }
        if (id < 0) {
            out->n = first;
            return push_id(out, wp->special.unk);
        }
        if (push_id(out, id)) return -1;
        start = end;
    }
    return 0;
}

static int tokenize_plain(const ThawWordPiece *wp, const char *text, size_t len,
                          ThawBasicTokens *basic, ThawIds *out, ThawError *err)
{
    int rc = thaw_bert_basic_tokenize(text, len, basic, err);
    if (rc) return rc;
    for (size_t w = 0; w < basic->n_words; w++) {
        const ThawSpan *s = &basic->words[w];
        if (wordpiece_word(wp, basic->cps + s->start, s->len, out))
            return thaw_fail(err, THAW_ERR_NOMEM, "tokenizer: out of memory");
    }
    return THAW_OK;
}

static const char *const SPECIAL_TOKENS[] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };

/* Id of the special token text starts with, or -1 (and *match_len = 0). */
static int32_t special_at(const ThawWordPiece *wp, const char *text, size_t len, size_t *match_len)
{
    *match_len = 0;
    for (size_t k = 0; k < sizeof SPECIAL_TOKENS / sizeof *SPECIAL_TOKENS; k++) {
        size_t n = strlen(SPECIAL_TOKENS[k]);
        if (n <= len && memcmp(text, SPECIAL_TOKENS[k], n) == 0) {
            *match_len = n;
            int32_t id = thaw_vocab_find(wp, "", 0, SPECIAL_TOKENS[k], n);
            return id >= 0 ? id : wp->special.unk;   /* HF maps a missing one to [UNK] */
        }
    }
    return -1;
}

int thaw_wordpiece_tokenize(const ThawWordPiece *wp, const char *text, size_t len,
                            ThawIds *out, ThawError *err)
{
    if (!text && len) return thaw_fail(err, THAW_ERR_ARG, "tokenizer: NULL text");
    if (!text) text = "";
    ThawBasicTokens basic = {0};
    int rc = THAW_OK;
    size_t chunk = 0;
    for (size_t i = 0; i < len && rc == THAW_OK;) {
        size_t n;
        int32_t id = text[i] == '[' ? special_at(wp, text + i, len - i, &n) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        rc = tokenize_plain(wp, text + chunk, i - chunk, &basic, out, err);
        if (rc == THAW_OK && push_id(out, id))
            rc = thaw_fail(err, THAW_ERR_NOMEM, "tokenizer: out of memory");
        i += n;
        chunk = i;
    }
    if (rc == THAW_OK) rc = tokenize_plain(wp, text + chunk, len - chunk, &basic, out, err);
    thaw_bert_basic_free(&basic);
    return rc;
}

void thaw_encoding_free(ThawEncoding *e)
{
    free(e->input_ids);
    free(e->token_type_ids);
    free(e->attention_mask);
    memset(e, 0, sizeof *e);
}

/* HF's longest_first for pairs: trim the longer side down to the shorter,
 * then both alternately, the second side losing the odd one. */
static void truncate_pair(size_t *na, size_t *nb, size_t remove)
{
    size_t diff = *na > *nb ? *na - *nb : *nb - *na;
    size_t first = diff < remove ? diff : remove;
    size_t second = remove - first;
    if (*na > *nb) {
        *na -= first + second / 2;
        *nb -= second - second / 2;
    } else {
        *na -= second / 2;
        *nb -= first + second - second / 2;
    }
}

static void put(ThawEncoding *e, size_t *at, int32_t id, int32_t type)
{
    e->input_ids[*at] = id;
    e->token_type_ids[*at] = type;
    e->attention_mask[*at] = 1;
    (*at)++;
}

int thaw_wordpiece_encode(const ThawWordPiece *wp, const char *text, size_t text_len,
                          const char *pair, size_t pair_len, const ThawEncodeOptions *opts,
                          ThawEncoding *out, ThawError *err)
{
    memset(out, 0, sizeof *out);
    ThawEncodeOptions o = opts ? *opts : (ThawEncodeOptions){0};
    size_t specials = pair ? 3 : 2;
    if (o.max_length && o.max_length < specials)
        return thaw_fail(err, THAW_ERR_ARG,
                         "tokenizer: max_length %zu leaves no room for the %zu special tokens",
                         o.max_length, specials);
    ThawIds a = {0}, b = {0};
    int rc = thaw_wordpiece_tokenize(wp, text, text_len, &a, err);
    if (rc == THAW_OK && pair) rc = thaw_wordpiece_tokenize(wp, pair, pair_len, &b, err);
    if (rc == THAW_OK) {
        size_t na = a.n, nb = b.n;
        if (o.max_length && na + nb + specials > o.max_length) {
            size_t remove = na + nb + specials - o.max_length;
            if (pair) truncate_pair(&na, &nb, remove);
            else na -= remove;
        }
        size_t length = na + nb + specials;
        size_t total = length > o.pad_to ? length : o.pad_to;
        out->input_ids = calloc(total, sizeof *out->input_ids);
        out->token_type_ids = calloc(total, sizeof *out->token_type_ids);
        out->attention_mask = calloc(total, sizeof *out->attention_mask);
        if (!out->input_ids || !out->token_type_ids || !out->attention_mask) {
            thaw_encoding_free(out);
            rc = thaw_fail(err, THAW_ERR_NOMEM, "tokenizer: out of memory for %zu ids", total);
        } else {
            size_t at = 0;
            put(out, &at, wp->special.cls, 0);
            for (size_t i = 0; i < na; i++) put(out, &at, a.ids[i], 0);
            put(out, &at, wp->special.sep, 0);
            if (pair) {
                for (size_t i = 0; i < nb; i++) put(out, &at, b.ids[i], 1);
                put(out, &at, wp->special.sep, 1);
            }
            for (; at < total; at++) out->input_ids[at] = wp->special.pad;   /* type 0, mask 0 */
            out->length = total;
        }
    }
    thaw_ids_free(&a);
    thaw_ids_free(&b);
    return rc;
}
