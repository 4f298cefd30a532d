/* WordPiece tokenizer: every golden from Hugging Face's BertTokenizer
 * (tests/unit/data/wordpiece_golden.jsonl, made by make_wordpiece_golden.py
 * on the all-MiniLM-L6-v2 vocab) must match exactly; bad vocab files fail
 * with the file and line; invalid UTF-8 and 1 MB inputs neither crash nor
 * change meaning (run under ASan in the sanitizer build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "engine/text/utf8.h"
#include "engine/text/wordpiece.h"

/* ---- a tiny in-memory vocab, so most checks run without the real one ---- */

static const char TINY_VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"                          /* 0-4 */
    "un\n##aff\n##able\nhello\nworld\n,\n!\n.\nthe\nquick\n"        /* 5-14 */
    "brown\nfox\njumps\nover\nlazy\ndog\na\n##a\ncafe\n\xe4\xb8\xad\n"; /* 15-24 */

static ThawWordPiece *tiny(void)
{
    ThawWordPiece *wp = NULL;
    ThawError err = {0};
    if (thaw_wordpiece_load_memory(&wp, TINY_VOCAB, sizeof TINY_VOCAB - 1, "tiny", &err))
        fail_msg("%s", err.msg);
    return wp;
}

/* Ids of text without special tokens, into want-sized check. */
static void expect_ids(const ThawWordPiece *wp, const char *text, size_t len,
                       const int32_t *want, size_t n)
{
    ThawIds ids = {0};
    ThawError err = {0};
    if (thaw_wordpiece_tokenize(wp, text, len, &ids, &err)) fail_msg("%s", err.msg);
    if (ids.n != n) fail_msg("\"%s\": %zu ids, want %zu", text, ids.n, n);
    for (size_t i = 0; i < n; i++)
        if (ids.ids[i] != want[i]) fail_msg("\"%s\": id %zu is %d, want %d", text, i, ids.ids[i], want[i]);
    thaw_ids_free(&ids);
}
#define EXPECT_IDS(wp, text, ...) do { \
        const int32_t want_[] = { __VA_ARGS__ }; \
        expect_ids(wp, text, strlen(text), want_, sizeof want_ / sizeof *want_); \
    } while (0)
#define EXPECT_NO_IDS(wp, text) expect_ids(wp, text, strlen(text), NULL, 0)

static void greedy_longest_match_and_unk(void **state)
{
    (void)state;
    ThawWordPiece *wp = tiny();
    EXPECT_IDS(wp, "unaffable", 5, 6, 7);
    EXPECT_IDS(wp, "UnAffable, HELLO world!", 5, 6, 7, 10, 8, 9, 11);
    EXPECT_IDS(wp, "unaffablex hello", 1, 8);         /* one bad piece: whole word [UNK] */
    char word[200];
    memset(word, 'a', sizeof word);
    ThawIds ids = {0};
    ThawError err = {0};
    assert_int_equal(thaw_wordpiece_tokenize(wp, word, 100, &ids, &err), 0);
    assert_int_equal(ids.n, 100);                     /* 100 chars: a ##a ##a ... */
    assert_true(ids.ids[0] == 21 && ids.ids[1] == 22 && ids.ids[99] == 22);
    ids.n = 0;
    assert_int_equal(thaw_wordpiece_tokenize(wp, word, 101, &ids, &err), 0);
    assert_int_equal(ids.n, 1);                       /* 101 chars: [UNK] */
    assert_int_equal(ids.ids[0], 1);
    thaw_ids_free(&ids);
    EXPECT_IDS(wp, "CAF\xc3\x89 Cafe\xcc\x81", 23, 23);  /* accents stripped, composed or not */
    EXPECT_IDS(wp, "x\xe4\xb8\xad\xe4\xb8\xad", 1, 24, 24); /* CJK split per character */
    EXPECT_IDS(wp, "hello[SEP]world [MASK]. [mask]", 8, 3, 9, 4, 12, 1, 1, 1);
    EXPECT_NO_IDS(wp, "");
    EXPECT_NO_IDS(wp, " \t\r\n\xc2\xa0\xe2\x80\xa8\x01\x7f");
    expect_ids(wp, "hello\0world", 11, (const int32_t[]){1}, 1);   /* NUL dropped: "helloworld" */
    assert_int_equal(thaw_wordpiece_token_id(wp, "##aff", 5), 6);
    assert_string_equal(thaw_wordpiece_token(wp, 24), "\xe4\xb8\xad");
    assert_null(thaw_wordpiece_token(wp, 25));
    assert_null(thaw_wordpiece_token(wp, -1));
    assert_int_equal(thaw_wordpiece_vocab_size(wp), 25);
    ThawSpecialIds sp = thaw_wordpiece_special_ids(wp);
    assert_true(sp.pad == 0 && sp.unk == 1 && sp.cls == 2 && sp.sep == 3 && sp.mask == 4);
    thaw_wordpiece_free(wp);
}

