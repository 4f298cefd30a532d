/* Text datasets: CSV/TSV (header, quoting, CRLF, column order), JSON lines,
 * fortunes topic files (made here, and the real Debian package when
 * installed); labels as names or integers; bad input: empty texts
 * (skipped, counted), invalid UTF-8 (kept, counted), a huge text, missing
 * columns and keys, labels out of range, malformed lines (errors naming
 * file and line); seeded subsets and stratified splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/data/text_dataset.h"

static char root[64];

static const char *write_file(const char *rel, const char *data, size_t len)
{
    static char p[8][256];
    static int slot;
    char *path = p[slot++ % 8];
    snprintf(path, 256, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *write_text(const char *rel, const char *text)
{
    return write_file(rel, text, strlen(text));
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/thaw_text_ds_XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd);
}

static void test_csv_quoting_names_and_skips(void **state)
{
    (void)state;
    const char *csv = "id,label,text\r\n"
                      "1,spam,\"Win, now!\"\r\n"
                      "2,ham,\"He said \"\"hi\"\"\nthen left\"\r\n"
                      "3,ham,   \r\n"
                      "4,eggs,  padded  \r\n"
                      "5,spam,caf\xc3\xa9 \xff\xfe broken\r\n";
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_text_open_csv(write_text("a.csv", csv), 0, NULL, NULL, 0, &ds, &err), 0);
    assert_int_equal(thaw_text_count(ds), 4);
    assert_int_equal(thaw_text_skipped_empty(ds), 1);
    assert_int_equal(thaw_text_invalid_utf8(ds), 1);
    assert_int_equal(thaw_text_num_classes(ds), 3);   /* sorted: eggs, ham, spam */
    assert_string_equal(thaw_text_class_name(ds, 0), "eggs");
    assert_string_equal(thaw_text_class_name(ds, 2), "spam");
    size_t len;
    assert_string_equal(thaw_text_get(ds, 0, &len), "Win, now!");
    assert_int_equal(len, 9);
    assert_int_equal(thaw_text_label(ds, 0), 2);
    assert_string_equal(thaw_text_get(ds, 1, NULL), "He said \"hi\"\nthen left");
    assert_int_equal(thaw_text_label(ds, 1), 1);
    assert_string_equal(thaw_text_get(ds, 2, NULL), "padded");
    assert_int_equal(thaw_text_label(ds, 2), 0);
    assert_memory_equal(thaw_text_get(ds, 3, NULL), "caf\xc3\xa9 \xff\xfe broken", 15);
    thaw_text_free(ds);
}

static void test_tsv_integer_labels(void **state)
{
    (void)state;
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    const char *p = write_text("b.tsv", "text\tlabel\nfirst, with comma\t1\nsecond\t0\n\nthird\t1\n");
    assert_int_equal(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), 0);
    assert_int_equal(thaw_text_count(ds), 3);
    assert_int_equal(thaw_text_num_classes(ds), 2);
    assert_string_equal(thaw_text_class_name(ds, 1), "1");
    assert_string_equal(thaw_text_get(ds, 0, NULL), "first, with comma");
    assert_int_equal(thaw_text_label(ds, 0), 1);
    thaw_text_free(ds);
    /* num_classes widens the class list */
    assert_int_equal(thaw_text_open_csv(p, 0, NULL, NULL, 4, &ds, &err), 0);
    assert_int_equal(thaw_text_num_classes(ds), 4);
    thaw_text_free(ds);
    /* renamed columns */
    p = write_text("c.csv", "body,topic\nhello,x\nworld,y\n");
    assert_int_equal(thaw_text_open_csv(p, 0, "body", "topic", 0, &ds, &err), 0);
    assert_int_equal(thaw_text_num_classes(ds), 2);
    thaw_text_free(ds);
}

static void expect_error(int rc, const ThawError *err, const char *needle)
{
    assert_int_not_equal(rc, 0);
    if (!strstr(err->msg, needle)) {
        fail_msg("error '%s' lacks '%s'", err->msg, needle);
    }
}

