/* Per-channel sums over [m, c] rows. Each thread owns 1 or 4 channels
 * (cuda_channel_grid.h) and adds the rows of its lane within one chunk; a
 * block then adds its lanes, a second kernel the chunks, each in a fixed
 * order, all in double: deterministic for a given shape. */
#include "engine/cuda/cuda_channel_grid.h"
#include "engine/cuda/cuda_channel_sums.h"

#define SUM_ROWS_PER_LANE 8     /* rows of one thread, at least */
#define SUM_MAX_CHUNKS 1024
#define SUM_MAX_PARTIALS ((long)1 << 22)   /* chunks * c, bounds scratch */
#define TOTAL_TX 32             /* chunks_total: channels per block */
#define TOTAL_TY 16             /* chunks_total: chunk lanes per block */

/* The most chunks any grid for m x c may use (sizes the scratch). */
static int max_chunks(int m, int c)
{
    long chunks = ((long)m + SUM_ROWS_PER_LANE - 1) / SUM_ROWS_PER_LANE;
    long cap = SUM_MAX_PARTIALS / (c > 0 ? c : 1);
    chunks = chunks < SUM_MAX_CHUNKS ? chunks : SUM_MAX_CHUNKS;
    chunks = chunks < cap ? chunks : cap;
    return chunks < 1 ? 1 : (int)chunks;
}

/* part[0][chunk][c] and part[1][chunk][c]: each chunk's two sums. Dynamic
 * shared memory: 2 * V doubles per thread. */
template <int V, typename S, typename K>
__global__ static void chunk_sums(double *part, const S *a, const K *ka, const S *b,
                                  const K *kb, ThawChanGrid g)
{
    extern __shared__ double lane_sums[];
    const ThawChanSpan s = thaw_chan_span(g);
    double s1[V], s2[V];
    for (int v = 0; v < V; v++) {
        s1[v] = 0.0;
        s2[v] = 0.0;
    }
    if (s.ch >= 0) {
        float sa[V], sb[V];
        for (int v = 0; v < V; v++) {
            sa[v] = ka ? thaw_ld(ka[s.ch + v]) : 0.0f;
            sb[v] = kb ? thaw_ld(kb[s.ch + v]) : 0.0f;
        }
#pragma unroll 4
        for (long r = s.r; r < s.r1; r += g.lanes) {
            float va[V], vb[V];
            thaw_vload<V>(va, a + (size_t)r * g.c + s.ch);
            if (b) {
                thaw_vload<V>(vb, b + (size_t)r * g.c + s.ch);
            }
            for (int v = 0; v < V; v++) {
                float d = va[v] - sa[v];
                s1[v] += d;
                if (b) {
                    s2[v] += (double)d * (double)(vb[v] - sb[v]);
                }
            }
        }
    }
    const unsigned nt = blockDim.x, t = threadIdx.x;
    for (int v = 0; v < V; v++) {
        lane_sums[v * nt + t] = s1[v];
        lane_sums[(V + v) * nt + t] = s2[v];
    }
    __syncthreads();
    if (s.lane == 0 && s.ch >= 0) {
        const int chunk = (int)blockIdx.y;
        for (int v = 0; v < V; v++) {
            double t1 = 0.0, t2 = 0.0;
            for (int l = 0; l < g.lanes; l++) {
                unsigned from = t + (unsigned)(l * g.groups_per_block);
                t1 += lane_sums[v * nt + from];
                t2 += lane_sums[(V + v) * nt + from];
            }
            part[(size_t)chunk * g.c + s.ch + v] = t1;
            part[((size_t)g.chunks + chunk) * g.c + s.ch + v] = t2;
        }
    }
}

/* A block of 32 channels x 16 chunk lanes; lanes, then their sums in order. */
__global__ static void chunks_total(double *s1, double *s2, const double *part,
                                    int c, int chunks)
{
    __shared__ double sh1[TOTAL_TY][TOTAL_TX], sh2[TOTAL_TY][TOTAL_TX];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int ch = blockIdx.x * TOTAL_TX + tx;
    double t1 = 0.0, t2 = 0.0;
    if (ch < c) {
        for (int k = ty; k < chunks; k += TOTAL_TY) {
            t1 += part[(size_t)k * c + ch];
            t2 += part[((size_t)chunks + k) * c + ch];
        }
    }
    sh1[ty][tx] = t1;
    sh2[ty][tx] = t2;
    __syncthreads();
    if (ty == 0 && ch < c) {
        double u1 = 0.0, u2 = 0.0;
        for (int y = 0; y < TOTAL_TY; y++) {
            u1 += sh1[y][tx];
            u2 += sh2[y][tx];
        }
        s1[ch] = u1;
        if (s2) {
            s2[ch] = u2;
        }
    }
}