static void encode_truncates_and_pads(void **state)
{
    (void)state;
    ThawWordPiece *wp = tiny();
    ThawEncoding e;
    ThawError err = {0};
    const char *a = "the quick brown fox", *b = "hello world";
    ThawEncodeOptions o = { .max_length = 6, .pad_to = 8 };
    assert_int_equal(thaw_wordpiece_encode(wp, a, strlen(a), b, strlen(b), &o, &e, &err), 0);
    /* 4 + 2 + 3 specials = 9 > 6: longest first trims a to b's 2, then b loses the odd one */
    const int32_t ids[] = {2, 13, 14, 3, 8, 3, 0, 0}, types[] = {0, 0, 0, 0, 1, 1, 0, 0};
    assert_int_equal(e.length, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(e.input_ids[i], ids[i]);
        assert_int_equal(e.token_type_ids[i], types[i]);
        assert_int_equal(e.attention_mask[i], i < 6);
    }
    thaw_encoding_free(&e);
    o = (ThawEncodeOptions){ .max_length = 1 };
    assert_int_equal(thaw_wordpiece_encode(wp, a, strlen(a), NULL, 0, &o, &e, &err), THAW_ERR_ARG);
    assert_non_null(strstr(err.msg, "max_length 1"));
    assert_int_equal(thaw_wordpiece_encode(wp, a, strlen(a), NULL, 0, NULL, &e, &err), 0);
    assert_int_equal(e.length, 6);
    assert_int_equal(e.input_ids[5], 3);
    thaw_encoding_free(&e);
    thaw_wordpiece_free(wp);
}

/* ---- bad vocab files ----------------------------------------------------- */

static void expect_bad_vocab(const char *data, size_t len, int code, const char *needle)
{
    ThawWordPiece *wp = (ThawWordPiece *)&wp;   /* must come back NULL */
    ThawError err = {0};
    int rc = thaw_wordpiece_load_memory(&wp, data, len, "v.txt", &err);
    if (rc != code || !strstr(err.msg, needle))
        fail_msg("vocab %.*s: rc %d msg \"%s\", want %d and \"%s\"", (int)len, data, rc, err.msg,
                 code, needle);
    assert_null(wp);
}
#define BAD(data, needle) expect_bad_vocab(data, sizeof data - 1, THAW_ERR_FORMAT, needle)

static void bad_vocab_files_name_file_and_line(void **state)
{
    (void)state;
    BAD("", "v.txt: empty vocab file");
    BAD("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n[UNK]\n", "v.txt:6: duplicate token \"[UNK]\" (first on line 2)");
    BAD("[PAD]\n[UNK]\n[CLS]\n\xff\xfe\n[SEP]\n", "v.txt:4: not valid UTF-8");
    BAD("[PAD]\n[UNK]\n\xed\xa0\x80\n", "v.txt:3: not valid UTF-8");   /* an encoded surrogate */
    BAD("[PAD]\n[CLS]\n[SEP]\n", "v.txt: no [UNK] token");
    BAD("[PAD]\n[UNK]\n[CLS]\n", "v.txt: no [SEP] token");
    BAD("[UNK]\n[CLS]\n[SEP]", "v.txt: no [PAD] token");
    BAD("[PAD]\n\n[UNK]\n", "v.txt:2: empty line");
    BAD("[PAD]\r\n[UNK]\r\n", "v.txt:1: line ends in \\r");
    ThawWordPiece *wp = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_wordpiece_load(&wp, "/nonexistent/vocab.txt", &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/vocab.txt"));
    char path[64];
    snprintf(path, sizeof path, "/tmp/thaw_wp_test.%ld.txt", (long)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("[PAD]\n[UNK]\n[CLS]\nx\nx\n", f);
    fclose(f);
    assert_int_equal(thaw_wordpiece_load(&wp, path, &err), THAW_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, ":5: duplicate token \"x\""));
    f = fopen(path, "wb");   /* the last line may lack its newline */
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]", f);
    fclose(f);
    assert_int_equal(thaw_wordpiece_load(&wp, path, &err), 0);
    assert_int_equal(thaw_wordpiece_token_id(wp, "[SEP]", 5), 3);
    assert_int_equal(thaw_wordpiece_special_ids(wp).mask, -1);
    EXPECT_IDS(wp, "x [MASK]", 1, 1);   /* a missing [MASK] reads as [UNK], as in HF */
    thaw_wordpiece_free(wp);
    unlink(path);
}