static void test_csv_errors(void **state)
{
    (void)state;
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    const char *p = write_text("d.csv", "text,label\nok,0\nbad,2\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 2, &ds, &err), &err,
                 "d.csv:3: label 2 out of range 0..1");
    assert_null(ds);
    p = write_text("e.csv", "text,label\nok,0\nneg,-1\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err,
                 "e.csv:3: label -1 out of range");
    p = write_text("f.csv", "text,class\nok,0\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err,
                 "f.csv:1: no 'label' column in the header (columns: text, class)");
    p = write_text("g.csv", "sentence,label\nok,0\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err, "no 'text' column");
    p = write_text("h.csv", "text,label\nok,0\ntoo,many,fields\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err,
                 "h.csv:3: 3 fields, the header has 2");
    p = write_text("i.csv", "text,label\n\"never closed,0\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err,
                 "i.csv:2: quoted field never closed");
    p = write_text("j.csv", "text,label\nok,\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err, "j.csv:2: empty label");
    p = write_text("k.csv", "text,label\n  ,a\n\t,b\n");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err,
                 "no texts (2 empty skipped)");
    p = write_text("l.csv", "");
    expect_error(thaw_text_open_csv(p, 0, NULL, NULL, 0, &ds, &err), &err, "empty file");
    expect_error(thaw_text_open_csv("/nonexistent/x.csv", 0, NULL, NULL, 0, &ds, &err), &err,
                 "/nonexistent/x.csv: cannot open");
    assert_null(ds);
}

static void test_jsonl(void **state)
{
    (void)state;
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    const char *p = write_text("a.jsonl", "{\"text\": \"alpha\", \"label\": \"pos\", \"id\": 3}\n"
                                          "\n"
                                          "{\"label\": \"neg\", \"text\": \"beta \\u00e9\"}\r\n"
                                          "{\"text\": \"\", \"label\": \"neg\"}\n");
    assert_int_equal(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), 0);
    assert_int_equal(thaw_text_count(ds), 2);
    assert_int_equal(thaw_text_skipped_empty(ds), 1);
    assert_string_equal(thaw_text_class_name(ds, 0), "neg");
    assert_int_equal(thaw_text_label(ds, 0), 1);
    assert_string_equal(thaw_text_get(ds, 1, NULL), "beta \xc3\xa9");
    thaw_text_free(ds);
    p = write_text("b.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 0}\n");
    assert_int_equal(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), 0);
    assert_int_equal(thaw_text_num_classes(ds), 2);
    assert_int_equal(thaw_text_label(ds, 0), 1);
    thaw_text_free(ds);
    expect_error(thaw_text_open_jsonl(p, NULL, NULL, 1, &ds, &err), &err,
                 "b.jsonl:1: label 1 out of range 0..0");
    p = write_text("c.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n");
    expect_error(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), &err, "c.jsonl:2: no \"label\"");
    p = write_text("d.jsonl", "{\"text\": \"a\", \"label\": 1}\n[1, 2]\n");
    expect_error(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), &err,
                 "d.jsonl:2: not a JSON object");
    p = write_text("e.jsonl", "{\"text\": 5, \"label\": 1}\n");
    expect_error(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), &err,
                 "e.jsonl:1: no string \"text\"");
    p = write_text("f.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n");
    expect_error(thaw_text_open_jsonl(p, NULL, NULL, 0, &ds, &err), &err, "not an integer");
    assert_null(ds);
}

static void test_fortunes_files(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/fortunes", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_text("fortunes/cats", "One cat.\n%\n\n%\nTwo\ncats.\n%\n  \n%\nThree cats.");
    write_text("fortunes/dogs", "A dog.\n%\nAnother dog, 100% sure.\n%\n");
    const char *topics[] = {"dogs", "cats"};
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_text_open_fortunes(dir, topics, 2, &ds, &err), 0);
    assert_int_equal(thaw_text_count(ds), 5);
    assert_int_equal(thaw_text_skipped_empty(ds), 2);
    assert_string_equal(thaw_text_class_name(ds, 0), "dogs");   /* the given order */
    assert_string_equal(thaw_text_get(ds, 1, NULL), "Another dog, 100% sure.");
    assert_int_equal(thaw_text_label(ds, 1), 0);
    assert_string_equal(thaw_text_get(ds, 3, NULL), "Two\ncats.");
    assert_string_equal(thaw_text_get(ds, 4, NULL), "Three cats.");
    assert_int_equal(thaw_text_label(ds, 4), 1);
    thaw_text_free(ds);
    const char *missing[] = {"dogs", "birds"};
    expect_error(thaw_text_open_fortunes(dir, missing, 2, &ds, &err), &err,
                 "fortunes/birds: no such fortunes topic");
    const char *twice[] = {"dogs", "dogs"};
    expect_error(thaw_text_open_fortunes(dir, twice, 2, &ds, &err), &err, "listed twice");
    const char *escape[] = {"dogs", "../x"};
    expect_error(thaw_text_open_fortunes(dir, escape, 2, &ds, &err), &err, "not a topic name");
    write_text("fortunes/empty", "%\n%\n");
    const char *empty[] = {"dogs", "empty"};
    expect_error(thaw_text_open_fortunes(dir, empty, 2, &ds, &err), &err, "no fortunes in this file");
    assert_null(ds);
}

