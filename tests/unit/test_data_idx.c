/* IDX reading of the real Fashion-MNIST files (Debian dataset-fashion-mnist)
 * and the one-line errors for broken IDX files. Expected values were read
 * with Python's gzip module: first labels, pixel sums of image 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "engine/data/dataset.h"
#include "engine/data/idx.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static void check_split(int train, int64_t n, const int *first, long sum0)
{
    ThawError err = {0};
    ThawDataset *ds = NULL;
    int rc = thaw_dataset_open_fashion_mnist(FMNIST, train, &ds, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(thaw_dataset_count(ds), n);
    assert_int_equal(thaw_dataset_num_classes(ds), 10);
    assert_string_equal(thaw_dataset_class_name(ds, 0), "T-shirt/top");
    assert_string_equal(thaw_dataset_class_name(ds, 9), "Ankle boot");
    for (int i = 0; i < 10; i++)
        assert_int_equal(thaw_dataset_label(ds, i), first[i]);
    ThawImage img;
    assert_int_equal(thaw_dataset_load_image(ds, 0, &img, &err), 0);
    assert_int_equal(img.h, 28);
    assert_int_equal(img.w, 28);
    assert_int_equal(img.c, 1);
    long s = 0;
    for (int i = 0; i < 28 * 28; i++)
        s += img.px[i];
    assert_int_equal(s, sum0);
    thaw_image_free(&img);
    /* Through an eval transform: grey -> 3 equal channels. */
    ThawTransform t = thaw_transform_eval(0, 32);
    float *x = malloc(3 * 32 * 32 * sizeof(float));
    assert_int_equal(thaw_dataset_load(ds, 0, &t, 0, x, &err), 0);
    thaw_dataset_free(ds);
    free(x);
}

static void test_fashion_mnist(void **state)
{
    (void)state;
    static const int train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const int test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    check_split(1, 60000, train, 76247);
    check_split(0, 10000, test, 33456);
}

static char tmpdir[64];

static const char *write_gz(const char *name, const unsigned char *b, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(gzwrite(f, b, (unsigned)n), (int)n);
    gzclose(f);
    return path;
}

static void expect_error(const char *path, int ndim, const char *needle)
{
    ThawIdx idx;
    ThawError err = {0};
    assert_int_not_equal(thaw_idx_read(path, ndim, &idx, &err), 0);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, needle));
    assert_null(strchr(err.msg, '\n'));
}

static void test_bad_files(void **state)
{
    (void)state;
    unsigned char good[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    ThawIdx idx;
    ThawError err = {0};
    const char *p = write_gz("ok.gz", good, sizeof good);
    assert_int_equal(thaw_idx_read(p, 1, &idx, &err), 0);
    assert_int_equal(idx.dims[0], 3);
    assert_int_equal(idx.data[2], 3);
    thaw_idx_free(&idx);

    unsigned char magic[11];
    memcpy(magic, good, sizeof good);
    magic[2] = 0x0D; /* float type */
    expect_error(write_gz("magic.gz", magic, sizeof magic), 1, "bad magic");
    expect_error(write_gz("dims.gz", good, sizeof good), 3, "1 dimensions");
    expect_error(write_gz("short.gz", good, sizeof good - 1), 1, "truncated");
    expect_error(write_gz("empty.gz", good, 0), 1, "shorter");
    unsigned char extra[12];
    memcpy(extra, good, sizeof good);
    extra[11] = 9;
    expect_error(write_gz("extra.gz", extra, sizeof extra), 1, "trailing");
    unsigned char zero[8] = {0, 0, 8, 1, 0, 0, 0, 0};
    expect_error(write_gz("zero.gz", zero, sizeof zero), 1, "zero");
    expect_error("/nonexistent/x.gz", 1, "cannot open");

    /* Plain (not gzip) files are read too. */
    char plain[128];
    snprintf(plain, sizeof plain, "%s/plain.idx", tmpdir);
    FILE *f = fopen(plain, "wb");
    fwrite(good, 1, sizeof good, f);
    fclose(f);
    assert_int_equal(thaw_idx_read(plain, 1, &idx, &err), 0);
    thaw_idx_free(&idx);

    /* Count mismatch between images and labels names the labels file. */
    ThawDataset *ds = NULL;
    int rc = thaw_dataset_open_idx(FMNIST "/t10k-images-idx3-ubyte.gz",
                                   FMNIST "/train-labels-idx1-ubyte.gz", NULL,
                                   0, &ds, &err);
    assert_int_equal(rc, THAW_ERR_MISMATCH);
    printf("error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "train-labels-idx1-ubyte.gz: 60000 labels"));
    assert_null(ds);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/thaw_idx_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : 1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
