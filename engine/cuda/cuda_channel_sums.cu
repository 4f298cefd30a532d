/* Per-channel sums over [m, c] rows: a block of 32 channels x 8 row lanes
 * reads 128-byte runs of one row (coalesced), each lane strides over the
 * rows of its chunk; lanes, then chunks, are added in a fixed order. */
#include "engine/cuda/cuda_channel_sums.h"

#define SUM_TX 32               /* channels per block */
#define SUM_TY 8                /* row lanes per block */
#define SUM_MIN_ROWS 32         /* rows per chunk, at least */
#define SUM_MAX_CHUNKS 1024
#define SUM_MAX_PARTIALS ((size_t)1 << 22)   /* chunks * c, bounds scratch */

static int chunk_count(int m, int c)
{
    long chunks = (m + SUM_MIN_ROWS - 1) / SUM_MIN_ROWS;
    long cap = (long)(SUM_MAX_PARTIALS / (size_t)(c > 0 ? c : 1));
    if (chunks > SUM_MAX_CHUNKS) {
        chunks = SUM_MAX_CHUNKS;
    }
    if (chunks > cap) {
        chunks = cap;
    }
    return chunks < 1 ? 1 : (int)chunks;
}

/* part[0][chunk][c] and part[1][chunk][c]: each chunk's two sums. */
__global__ static void chunk_sums(double *part, const float *a, const float *ka,
                                  const float *b, const float *kb, int m, int c,
                                  int rows_per_chunk, int chunks)
{
    __shared__ double sh1[SUM_TY][SUM_TX], sh2[SUM_TY][SUM_TX];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int ch = blockIdx.x * SUM_TX + tx, chunk = blockIdx.y;
    double s1 = 0.0, s2 = 0.0;
    if (ch < c) {
        const float sa = ka ? ka[ch] : 0.0f, sb = kb ? kb[ch] : 0.0f;
        long r0 = (long)chunk * rows_per_chunk, r1 = r0 + rows_per_chunk;
        r1 = r1 < m ? r1 : m;
        for (long i = r0 + ty; i < r1; i += SUM_TY) {
            float va = a[(size_t)i * c + ch] - sa;
            s1 += va;
            if (b) {
                s2 += (double)va * (double)(b[(size_t)i * c + ch] - sb);
            }
        }
    }
    sh1[ty][tx] = s1;
    sh2[ty][tx] = s2;
    __syncthreads();
    if (ty == 0 && ch < c) {
        double t1 = 0.0, t2 = 0.0;
        for (int y = 0; y < SUM_TY; y++) {
            t1 += sh1[y][tx];
            t2 += sh2[y][tx];
        }
        part[(size_t)chunk * c + ch] = t1;
        part[((size_t)chunks + chunk) * c + ch] = t2;
    }
}

__global__ static void chunks_total(double *s1, double *s2, const double *part,
                                    int c, int chunks)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) {
        return;
    }
    double t1 = 0.0, t2 = 0.0;
    for (int k = 0; k < chunks; k++) {
        t1 += part[(size_t)k * c + ch];
        t2 += part[((size_t)chunks + k) * c + ch];
    }
    s1[ch] = t1;
    if (s2) {
        s2[ch] = t2;
    }
}

size_t thaw_cuda_channel_sums_scratch(int m, int c)
{
    return 2 * (size_t)chunk_count(m, c) * (size_t)(c > 0 ? c : 1) * sizeof(double);
}

int thaw_cuda_channel_sums(ThawCudaContext *ctx, double *s1, double *s2,
                           const float *a, const float *ka, const float *b,
                           const float *kb, int m, int c, void *scratch,
                           ThawError *err)
{
    if (c <= 0) {
        return 0;
    }
    if (m <= 0) {
        /* Nothing to add: the sums are zero. */
        THAW_CUDA_CHECK(cudaMemsetAsync(s1, 0, (size_t)c * sizeof(double), ctx->stream));
        if (s2) {
            THAW_CUDA_CHECK(cudaMemsetAsync(s2, 0, (size_t)c * sizeof(double), ctx->stream));
        }
        return 0;
    }
    const int chunks = chunk_count(m, c);
    const int rows = (m + chunks - 1) / chunks;
    dim3 block(SUM_TX, SUM_TY), grid((unsigned)((c + SUM_TX - 1) / SUM_TX), (unsigned)chunks);
    double *part = (double *)scratch;
    chunk_sums<<<grid, block, 0, ctx->stream>>>(part, a, ka, b, kb, m, c, rows, chunks);
    THAW_CUDA_CHECK_LAUNCH("chunk_sums");
    chunks_total<<<(unsigned)((c + 127) / 128), 128, 0, ctx->stream>>>(s1, s2, part, c, chunks);
    THAW_CUDA_CHECK_LAUNCH("chunks_total");
    return 0;
}
