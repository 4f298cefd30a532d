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

static void write_bytes(const char *path, const void *buf, size_t len)
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

/* ---- malformed files ------------------------------------------------ */

/* Writes an 8-byte length, header and data_len zero bytes; hlen_override
 * replaces the length field when non-zero. */
static void write_image(const char *path, const char *header, size_t data_len,
                        uint64_t hlen_override)
{
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_len;
    unsigned char *buf = calloc(1, total);
    assert_non_null(buf);
    uint64_t len = hlen_override ? hlen_override : hl;
    memcpy(buf, &len, 8);
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, total);
    free(buf);
}

typedef struct {
    const char *label;
    const char *header;
    size_t data_len;
    uint64_t hlen;       /* 0: the real header length */
    const char *expect;  /* substring the message must hold (key, detail) */
} BadCase;

#define E(dt, shp, offs) "{\"dtype\":" dt ",\"shape\":" shp \
                         ",\"data_offsets\":" offs "}"

static const BadCase BAD[] = {
    {"hlen_past_end", "{}", 0, 1000, "header length 1000"},
    {"hlen_absurd", "{}", 0, (uint64_t)1 << 60, "header length"},
    {"not_json", "{\"w\":", 0, 0, "not valid JSON"},
    {"json_array", "[1,2]", 0, 0, "not an object"},
    {"json_string", "\"hello\"", 0, 0, "not an object"},
    {"trailing", "{} x", 0, 0, "after the header"},
    {"entry_number", "{\"w\":5}", 0, 0, "'w'"},
    {"entry_array", "{\"w\":[]}", 0, 0, "'w'"},
    {"no_dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0,
     "'w': 'dtype'"},
    {"dtype_number", "{\"w\":" E("3", "[1]", "[0,4]") "}", 4, 0, "'dtype'"},
    {"dtype_unknown", "{\"w\":" E("\"F8_E4M3\"", "[1]", "[0,1]") "}", 1, 0,
     "F8_E4M3"},
    {"no_shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, 0,
     "'w': 'shape'"},
    {"shape_object", "{\"w\":" E("\"F32\"", "{}", "[0,4]") "}", 4, 0,
     "'shape'"},
    {"dim_negative", "{\"w\":" E("\"F32\"", "[-1]", "[0,4]") "}", 4, 0,
     "'w': dim 0"},
    {"dim_fraction", "{\"w\":" E("\"F32\"", "[2,1.5]", "[0,12]") "}", 12, 0,
     "'w': dim 1"},
    {"dim_string", "{\"w\":" E("\"F32\"", "[\"2\"]", "[0,8]") "}", 8, 0,
     "dim 0"},
    {"dim_huge", "{\"w\":" E("\"F32\"", "[1e300]", "[0,8]") "}", 8, 0,
     "dim 0"},
    {"too_many_dims", "{\"w\":" E("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]")
     "}", 4, 0, "9 dims"},
    {"numel_overflow", "{\"w\":" E("\"F32\"", "[2147483648,2147483648,4]",
     "[0,4]") "}", 4, 0, "'w': element count overflows"},
    {"bytes_overflow", "{\"w\":" E("\"F64\"", "[2147483648,2147483648]",
     "[0,8]") "}", 8, 0, "'w': byte size overflows"},
    {"no_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0,
     "'w': 'data_offsets'"},
    {"offsets_short", "{\"w\":" E("\"F32\"", "[1]", "[0]") "}", 4, 0,
     "'data_offsets'"},
    {"offsets_negative", "{\"w\":" E("\"F32\"", "[1]", "[-4,0]") "}", 4, 0,
     "'data_offsets'"},
    {"offsets_string", "{\"w\":" E("\"F32\"", "[1]", "[\"0\",4]") "}", 4, 0,
     "'data_offsets'"},
    {"begin_after_end", "{\"w\":" E("\"F32\"", "[1]", "[8,4]") "}", 8, 0,
     "'w': data_offsets [8, 4] begin after end"},
    {"end_past_buffer", "{\"w\":" E("\"F32\"", "[2]", "[0,8]") "}", 4, 0,
     "4-byte data buffer"},
    {"size_mismatch", "{\"w\":" E("\"F32\"", "[3]", "[0,8]") "}", 8, 0,
     "'w': 8 bytes in data_offsets but F32 [3] needs 12"},
    {"overlap", "{\"a\":" E("\"F32\"", "[2]", "[0,8]") ",\"b\":"
     E("\"F32\"", "[2]", "[4,12]") "}", 12, 0, "'a' [0, 8] and 'b' [4, 12]"},
    {"same_range", "{\"a\":" E("\"U8\"", "[4]", "[0,4]") ",\"b\":"
     E("\"I8\"", "[4]", "[0,4]") "}", 4, 0, "overlap"},
    {"duplicate", "{\"w\":" E("\"F32\"", "[1]", "[0,4]") ",\"w\":"
     E("\"F32\"", "[1]", "[4,8]") "}", 8, 0, "'w' appears twice"},
    {"meta_number", "{\"__metadata__\":{\"lr\":0.1}}", 0, 0,
     "metadata 'lr'"},
    {"meta_null", "{\"__metadata__\":{\"x\":null}}", 0, 0, "metadata 'x'"},
    {"meta_array", "{\"__metadata__\":[\"a\"]}", 0, 0, "'__metadata__'"},
    {"meta_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0,
     "'__metadata__' appears twice"},
    {"meta_dup_key", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, 0,
     "'a' appears twice"},
};

