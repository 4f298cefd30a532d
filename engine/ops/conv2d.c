/* 2-D convolution on the CPU: im2col + OpenBLAS GEMM.
 *
 * With NHWC activations the output of a group is one row-major matrix
 * out[n*p*q, k] (ldc = k), so each chunk of output rows is one GEMM per group:
 *   out[m, kg] = col[m, r*s*cg] x wr_g^T        (wr: [k][r][s][cg])
 * im2col in (r, s, c) order copies contiguous runs of channels. 1x1
 * stride-1 unpadded convs need no im2col: col is the input itself.
 * Backward:
 *   dW_g  += dout_g^T x col_g, col recomputed chunk by chunk, summed in a
 *            partial per fixed run of chunks (GEMM beta=1), reduced once;
 *   din   += for stride 1: a stride-1 convolution of dout with flipped,
 *            transposed weights, accumulated by the GEMM itself (beta=1);
 *            for 1x1 stride 1: dout x W in the same pass as dW;
 *            otherwise dcol = dout x wr, then a gather col2im.
 * Threads: one OpenMP region per pass; each thread takes whole chunks
 * (dynamic schedule; dW's partials are fixed runs of chunks, so its sums
 * are the same bits on every run) and runs its own im2col and
 * single-threaded GEMMs, so
 * OpenBLAS's pool and OpenMP's never spin against each other on the same
 * cores. The im2col chunk is ~1 MB per thread (at least 512 GEMM rows), so
 * the workspace does not grow with the batch. Depthwise convs take a direct
 * NHWC kernel (conv2d_depthwise.c); 3x3 stride-1 convs with 64 channels
 * or more take Winograd F(2x2, 3x3) (conv2d_winograd.c) for the forward
 * pass and the data gradient. */
#include "conv2d.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "conv2d_internal.h"

int conv2d_shape_init(Conv2dShape *s, int n, int h, int w, int c, int k,
                      int r, int kernel_s, int stride, int pad, int dilation,
                      int groups)
{
    memset(s, 0, sizeof *s);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || k <= 0 || r <= 0 ||
        kernel_s <= 0 || stride <= 0 || pad < 0 || dilation <= 0 ||
        groups <= 0 || c % groups || k % groups) {
        return -1;
    }
    s->n = n; s->h = h; s->w = w; s->c = c; s->k = k;
    s->r = r; s->s = kernel_s;
    s->stride_h = s->stride_w = stride;
    s->pad_h = s->pad_w = pad;
    s->dil_h = s->dil_w = dilation;
    s->groups = groups;
    int eh = h + 2 * pad - dilation * (r - 1);
    int ew = w + 2 * pad - dilation * (kernel_s - 1);
    if (eh <= 0 || ew <= 0) {
        return -1;
    }
    s->p = (eh - 1) / stride + 1;
    s->q = (ew - 1) / stride + 1;
    return 0;
}

static int g_winograd = 1;

void conv2d_set_winograd(int on)
{
    g_winograd = on != 0;
}

static int use_winograd(const Conv2dShape *s)
{
    return g_winograd && conv2d_wino_applies(s);
}

/* 1x1, stride 1, no padding: the input already is the column matrix. */
static int is_pointwise(const Conv2dShape *s)
{
    return s->r == 1 && s->s == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_h == 0 && s->pad_w == 0;
}

/* din as a forward conv of dout works for unit stride when the implied
 * padding dil*(r-1) - pad is not negative. */
static int bwd_data_as_conv(const Conv2dShape *s)
{
    return s->stride_h == 1 && s->stride_w == 1 && s->r * s->s > 1 &&
           s->pad_h <= s->dil_h * (s->r - 1) && s->pad_w <= s->dil_w * (s->s - 1);
}

/* Shape of that transposed convolution: dout [n,p,q,k] -> din [n,h,w,c]. */
static Conv2dShape transposed_shape(const Conv2dShape *s)
{
    Conv2dShape t = *s;
    t.h = s->p; t.w = s->q; t.c = s->k; t.k = s->c;
    t.pad_h = s->dil_h * (s->r - 1) - s->pad_h;
    t.pad_w = s->dil_w * (s->s - 1) - s->pad_w;
    t.p = s->h; t.q = s->w;
    return t;
}

static size_t weight_floats(const Conv2dShape *s)
{
    if (s->r * s->s == 1) {
        return 0;   /* 1x1 weights need no reorder */
    }
    return (size_t)s->k * s->r * s->s * (s->c / s->groups);
}

