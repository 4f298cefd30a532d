/* Image folders and CSV manifests, built in the test from real photos that
 * python3-skimage ships, plus a truncated PNG and a text file named .jpg
 * (skipped with a warning and counted); errors for an empty class folder, a
 * label out of range, a missing file and a malformed line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/data/dataset.h"

#define PHOTOS "/usr/lib/python3/dist-packages/skimage/data/"

static char root[64];

static void copy_file(const char *src, const char *dst_rel, long max_bytes)
{
    char dst[256];
    snprintf(dst, sizeof dst, "%s/%s", root, dst_rel);
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    FILE *out = fopen(dst, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    long total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (max_bytes >= 0 && total + (long)n > max_bytes)
            n = (size_t)(max_bytes - total);
        fwrite(buf, 1, n, out);
        total += (long)n;
        if (max_bytes >= 0 && total >= max_bytes)
            break;
    }
    fclose(in);
    fclose(out);
}

static void write_text(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mkdir_rel(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void test_folder(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/set", root);
    ThawDataset *ds = NULL;
    ThawError err = {0};
    int rc = thaw_dataset_open_folder(p, THAW_VERIFY_DECODE, &ds, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(thaw_dataset_num_classes(ds), 3);
    assert_string_equal(thaw_dataset_class_name(ds, 0), "cat");
    assert_string_equal(thaw_dataset_class_name(ds, 1), "grey");
    assert_string_equal(thaw_dataset_class_name(ds, 2), "rocket");
    assert_int_equal(thaw_dataset_count(ds), 5);
    assert_int_equal(thaw_dataset_skipped(ds), 2);
    assert_int_equal(thaw_dataset_num_warnings(ds), 2);
    for (int k = 0; k < 2; k++)
        printf("warning: %s\n", thaw_dataset_warning(ds, k));
    assert_non_null(strstr(thaw_dataset_warning(ds, 0), "cat/broken.png"));
    assert_non_null(strstr(thaw_dataset_warning(ds, 1), "rocket/fake.jpg"));
    static const int labels[5] = {0, 0, 1, 1, 2};
    static const char *files[5] = {"cat/chelsea.png", "cat/coffee.png",
                                   "grey/camera.png", "grey/moon.png",
                                   "rocket/rocket.jpg"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(thaw_dataset_label(ds, i), labels[i]);
        assert_non_null(strstr(thaw_dataset_path(ds, i), files[i]));
    }
    ThawImage img;
    assert_int_equal(thaw_dataset_load_image(ds, 4, &img, &err), 0);
    assert_int_equal(img.h, 427);
    assert_int_equal(img.w, 640);
    assert_int_equal(img.c, 3);
    thaw_image_free(&img);
    ThawTransform t = thaw_transform_train(48);
    float *x = malloc(3 * 48 * 48 * sizeof(float));
    for (int i = 0; i < 5; i++)
        assert_int_equal(thaw_dataset_load(ds, i, &t, (uint64_t)i, x, &err), 0);
    free(x);
    thaw_dataset_free(ds);

    /* Header-only verification lets the truncated PNG through (stb reads
     * its header fine); loading it then fails with a line naming it. */
    assert_int_equal(thaw_dataset_open_folder(p, THAW_VERIFY_HEADER, &ds, &err),
                     0);
    assert_int_equal(thaw_dataset_count(ds), 6);
    assert_int_equal(thaw_dataset_skipped(ds), 1);
    rc = thaw_dataset_load_image(ds, 0, &img, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "cat/broken.png"));
    thaw_dataset_free(ds);
}

static void test_folder_errors(void **state)
{
    (void)state;
    char p[256];
    ThawDataset *ds = NULL;
    ThawError err = {0};
    snprintf(p, sizeof p, "%s/withempty", root);
    assert_int_equal(thaw_dataset_open_folder(p, THAW_VERIFY_DECODE, &ds, &err),
                     THAW_ERR_FORMAT);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "withempty/empty: class folder has no"));
    assert_null(ds);
    snprintf(p, sizeof p, "%s/nope", root);
    assert_int_equal(thaw_dataset_open_folder(p, THAW_VERIFY_DECODE, &ds, &err),
                     THAW_ERR_IO);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "nope"));
}