static void expect_open_fails(const char *path, int code, const char *expect)
{
    SafeTensors *st = (SafeTensors *)0x1;
    ThawError err = {0};
    int rc = st_open(&st, path, &err);
    if (rc != code || !strstr(err.msg, path) ||
        (expect && !strstr(err.msg, expect))) {
        fail_msg("%s: rc=%d (want %d) msg='%s' (want '%s')", path, rc, code,
                 err.msg, expect ? expect : "");
    }
    assert_null(st);
    assert_int_equal(err.code, code);
}

static void bad_headers_fail_cleanly(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char name[128], path[400];
        snprintf(name, sizeof name, "bad_%s.safetensors", BAD[i].label);
        tmp_path(path, sizeof path, name);
        write_image(path, BAD[i].header, BAD[i].data_len, BAD[i].hlen);
        expect_open_fails(path, THAW_ERR_FORMAT, BAD[i].expect);
    }
}

static void short_empty_missing_and_directory(void **state)
{
    (void)state;
    char path[400];
    tmp_path(path, sizeof path, "short.safetensors");
    write_bytes(path, "\x02\0\0\0\0", 5);
    expect_open_fails(path, THAW_ERR_FORMAT, "5 bytes is too short");
    tmp_path(path, sizeof path, "empty.safetensors");
    write_bytes(path, "", 0);
    expect_open_fails(path, THAW_ERR_FORMAT, "empty");
    tmp_path(path, sizeof path, "missing.safetensors");
    expect_open_fails(path, THAW_ERR_IO, "No such file");
    expect_open_fails(g_dir, THAW_ERR_IO, "directory");
    tmp_path(path, sizeof path, "fifo.safetensors");
    assert_int_equal(mkfifo(path, 0644), 0);
    expect_open_fails(path, THAW_ERR_IO, "not a regular file");

    SafeTensors *st = NULL;
    ThawError err = {0};
    assert_int_equal(st_open_memory(&st, "\1\0", 2, "mem", &err),
                     THAW_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "mem: 2 bytes"));
    assert_null(st);
}

/* Zero-size tensors, holes and unpadded headers are all legal. */
static void legal_edge_cases_open(void **state)
{
    (void)state;
    static const char hdr[] =
        "{\"a\":" E("\"F32\"", "[2]", "[0,8]") ","
        "\"z\":" E("\"F16\"", "[0,3]", "[4,4]") ","
        "\"s\":" E("\"BOOL\"", "[]", "[10,11]") ","
        "\"__metadata__\":{}}  \n";
    char path[400];
    tmp_path(path, sizeof path, "edge.safetensors");
    write_image(path, hdr, 12, 0);
    SafeTensors *st = NULL;
    ThawError err = {0};
    int rc = st_open(&st, path, &err);
    if (rc) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(st_count(st), 3);
    assert_int_equal(st_find(st, "z")->numel, 0);
    assert_int_equal(st_find(st, "s")->numel, 1);
    assert_int_equal(st_find(st, "s")->ndim, 0);
    assert_null(st_metadata(st, "anything"));
    st_close(st);
}

/* ---- shape and dtype errors on load ---------------------------------- */