/* ---- invalid UTF-8 and huge inputs ---------------------------------------- */

static void invalid_utf8_reads_as_dropped_replacement(void **state)
{
    (void)state;
    ThawWordPiece *wp = tiny();
    /* lone continuation, bad lead, truncated 3-byte, overlong '/', surrogate, > U+10FFFF */
    const char *bad[] = { "hel\x80lo", "hel\xfflo", "hel\xe4\xb8lo", "hel\xc0\xafl\xe0\x80\xafo",
                          "hel\xed\xa0\x80lo", "hel\xf4\x90\x80\x80lo", "hello\xe4" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) EXPECT_IDS(wp, bad[i], 8);
    uint32_t cp;
    assert_int_equal(thaw_utf8_decode((const unsigned char *)"\xe4\xb8\xad", 3, &cp), 3);
    assert_int_equal(cp, 0x4E2D);
    assert_int_equal(thaw_utf8_decode((const unsigned char *)"\xe4\xb8", 2, &cp), 2);
    assert_int_equal(cp, THAW_UTF8_REPLACEMENT);
    assert_true(thaw_utf8_valid("\xef\xbf\xbd ok", 6));
    assert_false(thaw_utf8_valid("\xf8\x88\x80\x80\x80", 5));
    /* random bytes: no crash, no read past the end (ASan), ids in range */
    unsigned seed = 12345;
    char buf[256];
    ThawIds ids = {0};
    ThawError err = {0};
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 256);
        for (size_t i = 0; i < len; i++) buf[i] = (char)((seed = seed * 1103515245u + 12345u) >> 16);
        char *heap = malloc(len ? len : 1);   /* exact size, so ASan sees overreads */
        memcpy(heap, buf, len);
        ids.n = 0;
        assert_int_equal(thaw_wordpiece_tokenize(wp, heap, len, &ids, &err), 0);
        for (size_t i = 0; i < ids.n; i++) assert_true(ids.ids[i] >= 0 && ids.ids[i] < 25);
        free(heap);
    }
    thaw_ids_free(&ids);
    thaw_wordpiece_free(wp);
}

/* text = unit repeated until it reaches 1 MB; returns the repeat count. */
static char *repeat_1mb(const char *unit, size_t *len, size_t *reps)
{
    size_t n = strlen(unit);
    *reps = (1u << 20) / n + 1;
    *len = *reps * n;
    char *s = malloc(*len);
    assert_non_null(s);
    for (size_t i = 0; i < *reps; i++) memcpy(s + i * n, unit, n);
    return s;
}

static size_t count_ids(const ThawWordPiece *wp, const char *unit, int32_t *first)
{
    size_t len, reps;
    char *s = repeat_1mb(unit, &len, &reps);
    ThawIds ids = {0};
    ThawError err = {0};
    if (thaw_wordpiece_tokenize(wp, s, len, &ids, &err)) fail_msg("%s", err.msg);
    free(s);
    size_t n = ids.n;
    *first = n ? ids.ids[0] : -1;
    thaw_ids_free(&ids);
    return n;
}

static void one_megabyte_inputs(void **state)
{
    (void)state;
    ThawWordPiece *wp = tiny();
    int32_t first;
    size_t len, reps;
    free(repeat_1mb("The quick brown fox jumps over the lazy dog. ", &len, &reps));
    assert_int_equal(count_ids(wp, "The quick brown fox jumps over the lazy dog. ", &first), 10 * reps);
    assert_int_equal(count_ids(wp, "abcdefgh", &first), 1);              /* one 1 MB word */
    assert_int_equal(first, 1);
    assert_int_equal(count_ids(wp, "\xcc\x81", &first), 0);              /* only accents */
    free(repeat_1mb("\xe4\xb8\xad", &len, &reps));
    assert_int_equal(count_ids(wp, "\xe4\xb8\xad", &first), reps);      /* CJK: one each */
    free(repeat_1mb(",!", &len, &reps));
    assert_int_equal(count_ids(wp, ",!", &first), 2 * reps);             /* punctuation */
    /* a long run of non-Mn combining marks to reorder (ccc 226 then 216) */
    assert_int_equal(count_ids(wp, "\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", &first), 1);
    assert_int_equal(count_ids(wp, "\xce\xa3", &first), 1);             /* ΣΣΣ...: one word */
    thaw_wordpiece_free(wp);
}

/* ---- the goldens ----------------------------------------------------------- */