/* Floats of one thread's im2col chunk. */
static size_t chunk_floats(const Conv2dShape *s)
{
    if (is_pointwise(s)) {
        return 0;
    }
    return (size_t)conv2d_rows_per_chunk(s, conv2d_chunk_budget()) * s->q *
           s->r * s->s * s->c;
}

/* Per-thread im2col chunk (forward, and the transposed conv of the data
 * gradient when that path is taken). */
static size_t thread_col_floats(const Conv2dShape *s)
{
    size_t col = chunk_floats(s);
    if (bwd_data_as_conv(s)) {
        Conv2dShape t = transposed_shape(s);
        size_t ct = chunk_floats(&t);
        col = col > ct ? col : ct;
    }
    return col;
}

static void add_bias_rows(float *out, const float *bias, size_t m, int k)
{
    for (size_t i = 0; i < m; i++) {
        float *o = out + i * k;
        for (int j = 0; j < k; j++) {
            o[j] += bias[j];
        }
    }
}

/* Pixels per thread chunk of a 1x1 GEMM (no im2col, so no buffer to bound:
 * only enough rows to pay for repacking the weights on every call). */
static int pointwise_rows(const Conv2dShape *s)
{
    long long wide = s->c > s->k ? s->c : s->k;
    long long m = (long long)(conv2d_chunk_budget() / (size_t)wide);
    if (conv2d_chunk_budget() >= CONV2D_COL_BUDGET / 4 && m < 2 * CONV2D_MIN_GEMM_ROWS) {
        m = 2 * CONV2D_MIN_GEMM_ROWS;
    }
    return conv2d_balance_chunk((long long)s->n * s->h * s->w, m);
}

/* One chunk's column matrix for rows [row0, row1) of the output (images x
 * output rows, or pixels for 1x1 stride-1 convs): the im2col of that chunk
 * in col, or the input itself where no im2col is needed. m rows, ld apart,
 * kd columns per group. */
typedef struct {
    const float *a;
    int m, ld, kd;
} ChunkCols;

static ChunkCols chunk_cols(const float *in, const Conv2dShape *s, float *col, int row0,
                            int row1)
{
    ChunkCols c = {in + (size_t)row0 * s->c, row1 - row0, s->c, s->c / s->groups};
    if (!is_pointwise(s)) {
        conv2d_im2col(col, in, s, row0, row1, 0, 1);
        c.a = col;
        c.m = (row1 - row0) * s->q;
        c.ld = s->r * s->s * s->c;
        c.kd = s->r * s->s * (s->c / s->groups);
    }
    return c;
}

/* out = beta*out + conv(in, wr) (+ bias); wr in [k][r][s][cg] order.
 * Each thread takes whole chunks of output rows: its own im2col, its own
 * GEMMs, so threads never share or wait on a buffer. */
static void gemm_conv(float *out, float beta, const float *in, const float *wr,
                      const float *bias, const Conv2dShape *s, float *col,
                      size_t col_stride)
{
    const int G = s->groups, kg = s->k / G;
    const int pw = is_pointwise(s);
    const int rows = pw ? s->n * s->h * s->w : s->n * s->p;
    const int rpc = pw ? pointwise_rows(s) : conv2d_rows_per_chunk(s, conv2d_chunk_budget());
    const int chunks = (rows + rpc - 1) / rpc;
    const int saved = conv2d_blas_single_begin();
#pragma omp parallel num_threads(conv2d_threads())
    {
        float *mycol = col + (size_t)omp_get_thread_num() * col_stride;
#pragma omp for schedule(dynamic, 1)
        for (int ci = 0; ci < chunks; ci++) {
            int row0 = ci * rpc, row1 = row0 + rpc < rows ? row0 + rpc : rows;
            const ChunkCols c = chunk_cols(in, s, mycol, row0, row1);
            float *o = out + (size_t)row0 * (pw ? 1 : s->q) * s->k;
            for (int g = 0; g < G; g++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c.m, kg, c.kd,
                            1.0f, c.a + (size_t)g * c.kd, c.ld,
                            wr + (size_t)g * kg * c.kd, c.kd, beta,
                            o + (size_t)g * kg, s->k);
            }
            if (bias) {
                add_bias_rows(o, bias, (size_t)c.m, s->k);
            }
        }
    }
    conv2d_blas_single_end(saved);
}

