/* The depthwise convolution kernels' per-thread work (engine/cuda/
 * cuda_depthwise_body.h) run on the CPU: every block and thread of the
 * grids cuda_depthwise.cu launches, in a loop, against the CPU conv op
 * (groups == channels). This checks the index arithmetic, the 4-channel
 * and 1-channel paths, the partial-row layout and the two-pass filter
 * total on any machine; tests/gpu/test_gpu_cnn_ops runs the real kernels
 * on a GPU. Runs without a GPU (no CUDA call is made). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include <cmocka.h>
}

#include "tests/gpu/host_check.h"
#include "tests/gpu/host_bf16.h"
#include "engine/cuda/cuda_depthwise_body.h"

/* Runs body(g, span, bx, by, bz) for every block and thread of grid g. */
template <typename Body>
static void each_thread(const ThawChanGrid &g, unsigned blocks_z, Body body)
{
    const unsigned threads = (unsigned)(g.groups_per_block * g.lanes);
    for (unsigned bz = 0; bz < blocks_z; bz++) {
        for (unsigned by = 0; by < (unsigned)g.chunks; by++) {
            for (unsigned bx = 0; bx < g.blocks_x; bx++) {
                for (unsigned tx = 0; tx < threads; tx++) {
                    body(thaw_chan_span_at(g, bx, by, tx), by, bz);
                }
            }
        }
    }
}

/* One shape: forward, backward data (+= and assign), filter (+=), with the
 * 4-channel path where allowed (vec4) or forced to 1 channel a thread.
 * S: the maps' and weights' storage; in bf16 the inputs are rounded first
 * (the CPU op sees the same values) and the maps a body writes are within
 * one bf16 rounding of the CPU's (2^-8 of max|ref|); the filter gradient
 * is float either way. */