static int open_csv(const char *name, const char *text, int k,
                    ThawDataset **ds, ThawError *err)
{
    char rel[64], p[256];
    snprintf(rel, sizeof rel, "set/%s", name);
    write_text(rel, text);
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return thaw_dataset_open_csv(p, k, THAW_VERIFY_DECODE, ds, err);
}

static void test_csv(void **state)
{
    (void)state;
    ThawDataset *ds = NULL;
    ThawError err = {0};
    int rc = open_csv("names.csv",
                      "path,label\n"
                      "rocket/rocket.jpg,rocket\n"
                      "\"cat/chelsea.png\",cat\n"
                      "grey/camera.png , grey\r\n"
                      "cat/broken.png,cat\n"
                      "\n",
                      0, &ds, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(thaw_dataset_count(ds), 3);
    assert_int_equal(thaw_dataset_skipped(ds), 1);
    assert_int_equal(thaw_dataset_num_classes(ds), 3);
    assert_string_equal(thaw_dataset_class_name(ds, 0), "cat");
    assert_string_equal(thaw_dataset_class_name(ds, 2), "rocket");
    assert_int_equal(thaw_dataset_label(ds, 0), 2);
    assert_int_equal(thaw_dataset_label(ds, 1), 0);
    assert_int_equal(thaw_dataset_label(ds, 2), 1);
    thaw_dataset_free(ds);

    rc = open_csv("ints.csv", "grey/moon.png,1\ncat/coffee.png,0\n", 4, &ds,
                  &err);
    assert_int_equal(rc, 0);
    assert_int_equal(thaw_dataset_num_classes(ds), 4);
    assert_int_equal(thaw_dataset_label(ds, 0), 1);
    thaw_dataset_free(ds);

    rc = open_csv("range.csv", "path,label\ngrey/moon.png,1\ncat/coffee.png,2\n",
                  2, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "range.csv:3: label 2 out of range 0..1"));
    rc = open_csv("neg.csv", "grey/moon.png,-1\n", 0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "neg.csv:1: label -1"));

    rc = open_csv("missing.csv", "grey/moon.png,grey\ngrey/nothere.png,grey\n",
                  0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_IO);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "missing.csv:2: image file"));
    assert_non_null(strstr(err.msg, "grey/nothere.png"));

    rc = open_csv("bad.csv", "grey/moon.png,grey\njust_a_path\n", 0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "bad.csv:2: expected 'path,label'"));
    rc = open_csv("quote.csv", "\"grey/moon.png,grey\n", 0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    rc = open_csv("three.csv", "grey/moon.png,grey,x\n", 0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    rc = open_csv("empty.csv", "path,label\n", 0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_FORMAT);
    assert_null(ds);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/thaw_folder_XXXXXX");
    if (!mkdtemp(root))
        return 1;
    mkdir_rel("set");
    mkdir_rel("set/cat");
    mkdir_rel("set/grey");
    mkdir_rel("set/rocket");
    mkdir_rel("set/.hidden");
    copy_file(PHOTOS "chelsea.png", "set/cat/chelsea.png", -1);
    copy_file(PHOTOS "coffee.png", "set/cat/coffee.png", -1);
    copy_file(PHOTOS "astronaut.png", "set/cat/broken.png", 200000);
    copy_file(PHOTOS "camera.png", "set/grey/camera.png", -1);
    copy_file(PHOTOS "moon.png", "set/grey/moon.png", -1);
    copy_file(PHOTOS "rocket.jpg", "set/rocket/rocket.jpg", -1);
    write_text("set/rocket/fake.jpg", "this is not a JPEG\n");
    write_text("set/rocket/notes.txt", "ignored\n");
    mkdir_rel("withempty");
    mkdir_rel("withempty/full");
    mkdir_rel("withempty/empty");
    copy_file(PHOTOS "moon.png", "withempty/full/moon.png", -1);
    write_text("withempty/empty/readme.txt", "no images here\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder),
        cmocka_unit_test(test_folder_errors),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