static char *hex_or_string(const cJSON *rec, const char *key, size_t *len)
{
    char hex_key[32];
    snprintf(hex_key, sizeof hex_key, "%s_hex", key);
    const cJSON *hex = cJSON_GetObjectItemCaseSensitive(rec, hex_key);
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!cJSON_IsString(str)) return NULL;
    if (!cJSON_IsString(hex)) {
        *len = strlen(str->valuestring);
        return strdup(str->valuestring);
    }
    *len = strlen(hex->valuestring) / 2;
    char *out = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++) {
        unsigned byte;
        sscanf(hex->valuestring + 2 * i, "%2x", &byte);
        out[i] = (char)byte;
    }
    return out;
}

/* Compares one field; prints the case on a mismatch and returns 0. */
static int same(const char *what, const char *text, const cJSON *want, const int32_t *got, size_t n)
{
    int ok = cJSON_GetArraySize(want) == (int)n;
    for (size_t i = 0; ok && i < n; i++) ok = cJSON_GetArrayItem(want, (int)i)->valueint == got[i];
    if (!ok) {
        char *w = cJSON_PrintUnformatted(want);
        printf("FAIL %s of \"%s\":\n  want %s\n  got ", what, text, w);
        for (size_t i = 0; i < n; i++) printf("%d ", got[i]);
        printf("\n");
        free(w);
    }
    return ok;
}

static void matches_hugging_face_goldens(void **state)
{
    (void)state;
    const char *cache = getenv("THAW_CACHE"), *home = getenv("HOME");
    char vocab[1024], golden[1024];
    if (cache) snprintf(vocab, sizeof vocab, "%s/weights/all-minilm-l6-v2/vocab.txt", cache);
    else snprintf(vocab, sizeof vocab, "%s/.cache/thaw/weights/all-minilm-l6-v2/vocab.txt", home ? home : "");
    if (access(vocab, R_OK) != 0) {
        printf("SKIP goldens: no %s (bash quickstart.sh fetches all-MiniLM-L6-v2)\n", vocab);
        skip();
    }
    const char *src = getenv("THAW_SOURCE_DIR");
    snprintf(golden, sizeof golden, "%s/tests/unit/data/wordpiece_golden.jsonl", src ? src : ".");
    ThawWordPiece *wp = NULL;
    ThawError err = {0};
    if (thaw_wordpiece_load(&wp, vocab, &err)) fail_msg("%s", err.msg);
    assert_int_equal(thaw_wordpiece_vocab_size(wp), 30522);
    FILE *f = fopen(golden, "r");
    if (!f) fail_msg("cannot open %s", golden);
    char *line = NULL;
    size_t cap = 0;
    int cases = 0, failed = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        size_t text_len = 0, pair_len = 0;
        char *text = hex_or_string(rec, "text", &text_len), *pair = hex_or_string(rec, "pair", &pair_len);
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(rec, "max_length");
        const cJSON *pad = cJSON_GetObjectItemCaseSensitive(rec, "pad_to");
        ThawEncodeOptions o = { .max_length = cJSON_IsNumber(ml) ? (size_t)ml->valueint : 0,
                                .pad_to = cJSON_IsNumber(pad) ? (size_t)pad->valueint : 0 };
        ThawEncoding e;
        if (thaw_wordpiece_encode(wp, text, text_len, pair, pair_len, &o, &e, &err)) fail_msg("%s", err.msg);
        int ok = same("ids", text, cJSON_GetObjectItemCaseSensitive(rec, "ids"), e.input_ids, e.length);
        const cJSON *types = cJSON_GetObjectItemCaseSensitive(rec, "type_ids");
        const cJSON *mask = cJSON_GetObjectItemCaseSensitive(rec, "mask");
        if (ok && types) ok = same("type_ids", text, types, e.token_type_ids, e.length);
        if (ok && mask) ok = same("mask", text, mask, e.attention_mask, e.length);
        for (size_t i = 0; ok && i < e.length; i++)   /* unpadded single texts: all 0 and 1 */
            ok = (types || e.token_type_ids[i] == 0) && (mask || e.attention_mask[i] == 1);
        failed += !ok;
        cases++;
        thaw_encoding_free(&e);
        free(text);
        free(pair);
        cJSON_Delete(rec);
    }
    free(line);
    fclose(f);
    thaw_wordpiece_free(wp);
    printf("wordpiece goldens: %d/%d equal\n", cases - failed, cases);
    assert_true(cases >= 400);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_longest_match_and_unk),
        cmocka_unit_test(encode_truncates_and_pads),
        cmocka_unit_test(bad_vocab_files_name_file_and_line),
        cmocka_unit_test(invalid_utf8_reads_as_dropped_replacement),
        cmocka_unit_test(one_megabyte_inputs),
        cmocka_unit_test(matches_hugging_face_goldens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
