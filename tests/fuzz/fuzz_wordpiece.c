/* libFuzzer harness for the WordPiece tokenizer (engine/text/), which reads
 * whatever text a user pastes or a CSV holds: bytes that are not UTF-8,
 * NULs, control characters, long words, literal special tokens. The first
 * byte picks the case:
 *   even: the rest is text, split at its middle into a pair, tokenized
 *         with a small fixed vocab and encoded with truncation and padding
 *         set from the first byte; every id must be a vocab id, the layout
 *         [CLS] a [SEP] (b [SEP]) [PAD]... must hold, and without
 *         truncation the length must be what tokenizing gave;
 *   odd:  the rest is a vocab.txt; a rejected one must give one line
 *         naming the file, an accepted one must tokenize a fixed text into
 *         its own ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/wordpiece.h"

#define VOCAB_NAME "fuzz-vocab.txt"

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nca\n##t\n##ts\nsat\non\nmat\n.\n,\n!\n"
    "un\n##aff\n##able\nrun\n##ning\n\xc3\xa9t\xc3\xa9\n\xe4\xb8\xad\n\xe6\x96\x87\n"
    "##s\na\nb\n##a\n##b\n1\n2\n##1\n";

static ThawWordPiece *g_vocab;

static void check_ids(const ThawWordPiece *wp, const int32_t *ids, size_t n)
{
    size_t vocab = thaw_wordpiece_vocab_size(wp);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= vocab) {
            abort();
        }
    }
}

static size_t count_tokens(const ThawWordPiece *wp, const char *text, size_t len)
{
    ThawIds ids = {0};
    ThawError err = {0};
    if (thaw_wordpiece_tokenize(wp, text, len, &ids, &err) != 0) {
        abort();   /* any bytes are text: tokenizing cannot fail */
    }
    check_ids(wp, ids.ids, ids.n);
    size_t n = ids.n;
    thaw_ids_free(&ids);
    return n;
}

static void check_encoding(const ThawWordPiece *wp, const ThawEncoding *e, size_t na,
                           size_t nb, int pair, const ThawEncodeOptions *o)
{
    ThawSpecialIds sp = thaw_wordpiece_special_ids(wp);
    size_t specials = pair ? 3 : 2;
    size_t real = na + nb + specials;
    if (o->max_length && real > o->max_length) {
        real = o->max_length;
    }
    size_t want = o->pad_to > real ? o->pad_to : real;
    if (e->length != want || e->input_ids[0] != sp.cls) {
        abort();
    }
    check_ids(wp, e->input_ids, e->length);
    size_t n_real = 0, n_sep = 0;
    for (size_t i = 0; i < e->length; i++) {
        int in = i < real;
        if (e->attention_mask[i] != in || (!in && e->input_ids[i] != sp.pad) ||
            (!in && e->token_type_ids[i] != 0) ||
            (e->token_type_ids[i] != 0 && e->token_type_ids[i] != 1)) {
            abort();
        }
        n_real += (size_t)in;
        n_sep += in && e->input_ids[i] == sp.sep;
    }
    if (n_real != real || e->input_ids[real - 1] != sp.sep || n_sep < (pair ? 2u : 1u)) {
        abort();
    }
}

static void fuzz_text(const char *text, size_t len, uint8_t mode)
{
    size_t half = len / 2;
    int pair = mode & 2;
    size_t na = count_tokens(g_vocab, text, pair ? half : len);
    size_t nb = pair ? count_tokens(g_vocab, text + half, len - half) : 0;
    ThawEncodeOptions o = {.max_length = (mode >> 2) & 1 ? (size_t)(mode >> 3) : 0,
                           .pad_to = (mode >> 2) & 1 ? 0 : (size_t)(mode >> 3)};
    ThawEncoding e = {0};
    ThawError err = {0};
    int rc = thaw_wordpiece_encode(g_vocab, text, pair ? half : len, pair ? text + half : NULL,
                                   pair ? len - half : 0, &o, &e, &err);
    if (o.max_length && o.max_length < (pair ? 3u : 2u)) {
        if (rc != THAW_ERR_ARG) {
            abort();
        }
        return;
    }
    if (rc != 0) {
        abort();
    }
    check_encoding(g_vocab, &e, na, nb, pair, &o);
    thaw_encoding_free(&e);
}

static void fuzz_vocab(const char *data, size_t len)
{
    ThawWordPiece *wp = NULL;
    ThawError err = {0};
    if (thaw_wordpiece_load_memory(&wp, data, len, VOCAB_NAME, &err) != 0) {
        if (wp || err.code == 0 ||
            strncmp(err.msg, VOCAB_NAME ":", sizeof VOCAB_NAME) != 0 || strchr(err.msg, '\n')) {
            abort();
        }
        return;
    }
    static const char text[] = "The cats sat on [MASK] unaffable mat, running! 12 \xff\xfe";
    count_tokens(wp, text, sizeof text - 1);
    /* every entry is found under its own id */
    for (size_t id = 0; id < thaw_wordpiece_vocab_size(wp); id++) {
        const char *tok = thaw_wordpiece_token(wp, (int32_t)id);
        if (!tok || thaw_wordpiece_token_id(wp, tok, strlen(tok)) != (int32_t)id) {
            abort();
        }
    }
    thaw_wordpiece_free(wp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_vocab) {
        ThawError err = {0};
        if (thaw_wordpiece_load_memory(&g_vocab, VOCAB, sizeof VOCAB - 1, "vocab", &err) != 0) {
            abort();
        }
    }
    if (size < 1) {
        return 0;
    }
    const char *rest = (const char *)data + 1;
    if (data[0] & 1) {
        fuzz_vocab(rest, size - 1);
    } else {
        fuzz_text(rest, size - 1, data[0]);
    }
    return 0;
}