template <typename S>
static void check_shape(const char *name, int n, int h, int w, int c, int r, int stride,
                        int pad, int dil, int vec4)
{
    const double map_tol = sizeof(S) == 2 ? 1.0 / 256 : 2e-5;
    Conv2dShape s;
    assert_int_equal(conv2d_shape_init(&s, n, h, w, c, c, r, r, stride, pad, dil, c), 0);
    printf("%s %s: [%d,%d,%d,%d] k%d s%d p%d d%d -> [%d,%d] (%s)\n", host_storage_name(S()),
           name, n, h, w, c, r, stride, pad, dil, s.p, s.q,
           vec4 && c % 4 == 0 ? "4 channels a thread" : "1 channel");
    const ThawDwShape d = thaw_dw_shape(&s);
    const size_t in_n = (size_t)n * h * w * c, out_n = (size_t)n * s.p * s.q * c;
    const int taps = r * r;
    const size_t w_n = (size_t)c * taps;
    unsigned seed = 12345u + (unsigned)c * 7u + (unsigned)r;
    float *x = host_random_floats(in_n, &seed, -1, 1), *wt = host_random_floats(w_n, &seed, -0.5f, 0.5f);
    float *dout = host_random_floats(out_n, &seed, -1, 1);
    float *din0 = host_random_floats(in_n, &seed, -1, 1), *dw0 = host_random_floats(w_n, &seed, -1, 1);
    float *ws = (float *)malloc((conv2d_workspace_floats(&s) + 1) * sizeof(float));
    host_round_to<S>(x, in_n);
    host_round_to<S>(wt, w_n);
    host_round_to<S>(dout, out_n);
    host_round_to<S>(din0, in_n);
    S *x_s = host_stored<S>(x, in_n), *wt_s = host_stored<S>(wt, w_n);
    S *dout_s = host_stored<S>(dout, out_n);

    /* CPU op */
    float *out_ref = (float *)calloc(out_n, sizeof(float));
    float *din_ref = host_copy_floats(din0, in_n), *dw_ref = host_copy_floats(dw0, w_n);
    conv2d_forward(out_ref, x, wt, NULL, &s, ws);
    conv2d_backward(din_ref, dw_ref, NULL, dout, x, wt, &s, ws);

    /* the kernels' work, thread by thread */
    float *w_rsc = host_random_floats(w_n, &seed, 0, 1);
    for (unsigned i = 0; i < w_n; i++) {
        thaw_dw_weights_rsc_at(w_rsc, wt_s, c, taps, i);
    }
    float *fill = host_random_floats(out_n, &seed, 5, 6);   /* every element must be written */
    S *out_s = host_stored<S>(fill, out_n);
    ThawChanGrid g = thaw_chan_grid(n * s.p * s.q, c, vec4, THAW_DW_ROWS_PER_LANE, 65535);
    each_thread(g, 1, [&](const ThawChanSpan &sp, unsigned, unsigned) {
        if (g.vec == 4) {
            thaw_dw_forward_rows<4>(g, sp, out_s, x_s, w_rsc, d);
        } else {
            thaw_dw_forward_rows<1>(g, sp, out_s, x_s, w_rsc, d);
        }
    });
    float *out = host_widened(out_s, out_n);
    host_assert_close("forward", out, out_ref, out_n, map_tol);

    S *din = host_stored<S>(din0, in_n);
    g = thaw_chan_grid(n * h * w, c, vec4, THAW_DW_ROWS_PER_LANE, 65535);
    for (int assign = 0; assign < 2; assign++) {
        if (assign) {   /* assign: what din held must not matter */
            for (size_t i = 0; i < in_n; i++) {
                din[i] = thaw_st<S>(NAN);
                din_ref[i] -= din0[i];
            }
        }
        each_thread(g, 1, [&](const ThawChanSpan &sp, unsigned, unsigned) {
            if (g.vec == 4) {
                thaw_dw_data_rows<4>(g, sp, din, dout_s, w_rsc, assign, d);
            } else {
                thaw_dw_data_rows<1>(g, sp, din, dout_s, w_rsc, assign, d);
            }
        });
        float *din_w = host_widened(din, in_n);
        host_assert_close(assign ? "backward data (=, assign)" : "backward data (+=)", din_w,
                          din_ref, in_n, map_tol);
        free(din_w);
    }

    const ThawChanGrid fg = thaw_dw_filter_grid(&s, vec4);
    const long rows = (long)fg.chunks * fg.lanes;
    const size_t cols = w_n;
    assert_true((size_t)rows * cols <= (size_t)THAW_DW_MAX_PARTIALS ||
                rows == (long)fg.lanes);
    float *part = host_random_floats((size_t)rows * cols, &seed, 7, 8);   /* all overwritten */
    double *lanes = (double *)malloc(THAW_DW_TOTAL_LANES * cols * sizeof(double));
    each_thread(fg, (unsigned)r, [&](const ThawChanSpan &sp, unsigned by, unsigned bz) {
        if (fg.vec == 4) {
            thaw_dw_filter_rows<4>(fg, sp, by, (int)bz, part, dout_s, x_s, d);
        } else {
            thaw_dw_filter_rows<1>(fg, sp, by, (int)bz, part, dout_s, x_s, d);
        }
    });
    for (size_t i = 0; i < THAW_DW_TOTAL_LANES * cols; i++) {
        thaw_dw_total_lanes_at(lanes, part, rows, cols, i);
    }
    float *dw = host_copy_floats(dw0, w_n);
    for (size_t col = 0; col < cols; col++) {
        thaw_dw_total_add_at(dw, lanes, c, taps, col);
    }
    host_assert_close("backward filter (+=)", dw, dw_ref, w_n, 2e-5);

    void *all[] = {x, wt, dout, din0, dw0, ws, out_ref, din_ref, dw_ref, w_rsc, out, din,
                   part, dw, fill, out_s, x_s, wt_s, dout_s};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
    free(lanes);
}

static void test_depthwise_shapes(void **state)
{
    (void)state;
    check_shape<float>("3x3 s1 p1", 2, 9, 11, 8, 3, 1, 1, 1, 1);
    check_shape<float>("3x3 s1 p1, one channel a thread", 2, 9, 11, 8, 3, 1, 1, 1, 0);
    check_shape<float>("5x5 s2 p2, c % 4 != 0", 2, 13, 10, 6, 5, 2, 2, 1, 1);
    check_shape<float>("3x3 s2 p0 (behind TF-same pad)", 3, 17, 17, 32, 3, 2, 0, 1, 1);
    check_shape<float>("3x3 dilation 2 p2", 1, 12, 9, 12, 3, 1, 2, 2, 1);
    check_shape<float>("7x7 s1 p3", 1, 10, 10, 4, 7, 1, 3, 1, 1);
    check_shape<float>("5x5 s1 p2, 1152 channels (2 blocks across)", 2, 5, 5, 1152, 5, 1, 2, 1, 1);
    check_shape<float>("3x3 s1 p1, many rows (capped partial rows)", 8, 100, 100, 16, 3, 1, 1, 1, 1);
    /* bf16 maps and weights (the bf16 mode) */
    check_shape<thaw_bf16>("3x3 s1 p1", 2, 9, 11, 8, 3, 1, 1, 1, 1);
    check_shape<thaw_bf16>("3x3 s1 p1, one channel a thread", 2, 9, 11, 8, 3, 1, 1, 1, 0);
    check_shape<thaw_bf16>("5x5 s2 p2, c % 4 != 0", 2, 13, 10, 6, 5, 2, 2, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depthwise_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