void conv2d_forward(float *out, const float *in, const float *weight,
                    const float *bias, const Conv2dShape *s, float *workspace)
{
    if (conv2d_is_depthwise(s)) {
        conv2d_dw_forward(out, in, weight, bias, s, workspace);
        return;
    }
    const float *wr = weight;
    if (weight_floats(s)) {
        conv2d_reorder_weight(workspace, weight, s);
        wr = workspace;
    }
    if (use_winograd(s)) {
        conv2d_wino_forward(out, 0.0f, in, wr, bias, s, workspace + weight_floats(s));
        return;
    }
    gemm_conv(out, 0.0f, in, wr, bias, s, workspace + weight_floats(s),
              chunk_floats(s));
}

/* dbias[j] += sum over rows of dout[:, j]; rows split over threads in
 * fixed blocks, each with a private partial per block of channels, added
 * in thread order (the same bits on every run). */
static void bias_grad(float *dbias, const float *dout, size_t m, int k)
{
    enum { KB = 256 };
    for (int k0 = 0; k0 < k; k0 += KB) {
        int kn = k - k0 < KB ? k - k0 : KB;
#pragma omp parallel
        {
            float acc[KB];
            memset(acc, 0, sizeof acc);
#pragma omp for schedule(static) nowait
            for (size_t i = 0; i < m; i++) {
                const float *d = dout + i * k + k0;
                for (int j = 0; j < kn; j++) {
                    acc[j] += d[j];
                }
            }
            /* iteration t runs on thread t; ordered adds them 0, 1, ... */
#pragma omp for ordered schedule(static, 1)
            for (int t = 0; t < omp_get_num_threads(); t++) {
#pragma omp ordered
                {
                    for (int j = 0; j < kn; j++) {
                        dbias[k0 + j] += acc[j];
                    }
                }
            }
        }
    }
}

/* dweight += the partial dW of every slot, in slot order. Slot 0's partial
 * is wbuf in [k][r][s][cg] order, or dweight itself for 1x1 weights; the
 * others sit in `extra`, one k*kdim block each, in the same order as slot
 * 0's. */
static void reduce_weight_grad(float *dweight, const float *wbuf,
                               const float *extra, int nextra,
                               const Conv2dShape *s)
{
    const int cg = s->c / s->groups, ntap = s->r * s->s;
    const size_t block = (size_t)s->k * ntap * cg;
#pragma omp parallel for num_threads(conv2d_threads()) schedule(static)
    for (int k = 0; k < s->k; k++) {
        for (int j = 0; j < cg; j++) {
            for (int tap = 0; tap < ntap; tap++) {
                size_t from = ((size_t)k * ntap + tap) * cg + j;
                float sum = wbuf ? wbuf[from] : 0.0f;
                for (int e = 0; e < nextra; e++) {
                    sum += extra[(size_t)e * block + from];
                }
                dweight[((size_t)k * cg + j) * ntap + tap] += sum;
            }
        }
    }
}

/* Partials of the weight gradient, at most: two per thread, so a thread
 * slowed by another process leaves its second run of chunks to a faster
 * one. */
static int weight_grad_slots(void)
{
    int nt = conv2d_threads();
    return nt > 1 ? 2 * nt : 1;
}

/* The slots for `chunks` equal chunks (usually a multiple of the thread
 * count): two per thread when there are enough chunks to cut (*chunks
 * rounded up to a multiple of them), else one per thread (or per chunk,
 * when there are fewer). More chunks than that would cost more than they
 * balance: every chunk's GEMM reads and writes its whole weight-sized
 * partial. A function of the shape and the thread count only. */
static int weight_grad_slots_for(int *chunks)
{
    const int nt = conv2d_threads(), most = weight_grad_slots();
    if (most == 1 || *chunks % most == 0) {
        return most;
    }
    if (*chunks >= 2 * most) {
        *chunks = (*chunks + most - 1) / most * most;
        return most;
    }
    return *chunks < nt ? *chunks : nt;
}

/* Layout: [reordered weights][one col chunk per thread][a dW partial per
 * weight-gradient slot but the first]. */