static void load_errors_name_file_key_and_shapes(void **state)
{
    (void)state;
    char path[400];
    tmp_path(path, sizeof path, "w.safetensors");
    float w[6] = {0};
    StWriteTensor t[] = {{"fc.weight", ST_F32, 2, {2, 3}, w}};
    ThawError err = {0};
    assert_int_equal(st_write(path, t, 1, NULL, 0, &err), 0);
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, path, &err), 0);
    float dst[6];

    int64_t want[2] = {3, 2};
    assert_int_equal(st_load_f32(st, "fc.weight", 2, want, dst, &err),
                     THAW_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "key 'fc.weight' has shape [2, 3], "
                                    "expected [3, 2]"));
    int64_t flat[1] = {6};
    assert_int_equal(st_load_f32(st, "fc.weight", 1, flat, dst, &err),
                     THAW_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "[2, 3], expected [6]"));
    assert_int_equal(st_load_f32(st, "fc.bias", 1, flat, dst, &err),
                     THAW_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'fc.bias'"));
    assert_int_not_equal(st_read_f32(st, st_find(st, "fc.weight"), dst, 5,
                                     &err), 0);
    assert_non_null(strstr(err.msg, "'fc.weight'"));

    char buf[8];
    int64_t big[3] = {1000, 512, 7};
    assert_string_equal(st_shape_str(buf, sizeof buf, 3, big), "[1000, ");
    char full[64];
    assert_string_equal(st_shape_str(full, sizeof full, 0, big), "[]");
    assert_string_equal(st_dtype_name(ST_BF16), "BF16");
    assert_string_equal(st_dtype_name((StDtype)99), "?");
    st_close(st);
}

static void f16_special_values(void **state)
{
    (void)state;
    /* inf, -inf, nan, largest subnormal, smallest normal, 1+2^-10 */
    uint16_t h[6] = {0x7c00, 0xfc00, 0x7e00, 0x03ff, 0x0400, 0x3c01};
    StWriteTensor t[] = {{"h", ST_F16, 1, {6}, h}};
    char path[400];
    tmp_path(path, sizeof path, "f16.safetensors");
    ThawError err = {0};
    assert_int_equal(st_write(path, t, 1, NULL, 0, &err), 0);
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, path, &err), 0);
    float got[6];
    assert_int_equal(st_read_f32(st, st_find(st, "h"), got, 6, &err), 0);
    assert_true(isinf(got[0]) && got[0] > 0);
    assert_true(isinf(got[1]) && got[1] < 0);
    assert_true(isnan(got[2]));
    assert_true(got[3] == ldexpf(1023.0f, -24));
    assert_true(got[4] == ldexpf(1.0f, -14));
    assert_true(got[5] == 1.0f + ldexpf(1.0f, -10));
    st_close(st);
}

/* ---- atomic write ----------------------------------------------------- */

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void tmp_name(char *buf, size_t cap, const char *path)
{
    snprintf(buf, cap, "%s.tmp.%ld", path, (long)getpid());
}

static void check_old_file(const char *path, float want)
{
    SafeTensors *st = NULL;
    ThawError err = {0};
    assert_int_equal(st_open(&st, path, &err), 0);
    float v;
    int64_t one[1] = {1};
    assert_int_equal(st_load_f32(st, "v", 1, one, &v, &err), 0);
    assert_true(v == want);
    st_close(st);
}

