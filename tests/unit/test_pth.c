/* PyTorch checkpoint reader (engine/io/pth.c): files torch.save wrote in
 * both formats (tests/unit/gen_pth.py) must convert to exactly the tensors
 * PyTorch holds (same keys, order, dtypes, shapes and bytes); every broken
 * file must give one clean THAW_ERR_FORMAT line naming the file. Also the
 * real EfficientNet-Lite0 ImageNet checkpoint when the cache has it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/io/pth.h"
#include "engine/io/weights.h"
#include "support/golden.h"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Every tensor of expect equals got: order, dtype, shape, bytes; float
 * tensors also equal through st_read_f32. */
static void check_same(const SafeTensors *got, const SafeTensors *expect)
{
    assert_int_equal(st_count(got), st_count(expect));
    for (int i = 0; i < st_count(expect); i++) {
        const StTensorInfo *e = st_info(expect, i);
        const StTensorInfo *g = st_info(got, i);
        if (strcmp(e->name, g->name) != 0) {
            fail_msg("tensor %d: got key '%s', expected '%s'", i, g->name,
                     e->name);
        }
        if (e->dtype != g->dtype || e->ndim != g->ndim ||
            memcmp(e->shape, g->shape, (size_t)e->ndim * sizeof(int64_t))) {
            fail_msg("'%s': dtype or shape differs", e->name);
        }
        size_t bytes = (size_t)(e->end - e->begin);
        assert_int_equal(bytes, g->end - g->begin);
        if (bytes && memcmp(st_data(expect, e), st_data(got, g), bytes) != 0) {
            fail_msg("'%s': bytes differ", e->name);
        }
        if (e->dtype == ST_F32 || e->dtype == ST_F16 || e->dtype == ST_BF16 ||
            e->dtype == ST_F64) {
            float *a = malloc((size_t)e->numel * 4 + 4);
            float *b = malloc((size_t)e->numel * 4 + 4);
            ThawError err = {0};
            assert_int_equal(st_read_f32(expect, e, a, e->numel, &err), 0);
            assert_int_equal(st_read_f32(got, g, b, g->numel, &err), 0);
            assert_memory_equal(a, b, (size_t)e->numel * 4);
            free(a);
            free(b);
        }
    }
}

static void check_file(const char *pth, const char *expect_file)
{
    char path[1024];
    golden_path(path, sizeof path, pth);
    SafeTensors *got = NULL;
    ThawError err = {0};
    int rc = weights_open(&got, path, &err);
    if (rc != 0) {
        fail_msg("%s", err.msg);
    }
    SafeTensors *expect = golden_open(expect_file);
    check_same(got, expect);
    printf("OK %s: %d tensors equal\n", pth, st_count(got));
    st_close(got);
    st_close(expect);
}

static void mixed_legacy(void **s) { (void)s; check_file("mixed_legacy.pth", "mixed_expect.safetensors"); }
static void mixed_zip(void **s) { (void)s; check_file("mixed_zip.pth", "mixed_expect.safetensors"); }
static void module_legacy(void **s) { (void)s; check_file("module_legacy.pth", "module_expect.safetensors"); }
static void module_zip(void **s) { (void)s; check_file("module_zip.pth", "module_expect.safetensors"); }
static void wrapped_legacy(void **s) { (void)s; check_file("wrapped_legacy.pth", "wrapped_expect.safetensors"); }
static void wrapped_zip(void **s) { (void)s; check_file("wrapped_zip.pth", "wrapped_expect.safetensors"); }

/* One clean error: FORMAT, one line, names the file. */
static void expect_format_error(int rc, const ThawError *err, const char *name)
{
    if (rc != THAW_ERR_FORMAT) {
        fail_msg("%s: rc %d, expected THAW_ERR_FORMAT (%s)", name, rc, err->msg);
    }
    assert_non_null(strstr(err->msg, name));
    assert_null(strchr(err->msg, '\n'));
}

static void bad_file(const char *file, const char *needle)
{
    char path[1024];
    golden_path(path, sizeof path, file);
    SafeTensors *st = NULL;
    ThawError err = {0};
    int rc = weights_open(&st, path, &err);
    expect_format_error(rc, &err, path);
    assert_null(st);
    printf("%s\n", err.msg);
    if (!strstr(err.msg, needle)) {
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
    }
}

