/* Transforms against torchvision 0.14 (gen_data_transforms.py) on real
 * photos, plus RandomResizedCrop and flip properties.
 *
 * Tolerance: uint8 results (resize) must match torchvision exactly except
 * where float32 rounding lands on the other side of .5 (PyTorch may fuse
 * multiply-adds); such pixels may differ by 1 level, and they must be rare
 * (< 0.5% of the pixels). Float results (normalise) must be within 1e-4
 * relative, or one uint8 level (1/255/std) on the pixels above. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/data/transforms.h"
#include "support/golden.h"

#define PHOTOS "/usr/lib/python3/dist-packages/skimage/data/"

static SafeTensors *ref;

static void load_photo(const char *name, ThawImage *img)
{
    ThawError err = {0};
    char p[256];
    snprintf(p, sizeof p, PHOTOS "%s", name);
    int rc = thaw_image_load(p, img, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* uint8 image vs a float HWC golden. */
static void check_u8(const char *key, const ThawImage *img)
{
    int64_t shape[8];
    int nd = golden_shape(ref, key, shape);
    assert_int_equal(nd, 3);
    assert_int_equal(shape[0], img->h);
    assert_int_equal(shape[1], img->w);
    assert_int_equal(shape[2], img->c);
    int64_t n = 0;
    float *r = golden_load(ref, key, &n);
    int64_t off1 = 0, worse = 0;
    for (int64_t i = 0; i < n; i++) {
        float d = fabsf((float)img->px[i] - r[i]);
        if (d > 1.5f)
            worse++;
        else if (d > 0.5f)
            off1++;
    }
    printf("%s %s: %lld values, %lld off by one level, %lld worse\n",
           worse || off1 * 200 > n ? "FAIL" : "OK", key, (long long)n,
           (long long)off1, (long long)worse);
    assert_int_equal(worse, 0);
    assert_true(off1 * 200 <= n);
    free(r);
}

static void check_float(const char *key, const float *got, int64_t n_expect)
{
    int64_t n = 0;
    float *r = golden_load(ref, key, &n);
    assert_int_equal(n, n_expect);
    float maxref = 0;
    for (int64_t i = 0; i < n; i++)
        maxref = fmaxf(maxref, fabsf(r[i]));
    int64_t level = 0, worse = 0;
    float lvl = 1.0f / (255.0f * 0.224f) + 1e-4f;
    for (int64_t i = 0; i < n; i++) {
        float d = fabsf(got[i] - r[i]);
        if (d <= 1e-4f * maxref)
            continue;
        if (d <= lvl * 1.03f)
            level++;
        else
            worse++;
    }
    printf("%s %s: %lld values, %lld one uint8 level off, %lld worse\n",
           worse || level * 200 > n ? "FAIL" : "OK", key, (long long)n,
           (long long)level, (long long)worse);
    assert_int_equal(worse, 0);
    assert_true(level * 200 <= n);
    free(r);
}

static void test_decode_matches_pil(void **state)
{
    (void)state;
    ThawImage cat, cam;
    load_photo("chelsea.png", &cat);
    load_photo("camera.png", &cam);
    assert_int_equal(cat.c, 3);
    assert_int_equal(cam.c, 1);
    check_u8("chelsea.input", &cat);
    check_u8("camera.input", &cam);
    thaw_image_free(&cat);
    thaw_image_free(&cam);
}

static void test_resize(void **state)
{
    (void)state;
    ThawError err = {0};
    ThawImage cat, cam, a, b;
    load_photo("chelsea.png", &cat);
    load_photo("camera.png", &cam);
    assert_int_equal(thaw_resize_bilinear(&cat, 128, 160, &a, &err), 0);
    check_u8("chelsea.resize_128x160", &a);
    thaw_image_free(&a);
    assert_int_equal(thaw_crop(&cat, 100, 200, 20, 30, &b, &err), 0);
    assert_int_equal(thaw_resize_bilinear(&b, 57, 41, &a, &err), 0);
    check_u8("chelsea.resize_up_57x41", &a);
    thaw_image_free(&a);
    thaw_image_free(&b);
    assert_int_equal(thaw_resize_bilinear(&cam, 64, 64, &a, &err), 0);
    check_u8("camera.resize_64x64", &a);
    thaw_image_free(&a);
    assert_int_equal(thaw_resize_short(&cat, 100, &a, &err), 0);
    assert_int_equal(a.h, 100);
    assert_int_equal(a.w, 150); /* int(100 * 451 / 300) */
    check_u8("chelsea.resize_short_100", &a);
    thaw_image_free(&a);
    thaw_image_free(&cat);
    thaw_image_free(&cam);
}

static void test_center_crop(void **state)
{
    (void)state;
    ThawError err = {0};
    ThawImage cat, a;
    load_photo("chelsea.png", &cat);
    static const int sizes[][2] = {{299, 450}, {297, 448}, {295, 446}};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "chelsea.crop_%dx%d", sizes[i][0],
                 sizes[i][1]);
        assert_int_equal(
            thaw_center_crop(&cat, sizes[i][0], sizes[i][1], &a, &err), 0);
        check_u8(key, &a);
        thaw_image_free(&a);
    }
    assert_int_not_equal(thaw_center_crop(&cat, 301, 10, &a, &err), 0);
    thaw_image_free(&cat);
}

