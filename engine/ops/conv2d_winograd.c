/* 3x3 stride-1 convolutions as Winograd F(2x2, 3x3) (Lavin and Gray, 2015).
 *
 * Each 2x2 block of output pixels (a tile) comes from a 4x4 input patch.
 * With V = B^T d B per patch and channel, U = G g G^T per filter, and
 * M = A^T (...) A for the output, the convolution becomes 16 independent
 * GEMMs, one per position xi of the 4x4 transformed tile:
 *   M[xi][tile][k] = V[xi][tile][c] x U[xi][c][k]
 * 16 multiplies per tile and channel pair instead of 36: 2.25x fewer
 * FLOPs, paid for with three streaming transforms. NHWC keeps channels
 * contiguous, so every transform runs over 8 channels at a time (one AVX2
 * register), from fixed-size local arrays the compiler vectorises.
 *
 * Threads take whole chunks of tiles (their own V and M buffers, their own
 * single-threaded GEMMs); every output pixel is written by one tile, so the
 * result does not depend on the schedule. Used for the forward pass and for
 * the data gradient of stride-1 3x3 convs (a 3x3 convolution of dout with
 * the flipped weights), where channels are multiples of 8 and the output is
 * big enough for the tiles to pay (conv2d_wino_applies): 64 channels or
 * more (with 32 the GEMMs' inner dimension is too short to run near peak).
 * Batch 32 on 2 cores, forward 1.1-1.7x (24x24x64 16.6 -> 13.5 ms,
 * 28x28x128 52 -> 42, 14x14x256 52 -> 31, 12x12x128 9.6 -> 7.3), 7x7x512
 * even. With 2 MB tile chunks 64 channels did not gain; 8 MB ones do. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "conv2d_internal.h"

enum { LANES = 8 };

/* Floats of V plus M per chunk of tiles: 8 im2col chunks (8 MB by
 * default), so fewer, taller GEMMs repack the transformed weights less
 * often (7x7x512: 53 -> 48 ms against 2 MB). Tests shrink it with
 * conv2d_set_chunk_budget to get many chunks from small shapes. */
#define WINO_CHUNK_FLOATS (8 * conv2d_chunk_budget())
#define WINO_MIN_TILES 32

int conv2d_wino_applies(const Conv2dShape *s)
{
    return s->r == 3 && s->s == 3 && s->stride_h == 1 && s->stride_w == 1 &&
           s->dil_h == 1 && s->dil_w == 1 && s->groups == 1 && s->c % LANES == 0 &&
           s->k % LANES == 0 && s->c >= 64 && s->k >= 64 && s->p >= 6 && s->q >= 6 &&
           s->pad_h <= 2 && s->pad_w <= 2;
}

static int tiles_h(const Conv2dShape *s) { return (s->p + 1) / 2; }
static int tiles_w(const Conv2dShape *s) { return (s->q + 1) / 2; }

static int tiles_per_chunk(const Conv2dShape *s)
{
    long long per = (long long)(WINO_CHUNK_FLOATS / (16 * (size_t)(s->c + s->k)));
    if (per < WINO_MIN_TILES) {
        per = WINO_MIN_TILES;
    }
    long long tiles = (long long)s->n * tiles_h(s) * tiles_w(s);
    return conv2d_balance_chunk(tiles, per);
}

static size_t thread_floats(const Conv2dShape *s)
{
    return 16 * (size_t)tiles_per_chunk(s) * (size_t)(s->c + s->k);
}

/* [U: 16*c*k][zeros: c][V and M per thread] */
size_t conv2d_wino_workspace_floats(const Conv2dShape *s)
{
    if (!conv2d_wino_applies(s)) {
        return 0;
    }
    return 16 * (size_t)s->c * s->k + (size_t)s->c +
           (size_t)conv2d_threads() * thread_floats(s);
}

/* u[xi][c][k] = (G g G^T)[xi] for g = wr[k][.][.][c]. */
static void transform_weights(float *u, const float *wr, int c, int k)
{
    const size_t ck = (size_t)c * k;
#pragma omp parallel for num_threads(conv2d_threads()) schedule(static)
    for (int kk = 0; kk < k; kk++) {
        const float *w = wr + (size_t)kk * 9 * c;
        for (int cc = 0; cc < c; cc++) {
            float t[4][3];   /* G g */
            for (int j = 0; j < 3; j++) {
                float g0 = w[(size_t)j * c + cc], g1 = w[(size_t)(3 + j) * c + cc];
                float g2 = w[(size_t)(6 + j) * c + cc];
                t[0][j] = g0;
                t[1][j] = 0.5f * (g0 + g1 + g2);
                t[2][j] = 0.5f * (g0 - g1 + g2);
                t[3][j] = g2;
            }
            for (int i = 0; i < 4; i++) {   /* (G g) G^T */
                float v[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                              0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; j++) {
                    u[(size_t)(i * 4 + j) * ck + (size_t)cc * k + kk] = v[j];
                }
            }
        }
    }
}

/* v[xi][tile - t0][c] = (B^T d B)[xi] for the 4x4 input patch of each tile
 * in [t0, t1); taps outside the image read `zeros`. */