size_t conv2d_workspace_floats(const Conv2dShape *s)
{
    if (conv2d_is_depthwise(s)) {
        return conv2d_dw_workspace_floats(s);
    }
    size_t nt = (size_t)conv2d_threads();
    size_t dw = (size_t)s->k * s->r * s->s * (s->c / s->groups);
    size_t gemm = weight_floats(s) + nt * thread_col_floats(s) +
                  (size_t)(weight_grad_slots() - 1) * dw;
    /* Winograd's buffers start where the col chunks do (the forward, and
     * the data gradient, which runs after the weight gradient's partials
     * are reduced). Sized whether or not conv2d_set_winograd has it on. */
    size_t wino = conv2d_wino_workspace_floats(s);
    if (bwd_data_as_conv(s)) {
        Conv2dShape t = transposed_shape(s);
        size_t wt = conv2d_wino_workspace_floats(&t);
        wino = wino > wt ? wino : wt;
    }
    wino += weight_floats(s);
    return gemm > wino ? gemm : wino;
}

/* dW_g += dout_g^T x col_g. The chunks are cut into fixed runs (slots),
 * each summed into its own partial (GEMM beta=0, then 1) and the
 * partials added in slot order at the end: which chunks a partial holds,
 * and so every bit of dW, does not depend on which thread ran it or when.
 * Threads take whole slots dynamically (no barriers, which stall badly when
 * other processes share the cores). For 1x1 stride-1 convs
 * din (when not NULL) is done in the same pass, din_chunk += dout_chunk x W,
 * while the dout chunk is still in cache: dout is read from memory once. */
static void weight_grad(float *dweight, float *din, const float *dout,
                        const float *in, const float *weight,
                        const Conv2dShape *s, float *wbuf, float *col,
                        size_t col_stride, float *part)
{
    const int G = s->groups, cg = s->c / G, kg = s->k / G;
    const int kdim = s->r * s->s * cg;
    const int pw = is_pointwise(s);
    const size_t block = (size_t)s->k * kdim;
    /* 1x1 weights share PyTorch's layout: slot 0 adds into dweight. */
    float *acc0 = weight_floats(s) ? wbuf : dweight;
    const int rows = pw ? s->n * s->h * s->w : s->n * s->p;
    int rpc = pw ? pointwise_rows(s) : conv2d_rows_per_chunk(s, conv2d_chunk_budget());
    int chunks = (rows + rpc - 1) / rpc, want = chunks;
    const int slots = weight_grad_slots_for(&want);
    if (want != chunks) {
        /* shorter chunks: the im2col buffer still fits */
        rpc = (rows + want - 1) / want;
        chunks = (rows + rpc - 1) / rpc;
    }
    const int saved = conv2d_blas_single_begin();
#pragma omp parallel num_threads(conv2d_threads())
    {
        float *mycol = col + (size_t)omp_get_thread_num() * col_stride;
#pragma omp for schedule(dynamic, 1)
        for (int slot = 0; slot < slots; slot++) {
            float *acc = slot == 0 ? acc0 : part + (size_t)(slot - 1) * block;
            const int c0 = (int)((long)chunks * slot / slots);
            const int c1 = (int)((long)chunks * (slot + 1) / slots);
            if (acc != dweight && c0 == c1) {
                memset(acc, 0, block * sizeof(float));
            }
            for (int ci = c0; ci < c1; ci++) {
                /* a partial's first GEMM writes it (no zeroing pass) */
                const float beta = acc != dweight && ci == c0 ? 0.0f : 1.0f;
                int row0 = ci * rpc, row1 = row0 + rpc < rows ? row0 + rpc : rows;
                const ChunkCols c = chunk_cols(in, s, mycol, row0, row1);
                const float *d = dout + (size_t)row0 * (pw ? 1 : s->q) * s->k;
                for (int g = 0; g < G; g++) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, c.kd, c.m,
                                1.0f, d + (size_t)g * kg, s->k,
                                c.a + (size_t)g * c.kd, c.ld, beta,
                                acc + (size_t)g * kg * c.kd, c.kd);
                    if (pw && din) {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c.m,
                                    cg, kg, 1.0f, d + (size_t)g * kg, s->k,
                                    weight + (size_t)g * kg * cg, cg, 1.0f,
                                    din + (size_t)row0 * s->c + (size_t)g * cg, s->c);
                    }
                }
            }
        }
    }
    conv2d_blas_single_end(saved);
    if (acc0 == wbuf || slots > 1) {
        reduce_weight_grad(dweight, acc0 == wbuf ? wbuf : NULL, part, slots - 1, s);
    }
}

/* Strided convs: per chunk dcol = dout x wr, then a gather col2im. Chunks
 * next to each other may add into the same input rows, so even chunks run
 * first, then odd ones; chunks are tall enough that i and i+2 never meet. */