static void atomic_write_failures_keep_old_file(void **state)
{
    (void)state;
    char path[400], tmp[450];
    float one = 1.0f, two = 2.0f;
    StWriteTensor good[] = {{"v", ST_F32, 1, {1}, &one}};
    StWriteTensor next[] = {{"v", ST_F32, 1, {1}, &two}};
    ThawError err = {0};

    /* Directory that does not exist. */
    tmp_path(path, sizeof path, "no/such/dir/w.safetensors");
    assert_int_equal(st_write(path, good, 1, NULL, 0, &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file"));
    /* /proc refuses new files even for root. */
    assert_int_not_equal(st_write("/proc/thaw.safetensors", good, 1, NULL, 0,
                                  &err), 0);
    assert_non_null(strstr(err.msg, "/proc/thaw.safetensors"));

    /* Bad arguments are caught before the old file is touched. */
    tmp_path(path, sizeof path, "keep.safetensors");
    assert_int_equal(st_write(path, good, 1, NULL, 0, &err), 0);
    StWriteTensor bad[] = {{"v", (StDtype)77, 1, {1}, &two}};
    assert_int_equal(st_write(path, bad, 1, NULL, 0, &err), THAW_ERR_ARG);
    assert_non_null(strstr(err.msg, "'v'"));
    StWriteTensor dup[] = {{"v", ST_F32, 1, {1}, &two},
                           {"v", ST_F32, 1, {1}, &two}};
    assert_int_equal(st_write(path, dup, 2, NULL, 0, &err), THAW_ERR_ARG);
    assert_non_null(strstr(err.msg, "twice"));
    StWriteTensor nodata[] = {{"v", ST_F32, 1, {1}, NULL}};
    assert_int_equal(st_write(path, nodata, 1, NULL, 0, &err), THAW_ERR_ARG);
    StWriteTensor neg[] = {{"v", ST_F32, 1, {-3}, &two}};
    assert_int_equal(st_write(path, neg, 1, NULL, 0, &err), THAW_ERR_ARG);
    StMeta dupm[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(st_write(path, good, 1, dupm, 2, &err), THAW_ERR_ARG);
    check_old_file(path, 1.0f);
    tmp_name(tmp, sizeof tmp, path);
    assert_false(file_exists(tmp));

    /* Overwriting works and replaces the contents. */
    assert_int_equal(st_write(path, next, 1, NULL, 0, &err), 0);
    check_old_file(path, 2.0f);
    assert_false(file_exists(tmp));

    /* rename() onto a directory fails after the temporary was written:
     * the directory and its contents stay, the temporary is gone. */
    char inner[450];
    tmp_path(path, sizeof path, "target_dir");
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(inner, sizeof inner, "%s/v.safetensors", path);
    assert_int_equal(st_write(inner, good, 1, NULL, 0, &err), 0);
    assert_int_equal(st_write(path, next, 1, NULL, 0, &err), THAW_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "rename"));
    check_old_file(inner, 1.0f);
    tmp_name(tmp, sizeof tmp, path);
    assert_false(file_exists(tmp));
}

/* ---- files written by Python ------------------------------------------ */

static SafeTensors *open_golden(const char *file)
{
    const char *dir = getenv("THAW_GOLDEN_DIR");
    if (!dir) {
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    SafeTensors *st = NULL;
    ThawError err = {0};
    if (st_open(&st, path, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    return st;
}

static float *read_all(const SafeTensors *st, const char *key, int64_t n)
{
    const StTensorInfo *ti = st_find(st, key);
    assert_non_null(ti);
    assert_int_equal(ti->numel, n);
    float *buf = malloc((size_t)n * sizeof *buf);
    assert_non_null(buf);
    ThawError err = {0};
    if (st_read_f32(st, ti, buf, n, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    return buf;
}

/* Bit-exact: NaN payloads and the sign of zero must match too. */
static void expect_same_bits(const SafeTensors *st, const char *key,
                             const char *ref, int64_t n)
{
    float *got = read_all(st, key, n), *want = read_all(st, ref, n);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            fail_msg("%s[%lld] = %g, Python says %g", key, (long long)i,
                     (double)got[i], (double)want[i]);
        }
    }
    free(got);
    free(want);
}

static void reads_files_written_by_python(void **state)
{
    (void)state;
    SafeTensors *st = open_golden("py_basic.safetensors");
    if (!st) {
        skip();
    }
    assert_string_equal(st_metadata(st, "source"), "torch");
    assert_string_equal(st_metadata(st, "golden_format"), "1");
    assert_string_equal(st_metadata(st, "note"),
                        "quote \" and unicode \xc3\xa9");
    expect_same_bits(st, "f16_all", "f16_all_ref", 65536);
    expect_same_bits(st, "conv.weight", "weight_ref", 24);
    int64_t shape[3] = {4, 3, 2};
    float w[24];
    ThawError err = {0};
    assert_int_equal(st_load_f32(st, "conv.weight", 3, shape, w, &err), 0);
    const StTensorInfo *nb = st_find(st, "num_batches_tracked");
    assert_int_equal(nb->dtype, ST_I64);
    int64_t v;
    memcpy(&v, st_data(st, nb), 8);
    assert_int_equal(v, 7);
    st_close(st);

    st = open_golden("py_bf16.safetensors");
    assert_string_equal(st_metadata(st, "source"), "hand-made");
    expect_same_bits(st, "bf16_all", "bf16_all_ref", 65536);
    expect_same_bits(st, "special", "special_ref", 7);
    float *d = read_all(st, "f64", 3);
    assert_true(d[0] == 0.1f && d[1] == -2.0f && isinf(d[2]));
    free(d);
    st_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_all_dtypes),
        cmocka_unit_test(bad_headers_fail_cleanly),
        cmocka_unit_test(short_empty_missing_and_directory),
        cmocka_unit_test(legal_edge_cases_open),
        cmocka_unit_test(load_errors_name_file_key_and_shapes),
        cmocka_unit_test(f16_special_values),
        cmocka_unit_test(atomic_write_failures_keep_old_file),
        cmocka_unit_test(reads_files_written_by_python),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