static void test_eval_pipeline(void **state)
{
    (void)state;
    ThawError err = {0};
    ThawImage cat, cam, small;
    load_photo("chelsea.png", &cat);
    load_photo("camera.png", &cam);
    ThawTransform t = thaw_transform_eval(100, 87);
    float *out = malloc(3 * 87 * 87 * sizeof(float));
    assert_int_equal(thaw_transform_apply(&t, &cat, 1, out, &err), 0);
    check_float("chelsea.eval_100_87", out, 3 * 87 * 87);
    free(out);
    t = thaw_transform_eval(0, 64);
    out = malloc(3 * 64 * 64 * sizeof(float));
    assert_int_equal(thaw_transform_apply(&t, &cam, 1, out, &err), 0);
    check_float("camera.eval_0_64", out, 3 * 64 * 64);
    free(out);
    /* flip + normalise is exact arithmetic on uint8: no level slack used. */
    assert_int_equal(thaw_crop(&cat, 0, 0, 40, 50, &small, &err), 0);
    thaw_hflip_inplace(&small);
    out = malloc(3 * 40 * 50 * sizeof(float));
    thaw_to_float_nchw(&small, t.mean, t.std, out);
    check_float("chelsea.flip_normalize", out, 3 * 40 * 50);
    free(out);
    thaw_image_free(&small);
    thaw_image_free(&cat);
    thaw_image_free(&cam);
}

static void test_random_resized_crop(void **state)
{
    (void)state;
    /* Boxes stay inside, areas and ratios follow the sampling law, and the
     * same seed gives the same box. */
    int inside = 1, tries = 4000, in_range = 0;
    double mean_scale = 0;
    for (int s = 0; s < tries; s++) {
        ThawRng r1, r2;
        thaw_rng_seed(&r1, (uint64_t)s);
        thaw_rng_seed(&r2, (uint64_t)s);
        int t1, l1, h1, w1, t2, l2, h2, w2;
        thaw_rrc_params(&r1, 300, 451, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &t1,
                        &l1, &h1, &w1);
        thaw_rrc_params(&r2, 300, 451, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &t2,
                        &l2, &h2, &w2);
        assert_true(t1 == t2 && l1 == l2 && h1 == h2 && w1 == w2);
        if (t1 < 0 || l1 < 0 || h1 <= 0 || w1 <= 0 || t1 + h1 > 300 ||
            l1 + w1 > 451)
            inside = 0;
        double sc = (double)h1 * w1 / (300.0 * 451.0);
        double ra = (double)w1 / h1;
        mean_scale += sc;
        if (sc > 0.07 && sc < 1.01 && ra > 0.70 && ra < 1.40)
            in_range++;
    }
    mean_scale /= tries;
    printf("RRC: mean area fraction %.3f (torchvision get_params, 4000 draws: "
           "0.391)\n",
           mean_scale);
    assert_true(inside);
    assert_int_equal(in_range, tries);
    assert_true(mean_scale > 0.37 && mean_scale < 0.41);
    /* Fallback: a 10x1000 strip never fits a 3/4..4/3 box of >= 8% area;
     * torchvision then takes h = height, w = round(h * 4/3) centred. */
    ThawRng r;
    thaw_rng_seed(&r, 7);
    int t, l, h, w;
    thaw_rrc_params(&r, 10, 1000, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &t, &l, &h,
                    &w);
    assert_int_equal(h, 10);
    assert_int_equal(w, 13);
    assert_int_equal(t, 0);
    assert_int_equal(l, (1000 - 13) / 2);
}

static void test_train_pipeline_seeded(void **state)
{
    (void)state;
    ThawError err = {0};
    ThawImage cat;
    load_photo("chelsea.png", &cat);
    ThawTransform t = thaw_transform_train(64);
    size_t n = 3 * 64 * 64;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)),
          *c = malloc(n * sizeof(float));
    assert_int_equal(thaw_transform_apply(&t, &cat, 42, a, &err), 0);
    assert_int_equal(thaw_transform_apply(&t, &cat, 42, b, &err), 0);
    assert_int_equal(thaw_transform_apply(&t, &cat, 43, c, &err), 0);
    assert_memory_equal(a, b, n * sizeof(float));
    assert_memory_not_equal(a, c, n * sizeof(float));
    /* Flips happen about half the time. */
    int flips = 0;
    for (uint64_t s = 0; s < 200; s++) {
        ThawTransform f = t;
        f.random_resized_crop = 0;
        f.resize_short = 0;
        f.out_h = 8;
        f.out_w = 8;
        ThawImage small;
        assert_int_equal(thaw_crop(&cat, 0, 0, 8, 8, &small, &err), 0);
        float o[3 * 64], plain[3 * 64];
        assert_int_equal(thaw_transform_apply(&f, &small, s, o, &err), 0);
        thaw_to_float_nchw(&small, f.mean, f.std, plain);
        flips += memcmp(o, plain, sizeof o) != 0;
        thaw_image_free(&small);
    }
    printf("flips: %d of 200\n", flips);
    assert_true(flips > 70 && flips < 130);
    free(a);
    free(b);
    free(c);
    thaw_image_free(&cat);
}

static int setup(void **state)
{
    (void)state;
    ref = golden_open("data_transforms.safetensors");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_close(ref);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_matches_pil),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_center_crop),
        cmocka_unit_test(test_eval_pipeline),
        cmocka_unit_test(test_random_resized_crop),
        cmocka_unit_test(test_train_pipeline_seeded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