static void data_grad_col2im(float *din, const float *dout, const float *wr,
                             const Conv2dShape *s, float *col, size_t col_stride)
{
    const int G = s->groups, kg = s->k / G;
    const int kdim = s->r * s->s * (s->c / G), lda = s->r * s->s * s->c;
    const int rows = s->n * s->p;
    const int rpc = conv2d_rows_per_chunk(s, conv2d_chunk_budget());
    const int chunks = (rows + rpc - 1) / rpc;
    const int saved = conv2d_blas_single_begin();
#pragma omp parallel num_threads(conv2d_threads())
    {
        float *mycol = col + (size_t)omp_get_thread_num() * col_stride;
        for (int phase = 0; phase < 2; phase++) {
#pragma omp for schedule(dynamic, 1)
            for (int ci = phase; ci < chunks; ci += 2) {
                int row0 = ci * rpc, row1 = row0 + rpc < rows ? row0 + rpc : rows;
                int m = (row1 - row0) * s->q;
                const float *d = dout + (size_t)row0 * s->q * s->k;
                for (int g = 0; g < G; g++) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m,
                                kdim, kg, 1.0f, d + (size_t)g * kg, s->k,
                                wr + (size_t)g * kg * kdim, kdim, 0.0f,
                                mycol + (size_t)g * kdim, lda);
                }
                conv2d_col2im_add(din, mycol, s, row0, row1, 0, 1);
            }
        }
    }
    conv2d_blas_single_end(saved);
}

static void data_grad(float *din, const float *dout, const float *weight,
                      const Conv2dShape *s, float *wbuf, float *col)
{
    if (is_pointwise(s)) {
        /* din += dout x W, accumulated by the GEMM itself (beta = 1). */
        const int G = s->groups, cg = s->c / G, kg = s->k / G;
        const int rows = s->n * s->h * s->w, rpc = pointwise_rows(s);
        const int chunks = (rows + rpc - 1) / rpc;
        const int saved = conv2d_blas_single_begin();
#pragma omp parallel for num_threads(conv2d_threads()) schedule(dynamic, 1)
        for (int ci = 0; ci < chunks; ci++) {
            int row0 = ci * rpc, row1 = row0 + rpc < rows ? row0 + rpc : rows;
            for (int g = 0; g < G; g++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            row1 - row0, cg, kg, 1.0f,
                            dout + (size_t)row0 * s->k + (size_t)g * kg, s->k,
                            weight + (size_t)g * kg * cg, cg, 1.0f,
                            din + (size_t)row0 * s->c + (size_t)g * cg, s->c);
            }
        }
        conv2d_blas_single_end(saved);
        return;
    }
    if (bwd_data_as_conv(s)) {
        Conv2dShape t = transposed_shape(s);
        conv2d_flip_weight(wbuf, weight, s);
        if (use_winograd(&t)) {
            conv2d_wino_forward(din, 1.0f, dout, wbuf, NULL, &t, col);
            return;
        }
        gemm_conv(din, 1.0f, dout, wbuf, NULL, &t, col, chunk_floats(&t));
        return;
    }
    const float *wr = weight;
    if (weight_floats(s)) {
        conv2d_reorder_weight(wbuf, weight, s);
        wr = wbuf;
    }
    data_grad_col2im(din, dout, wr, s, col, chunk_floats(s));
}

void conv2d_backward(float *din, float *dweight, float *dbias,
                     const float *dout, const float *in, const float *weight,
                     const Conv2dShape *s, float *workspace)
{
    if (conv2d_is_depthwise(s)) {
        conv2d_dw_backward(din, dweight, dbias, dout, in, weight, s, workspace);
        return;
    }
    if (dbias) {
        bias_grad(dbias, dout, (size_t)s->n * s->p * s->q, s->k);
    }
    /* Weight grad first: it and the data grad reuse the same weight-sized
     * buffer one after the other. */
    float *wbuf = workspace, *col = workspace + weight_floats(s);
    float *part = col + (size_t)conv2d_threads() * thread_col_floats(s);
    if (dweight) {
        float *fused = is_pointwise(s) ? din : NULL;
        weight_grad(dweight, fused, dout, in, weight, s, wbuf, col,
                    chunk_floats(s), part);
        if (fused) {
            return;
        }
    }
    if (din) {
        data_grad(din, dout, weight, s, wbuf, col);
    }
}
