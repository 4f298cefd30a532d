/* pad2d: zero padding with separate amounts per side (NHWC). Forward is
 * checked element by element; backward is the adjoint of forward
 * (<pad(x), g> == <x, pad_backward(g)>) and accumulates into din. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engine/ops/pad.h"

static void forward_and_backward(void **state)
{
    (void)state;
    const Pad2dShape s = {2, 3, 4, 5, 0, 1, 2, 1};
    const int oh = 4, ow = 7;
    size_t nin = 2 * 3 * 4 * 5, nout = (size_t)2 * oh * ow * 5;
    float *x = malloc(nin * sizeof(float)), *y = malloc(nout * sizeof(float));
    float *g = malloc(nout * sizeof(float)), *dx = malloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++) {
        x[i] = (float)i + 1.0f;
        dx[i] = 0.5f;
    }
    for (size_t i = 0; i < nout; i++) {
        y[i] = -1.0f;
        g[i] = (float)(i % 7) - 3.0f;
    }
    pad2d_forward(y, x, &s);
    for (int n = 0; n < 2; n++) {
        for (int r = 0; r < oh; r++) {
            for (int q = 0; q < ow; q++) {
                for (int c = 0; c < 5; c++) {
                    int ir = r - s.top, iq = q - s.left;
                    float want = ir >= 0 && ir < 3 && iq >= 0 && iq < 4
                                     ? x[((n * 3 + ir) * 4 + iq) * 5 + c]
                                     : 0.0f;
                    assert_true(y[((n * oh + r) * ow + q) * 5 + c] == want);
                }
            }
        }
    }
    pad2d_backward(dx, g, &s);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < nout; i++) {
        lhs += (double)y[i] * g[i];
    }
    for (size_t i = 0; i < nin; i++) {
        rhs += (double)x[i] * (dx[i] - 0.5f);
    }
    assert_true(lhs == rhs);
    free(x);
    free(y);
    free(g);
    free(dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_and_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