static void transform_input(float *v, const float *in, const float *zeros,
                            const Conv2dShape *s, int t0, int t1)
{
    const int C = s->c, th = tiles_h(s), tw = tiles_w(s);
    const size_t vs = (size_t)(t1 - t0) * C;   /* between xi planes */
    for (int t = t0; t < t1; t++) {
        const int n = t / (th * tw), rem = t % (th * tw);
        const int y0 = (rem / tw) * 2 - s->pad_h, x0 = (rem % tw) * 2 - s->pad_w;
        const float *p[16];
        for (int a = 0; a < 4; a++) {
            for (int b = 0; b < 4; b++) {
                int y = y0 + a, x = x0 + b;
                p[a * 4 + b] = y >= 0 && y < s->h && x >= 0 && x < s->w
                                   ? in + (((size_t)n * s->h + y) * s->w + x) * C
                                   : zeros;
            }
        }
        float *o = v + (size_t)(t - t0) * C;
        for (int c = 0; c < C; c += LANES) {
            float d[16][LANES], r[16][LANES];
            for (int i = 0; i < 16; i++) {
                memcpy(d[i], p[i] + c, sizeof d[i]);
            }
            for (int j = 0; j < 4; j++) {   /* B^T d */
                for (int l = 0; l < LANES; l++) {
                    r[j][l] = d[j][l] - d[8 + j][l];
                    r[4 + j][l] = d[4 + j][l] + d[8 + j][l];
                    r[8 + j][l] = d[8 + j][l] - d[4 + j][l];
                    r[12 + j][l] = d[4 + j][l] - d[12 + j][l];
                }
            }
            for (int i = 0; i < 4; i++) {   /* (B^T d) B */
                const float *ri = r[4 * i];
                float out[4][LANES];
                for (int l = 0; l < LANES; l++) {
                    out[0][l] = ri[l] - ri[2 * LANES + l];
                    out[1][l] = ri[LANES + l] + ri[2 * LANES + l];
                    out[2][l] = ri[2 * LANES + l] - ri[LANES + l];
                    out[3][l] = ri[LANES + l] - ri[3 * LANES + l];
                }
                for (int j = 0; j < 4; j++) {
                    memcpy(o + (size_t)(i * 4 + j) * vs + c, out[j], sizeof out[j]);
                }
            }
        }
    }
}

/* out = beta*out + (A^T m A) (+ bias) for the tiles [t0, t1), whose
 * transformed products are m[xi][tile - t0][k]; pixels past the output's
 * edge (odd p or q) are dropped. */
static void transform_output(float *out, float beta, const float *m, const float *bias,
                             const Conv2dShape *s, int t0, int t1)
{
    const int K = s->k, th = tiles_h(s), tw = tiles_w(s);
    const size_t ms = (size_t)(t1 - t0) * K;
    for (int t = t0; t < t1; t++) {
        const int n = t / (th * tw), rem = t % (th * tw);
        const int y0 = (rem / tw) * 2, x0 = (rem % tw) * 2;
        const float *mt = m + (size_t)(t - t0) * K;
        float *dst[4];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                int y = y0 + i, x = x0 + j;
                dst[i * 2 + j] = y < s->p && x < s->q
                                     ? out + (((size_t)n * s->p + y) * s->q + x) * K
                                     : NULL;
            }
        }
        for (int k = 0; k < K; k += LANES) {
            float a[16][LANES], r[8][LANES];
            for (int i = 0; i < 16; i++) {
                memcpy(a[i], mt + (size_t)i * ms + k, sizeof a[i]);
            }
            for (int j = 0; j < 4; j++) {   /* A^T m */
                for (int l = 0; l < LANES; l++) {
                    r[j][l] = a[j][l] + a[4 + j][l] + a[8 + j][l];
                    r[4 + j][l] = a[4 + j][l] - a[8 + j][l] - a[12 + j][l];
                }
            }
            for (int i = 0; i < 2; i++) {   /* (A^T m) A */
                float y[2][LANES];
                for (int l = 0; l < LANES; l++) {
                    y[0][l] = r[4 * i][l] + r[4 * i + 1][l] + r[4 * i + 2][l];
                    y[1][l] = r[4 * i + 1][l] - r[4 * i + 2][l] - r[4 * i + 3][l];
                    if (bias) {
                        y[0][l] += bias[k + l];
                        y[1][l] += bias[k + l];
                    }
                }
                for (int j = 0; j < 2; j++) {
                    float *o = dst[i * 2 + j];
                    if (!o) {
                        continue;
                    }
                    o += k;
                    if (beta != 0.0f) {
                        for (int l = 0; l < LANES; l++) {
                            o[l] = beta * o[l] + y[j][l];
                        }
                    } else {
                        memcpy(o, y[j], sizeof y[j]);
                    }
                }
            }
        }
    }
}

void conv2d_wino_forward(float *out, float beta, const float *in, const float *wr,
                         const float *bias, const Conv2dShape *s, float *ws)
{
    const int C = s->c, K = s->k;
    float *u = ws, *zeros = u + 16 * (size_t)C * K, *bufs = zeros + C;
    memset(zeros, 0, (size_t)C * sizeof *zeros);
    transform_weights(u, wr, C, K);
    const int tiles = s->n * tiles_h(s) * tiles_w(s);
    const int per = tiles_per_chunk(s);
    const int chunks = (tiles + per - 1) / per;
    const size_t stride = thread_floats(s);
    const int saved = conv2d_blas_single_begin();
#pragma omp parallel num_threads(conv2d_threads())
    {
        float *v = bufs + (size_t)omp_get_thread_num() * stride;
        float *m = v + 16 * (size_t)per * C;
#pragma omp for schedule(dynamic, 1)
        for (int ci = 0; ci < chunks; ci++) {
            int t0 = ci * per, t1 = t0 + per < tiles ? t0 + per : tiles, nt = t1 - t0;
            transform_input(v, in, zeros, s, t0, t1);
            for (int xi = 0; xi < 16; xi++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nt, K, C, 1.0f,
                            v + (size_t)xi * nt * C, C, u + (size_t)xi * C * K, K, 0.0f,
                            m + (size_t)xi * nt * K, K);
            }
            transform_output(out, beta, m, bias, s, t0, t1);
        }
    }
    conv2d_blas_single_end(saved);
}