/* The Debian package: real human-written texts, one topic per class. */
static void test_fortunes_debian(void **state)
{
    (void)state;
    if (access(THAW_FORTUNES_DIR "/love", R_OK) != 0) {
        skip();   /* apt-get install fortunes */
    }
    const char *topics[] = {"love", "sports", "food"};
    ThawTextDataset *ds = NULL, *sub = NULL, *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_text_open_fortunes(NULL, topics, 3, &ds, &err), 0);
    int64_t per[3] = {0};
    for (int64_t i = 0; i < thaw_text_count(ds); i++) {
        per[thaw_text_label(ds, i)]++;
        size_t len;
        const char *t = thaw_text_get(ds, i, &len);
        assert_true(len > 0 && t[0] != ' ' && t[0] != '\n' && t[len - 1] != '\n');
    }
    for (int k = 0; k < 3; k++) {
        assert_true(per[k] >= 100);
    }
    /* subset: 30 per class; split 0.2: 6 per class, seeded and repeatable */
    assert_int_equal(thaw_text_subset_per_class(ds, 30, 7, &sub, &err), 0);
    assert_int_equal(thaw_text_count(sub), 90);
    assert_int_equal(thaw_text_split(sub, 0.2, 7, &tr, &va, &err), 0);
    assert_int_equal(thaw_text_split(sub, 0.2, 7, &tr2, &va2, &err), 0);
    assert_int_equal(thaw_text_count(tr), 72);
    assert_int_equal(thaw_text_count(va), 18);
    int64_t vper[3] = {0};
    for (int64_t i = 0; i < thaw_text_count(va); i++) {
        vper[thaw_text_label(va, i)]++;
        assert_int_equal(thaw_text_source_index(va, i), thaw_text_source_index(va2, i));
        for (int64_t k = 0; k < thaw_text_count(tr); k++) {
            assert_int_not_equal(thaw_text_source_index(va, i), thaw_text_source_index(tr, k));
        }
    }
    assert_int_equal(vper[0], 6);
    assert_int_equal(vper[2], 6);
    thaw_text_free(tr2);
    thaw_text_free(va2);
    /* another seed picks other items */
    assert_int_equal(thaw_text_split(sub, 0.2, 8, &tr2, &va2, &err), 0);
    int same = 1;
    for (int64_t i = 0; i < thaw_text_count(va); i++) {
        same &= thaw_text_source_index(va, i) == thaw_text_source_index(va2, i);
    }
    assert_false(same);
    thaw_text_free(tr2);
    thaw_text_free(va2);
    thaw_text_free(tr);
    thaw_text_free(va);
    thaw_text_free(ds);   /* views outlive the source handle */
    assert_string_equal(thaw_text_class_name(sub, 1), "sports");
    thaw_text_free(sub);
}

static void test_huge_text(void **state)
{
    (void)state;
    size_t n = (size_t)3 << 20;
    char *buf = malloc(n + 64);
    assert_non_null(buf);
    size_t k = (size_t)sprintf(buf, "text,label\n\"");
    for (size_t i = 0; i < n; i++) {
        buf[k++] = i % 7 == 6 ? ' ' : 'a' + (char)(i % 5);
    }
    k += (size_t)sprintf(buf + k, "\",big\nsmall,tiny\n");
    ThawTextDataset *ds = NULL;
    ThawError err = {0};
    assert_int_equal(thaw_text_open_csv(write_file("huge.csv", buf, k), 0, NULL, NULL, 0, &ds, &err),
                     0);
    size_t len;
    thaw_text_get(ds, 0, &len);
    assert_int_equal(len, n - (n % 7 == 0 ? 1 : 0));   /* trailing blank trimmed */
    thaw_text_free(ds);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting_names_and_skips),
        cmocka_unit_test(test_tsv_integer_labels),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_fortunes_files),
        cmocka_unit_test(test_fortunes_debian),
        cmocka_unit_test(test_huge_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