static void bad_files(void **s)
{
    (void)s;
    bad_file("bad_global.pth", "torch.nn.modules.linear.Linear");
    bad_file("bad_global_zip.pth", "torch.nn.modules.linear.Linear");
    bad_file("bad_magic.pth", "magic");
    bad_file("bad_count.pth", "elements");
    bad_file("bad_zip_size.pth", "bytes, expected");
    bad_file("bad_zip_deflate.pth", "compressed");
}

/* Every proper prefix of a good file is refused cleanly. */
static void truncate_all(const char *file)
{
    char path[1024];
    size_t len;
    uint8_t *buf = read_all(golden_path(path, sizeof path, file), &len);
    for (size_t cut = 0; cut < len; cut++) {
        SafeTensors *st = NULL;
        ThawError err = {0};
        int rc = pth_open_memory(&st, buf, cut, file, &err);
        if (cut == 0) {
            assert_int_equal(rc, THAW_ERR_FORMAT);
            continue;
        }
        if (rc == 0) {
            fail_msg("%s cut at %zu of %zu bytes was accepted", file, cut, len);
        }
        expect_format_error(rc, &err, file);
    }
    free(buf);
    printf("OK %s: all %zu truncations refused\n", file, len);
}

static void truncated(void **s)
{
    (void)s;
    truncate_all("mixed_legacy.pth");
    truncate_all("mixed_zip.pth");
    truncate_all("module_legacy.pth");
}

/* Each byte of the legacy pickles flipped: accepted (a changed key or value
 * is still a checkpoint) or refused with a clean error, never a crash. */
static void flipped(void **s)
{
    (void)s;
    char path[1024];
    size_t len;
    uint8_t *buf = read_all(golden_path(path, sizeof path, "mixed_legacy.pth"),
                            &len);
    size_t refused = 0, n = len < 2000 ? len : 2000;
    for (size_t at = 0; at < n; at++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[at] ^= (uint8_t)(1u << bit);
            SafeTensors *st = NULL;
            ThawError err = {0};
            int rc = pth_open_memory(&st, buf, len, "flip.pth", &err);
            if (rc == 0) {
                assert_true(st_count(st) >= 0);
                st_close(st);
            } else {
                if (rc != THAW_ERR_FORMAT && rc != THAW_ERR_MISMATCH) {
                    fail_msg("flip at %zu: rc %d (%s)", at, rc, err.msg);
                }
                assert_non_null(strstr(err.msg, "flip.pth"));
                refused++;
            }
            buf[at] ^= (uint8_t)(1u << bit);
        }
    }
    /* The first opcode of the object pickle made unknown must be refused. */
    free(buf);
    printf("OK flipped bytes: %zu of %zu variants refused cleanly\n",
           refused, 3 * n);
    assert_true(refused > 0);
}

static void not_a_checkpoint(void **s)
{
    (void)s;
    SafeTensors *st = NULL;
    ThawError err = {0};
    int rc = pth_open_memory(&st, "hello world", 11, "x.pth", &err);
    expect_format_error(rc, &err, "x.pth");
    /* zip without data.pkl: the smallest empty archive */
    static const uint8_t empty_zip[22] = {'P', 'K', 5, 6};
    uint8_t buf[26] = {'P', 'K', 3, 4};
    memcpy(buf + 4, empty_zip, 22);
    rc = pth_open_memory(&st, buf, sizeof buf, "e.pth", &err);
    expect_format_error(rc, &err, "e.pth");
    assert_null(st);
}

static void real_checkpoint(void **s)
{
    (void)s;
    char marker[1024], real[1024];
    FILE *f = fopen(golden_path(marker, sizeof marker, "pth_real.txt"), "r");
    if (!f) {
        printf("SKIP real checkpoint: not in the cache (quickstart.sh "
               "fetches it)\n");
        skip();
    }
    assert_non_null(fgets(real, sizeof real, f));
    fclose(f);
    real[strcspn(real, "\n")] = '\0';
    SafeTensors *got = NULL;
    ThawError err = {0};
    if (weights_open(&got, real, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    SafeTensors *expect = golden_open("real_expect.safetensors");
    check_same(got, expect);
    printf("OK %s: all %d tensors equal\n", real, st_count(got));
    assert_int_equal(st_count(got), 296);
    st_close(got);
    st_close(expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_legacy),
        cmocka_unit_test(mixed_zip),
        cmocka_unit_test(module_legacy),
        cmocka_unit_test(module_zip),
        cmocka_unit_test(wrapped_legacy),
        cmocka_unit_test(wrapped_zip),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(truncated),
        cmocka_unit_test(flipped),
        cmocka_unit_test(not_a_checkpoint),
        cmocka_unit_test(real_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