size_t thaw_cuda_channel_sums_scratch(int m, int c)
{
    return 2 * (size_t)max_chunks(m, c) * (size_t)(c > 0 ? c : 1) * sizeof(double);
}

template <typename S, typename K>
int thaw_cuda_channel_sums(ThawCudaContext *ctx, double *s1, double *s2, const S *a,
                           const K *ka, const S *b, const K *kb, int m, int c, void *scratch,
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
    const ThawChanGrid g = thaw_chan_grid(m, c, thaw_chan_aligned(a) && thaw_chan_aligned(b),
                                          SUM_ROWS_PER_LANE, max_chunks(m, c));
    const size_t shared = 2 * (size_t)g.vec * (size_t)(g.groups_per_block * g.lanes) *
                          sizeof(double);
    dim3 grid(g.blocks_x, (unsigned)g.chunks);
    unsigned threads = (unsigned)(g.groups_per_block * g.lanes);
    double *part = (double *)scratch;
    if (g.vec == 4) {
        chunk_sums<4, S, K><<<grid, threads, shared, ctx->stream>>>(part, a, ka, b, kb, g);
    } else {
        chunk_sums<1, S, K><<<grid, threads, shared, ctx->stream>>>(part, a, ka, b, kb, g);
    }
    THAW_CUDA_CHECK_LAUNCH("chunk_sums");
    dim3 tblock(TOTAL_TX, TOTAL_TY);
    chunks_total<<<(unsigned)((c + TOTAL_TX - 1) / TOTAL_TX), tblock, 0, ctx->stream>>>(
        s1, s2, part, c, g.chunks);
    THAW_CUDA_CHECK_LAUNCH("chunks_total");
    return 0;
}

template int thaw_cuda_channel_sums<float, float>(ThawCudaContext *, double *, double *,
                                                  const float *, const float *, const float *,
                                                  const float *, int, int, void *,
                                                  ThawError *);
template int thaw_cuda_channel_sums<thaw_bf16, thaw_bf16>(ThawCudaContext *, double *, double *,
                                                          const thaw_bf16 *, const thaw_bf16 *,
                                                          const thaw_bf16 *, const thaw_bf16 *,
                                                          int, int, void *, ThawError *);
template int thaw_cuda_channel_sums<thaw_bf16, float>(ThawCudaContext *, double *, double *,
                                                      const thaw_bf16 *, const float *,
                                                      const thaw_bf16 *, const float *, int,
                                                      int, void *, ThawError *);

__global__ static void add_sums(float *dst, const double *sums, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        dst[i] += (float)sums[i];
    }
}

int thaw_cuda_add_column_sums(ThawCudaContext *ctx, float *dst, const void *a, int m, int c,
                              ThawError *err)
{
    if (c <= 0) {
        return 0;
    }
    size_t part = thaw_cuda_channel_sums_scratch(m, c);
    void *tmp = NULL;
    int rc = thaw_cuda_scratch(ctx, part + (size_t)c * sizeof(double), &tmp, err);
    if (rc) {
        return rc;
    }
    double *sums = (double *)((char *)tmp + part);
    rc = ctx->act_bf16
             ? thaw_cuda_channel_sums<thaw_bf16, float>(ctx, sums, NULL, (const thaw_bf16 *)a,
                                                        NULL, NULL, NULL, m, c, tmp, err)
             : thaw_cuda_channel_sums<float, float>(ctx, sums, NULL, (const float *)a, NULL,
                                                    NULL, NULL, m, c, tmp, err);
    if (rc) {
        return rc;
    }
    add_sums<<<(unsigned)((c + 127) / 128), 128, 0, ctx->stream>>>(dst, sums, c);
    THAW_CUDA_CHECK_LAUNCH("add_sums");
    return 0;
}
