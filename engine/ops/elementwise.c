/* Residual add, inverted dropout, flatten and layout conversion.
 *
 * Dropout's generator is splitmix64 used as a counter hash: draw k of a call
 * is mix(state + (k+1) * GOLDEN), exactly what k+1 sequential splitmix64
 * steps give, so elements can be filled in parallel and the result is the
 * same for any thread count. Each draw feeds two elements (32 bits each). */
#include "engine/ops/elementwise.h"

#include <string.h>

#define EW_PAR_MIN ((size_t)1 << 16)
#define SPLITMIX_GOLDEN 0x9E3779B97F4A7C15ull
#define TR_TILE 32

void add_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        out[i] = a[i] + b[i];
    }
}

void add_backward(float *da, float *db, const float *dout, size_t n)
{
    if (da) {
#pragma omp parallel for simd schedule(static) if (n >= EW_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            da[i] += dout[i];
        }
    }
    if (db) {
#pragma omp parallel for simd schedule(static) if (n >= EW_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            db[i] += dout[i];
        }
    }
}

static inline uint64_t splitmix_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void dropout_forward(float *out, float *mask, const float *in, float p,
                     size_t n, uint64_t *rng_state)
{
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++) {
            mask[i] = 1.0f;
        }
        if (out != in) {
            memmove(out, in, n * sizeof(float));
        }
        return;
    }
    size_t draws = (n + 1) / 2;
    uint64_t s0 = *rng_state;
    *rng_state = s0 + (uint64_t)draws * SPLITMIX_GOLDEN;
    if (p >= 1.0f) {
        /* PyTorch's p = 1 zeroes everything; 1/(1-p) would be inf. */
        for (size_t i = 0; i < n; i++) {
            mask[i] = 0.0f;
            out[i] = 0.0f;
        }
        return;
    }
    /* keep when the 32-bit draw u satisfies u >= p * 2^32 */
    const uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    const float scale = (float)(1.0 / (1.0 - (double)p));
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
    for (size_t k = 0; k < draws; k++) {
        uint64_t r = splitmix_mix(s0 + (k + 1) * SPLITMIX_GOLDEN);
        size_t i = 2 * k;
        float m0 = (r & 0xFFFFFFFFull) >= thr ? scale : 0.0f;
        mask[i] = m0;
        out[i] = in[i] * m0;
        if (i + 1 < n) {
            float m1 = (r >> 32) >= thr ? scale : 0.0f;
            mask[i + 1] = m1;
            out[i + 1] = in[i + 1] * m1;
        }
    }
}

void dropout_backward(float *din, const float *dout, const float *mask,
                      size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= EW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        din[i] += dout[i] * mask[i];
    }
}

/* For each of n matrices: out[j, i] (=|+=) in[i, j], in being rows x cols.
 * Tiled so both sides touch whole cache lines. */
static void transpose_batch(float *out, const float *in, int n, int rows,
                            int cols, int accumulate)
{
    const size_t per = (size_t)rows * cols;
    const int tr = (rows + TR_TILE - 1) / TR_TILE;
#pragma omp parallel for collapse(2) schedule(static) \
    if ((size_t)n * per >= EW_PAR_MIN)
    for (int b = 0; b < n; b++) {
        for (int t = 0; t < tr; t++) {
            const float *src = in + b * per;
            float *dst = out + b * per;
            int i0 = t * TR_TILE;
            int i1 = i0 + TR_TILE < rows ? i0 + TR_TILE : rows;
            for (int j0 = 0; j0 < cols; j0 += TR_TILE) {
                int j1 = j0 + TR_TILE < cols ? j0 + TR_TILE : cols;
                for (int j = j0; j < j1; j++) {
                    float *d = dst + (size_t)j * rows;
                    if (accumulate) {
                        for (int i = i0; i < i1; i++) {
                            d[i] += src[(size_t)i * cols + j];
                        }
                    } else {
                        for (int i = i0; i < i1; i++) {
                            d[i] = src[(size_t)i * cols + j];
                        }
                    }
                }
            }
        }
    }
}

void flatten_forward(float *out, const float *in, int n, int h, int w, int c)
{
    transpose_batch(out, in, n, h * w, c, 0);
}

void flatten_backward(float *din, const float *dout, int n, int h, int w,
                      int c)
{
    transpose_batch(din, dout, n, c, h * w, 1);
}

void nchw_to_nhwc(float *out, const float *in, int n, int c, int h, int w)
{
    transpose_batch(out, in, n, c, h * w, 0);
}

void nhwc_to_nchw(float *out, const float *in, int n, int h, int w, int c)
{
    transpose_batch(out, in, n, h * w, c, 0);
}
