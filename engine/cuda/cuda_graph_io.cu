/* The GPU executor's traffic with the host: batches in through pinned
 * memory (the NCHW -> NHWC change on the device), the loss and logits out,
 * the bf16 weight copy. The optimizer step and the host tables' sync are
 * in cuda_graph_sync.cu (no kernels: tests/gpu/host_graph_executor runs it
 * on the CPU). */
#include "engine/cuda/cuda_graph_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

#include <string.h>

/* out[b, y, x, c] = in[b, c, y, x] (rounded to bf16 in bf16 mode); one
 * thread per output element. */
template <typename S>
__global__ static void nchw_to_nhwc_kernel(S *out, const float *in, int c, int hw, size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned ch = i % (unsigned)c, t = i / (unsigned)c;
        unsigned pix = t % (unsigned)hw, b = t / (unsigned)hw;
        out[i] = thaw_st<S>(in[(b * (size_t)c + ch) * (size_t)hw + pix]);
    }
}

__global__ static void to_bf16(thaw_bf16 *dst, const float *src, size_t n)
{
    GRID_STRIDE(i, n) {
        dst[i] = thaw_st<thaw_bf16>(src[i]);
    }
}

__global__ static void to_float(float *dst, const thaw_bf16 *src, size_t n)
{
    GRID_STRIDE(i, n) {
        dst[i] = thaw_ld(src[i]);
    }
}

int thaw_cuda_graph_refresh_weights16(ThawCudaGraph *cg, ThawError *err)
{
    ThawCudaContext *ctx = cg->ctx;
    if (!cg->bf16) {
        return 0;
    }
    LAUNCH(to_bf16, cg->arena.n_weights, (thaw_bf16 *)cg->weights16.ptr, cg->arena.weights,
           cg->arena.n_weights);
    return 0;
}

int thaw_cuda_graph_set_batch(ThawCudaGraph *cg, const Model *m, const float *images_nchw,
                              const int32_t *labels, ThawError *err)
{
    const Graph *g = &m->graph;
    if (!cg->planned) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: batch before a plan");
    }
    const Value *in = &g->values[g->input];
    const size_t img_bytes = in->numel * sizeof(float);
    const size_t lab_bytes = (size_t)m->batch * sizeof(int32_t);
    if (cg->in_pending) {   /* the last upload may still read the pinned buffer */
        THAW_CUDA_CHECK(cudaEventSynchronize(cg->in_free));
        cg->in_pending = 0;
    }
    char *stage = (char *)cg->in_stage.host;
    if ((const char *)images_nchw != stage) {
        memcpy(stage, images_nchw, img_bytes);
    }
    /* The images on the copy stream, once the last NHWC change has read
     * input_nchw: they overlap whatever the main stream still has queued
     * (the last step's backward and optimizer). The labels stay on the main
     * stream: the last step's loss backward still reads them. */
    THAW_CUDA_CHECK(cudaStreamWaitEvent(cg->copy_stream, cg->in_read, 0));
    THAW_CUDA_CHECK(cudaMemcpyAsync(cg->input_nchw.ptr, stage, img_bytes,
                                    cudaMemcpyHostToDevice, cg->copy_stream));
    THAW_CUDA_CHECK(cudaEventRecord(cg->in_copied, cg->copy_stream));
    THAW_CUDA_CHECK(cudaStreamWaitEvent(cg->ctx->stream, cg->in_copied, 0));
    cg->has_labels = labels != NULL;
    if (labels) {
        if ((const char *)labels != stage + img_bytes) {
            memcpy(stage + img_bytes, labels, lab_bytes);
        }
        THAW_CUDA_CHECK(cudaMemcpyAsync(cg->labels.ptr, stage + img_bytes, lab_bytes,
                                        cudaMemcpyHostToDevice, cg->ctx->stream));
    }
    /* after the wait above: both copies have left in_stage */
    THAW_CUDA_CHECK(cudaEventRecord(cg->in_free, cg->ctx->stream));
    cg->in_pending = 1;
    const size_t total = in->numel;
    void *dst = thaw_cuda_graph_act(cg, cg->vdata[g->input]);
    const float *src = (const float *)cg->input_nchw.ptr;
    if (cg->bf16) {
        nchw_to_nhwc_kernel<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, cg->ctx->stream>>>(
            (thaw_bf16 *)dst, src, in->c, in->h * in->w, total);
    } else {
        nchw_to_nhwc_kernel<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, cg->ctx->stream>>>(
            (float *)dst, src, in->c, in->h * in->w, total);
    }
    THAW_CUDA_CHECK_LAUNCH("nchw_to_nhwc_kernel");
    THAW_CUDA_CHECK(cudaEventRecord(cg->in_read, cg->ctx->stream));
    return 0;
}

float *thaw_cuda_graph_input_stage(ThawCudaGraph *cg, const Model *m, int32_t **labels)
{
    char *stage = (char *)cg->in_stage.host;
    if (labels) {
        *labels = (int32_t *)(stage + m->graph.values[m->graph.input].numel * sizeof(float));
    }
    return (float *)stage;
}

/* The logits to pinned memory as float (bf16 ones widened on the device
 * first). */
static int queue_logits(ThawCudaGraph *cg, const Model *m, ThawError *err)
{
    ThawCudaContext *ctx = cg->ctx;
    const size_t n = (size_t)m->batch * cg->classes;
    const float *logits = cg->vdata[m->graph.output];
    if (cg->bf16) {
        LAUNCH(to_float, n, (float *)cg->logits32.ptr,
               (const thaw_bf16 *)thaw_cuda_graph_act(cg, logits), n);
        logits = (const float *)cg->logits32.ptr;
    }
    float *host = (float *)cg->out_stage.host + 1;
    THAW_CUDA_CHECK(cudaMemcpyAsync(host, logits, n * sizeof(float), cudaMemcpyDeviceToHost,
                                    ctx->stream));
    return 0;
}

int thaw_cuda_graph_loss(ThawCudaGraph *cg, const Model *m, float smoothing, ThawError *err)
{
    if (!cg->has_labels) {
        return thaw_fail(err, THAW_ERR_ARG, "GPU executor: the loss needs the batch's labels");
    }
    float *loss = (float *)cg->row_loss.ptr + m->batch;
    int rc = thaw_cuda_cross_entropy_forward(cg->ctx, loss, (float *)cg->probs.ptr,
                                             (float *)cg->row_loss.ptr,
                                             thaw_cuda_graph_act(cg, cg->vdata[m->graph.output]),
                                             (const int32_t *)cg->labels.ptr, m->batch,
                                             cg->classes, smoothing, err);
    if (rc) {
        return rc;
    }
    THAW_CUDA_CHECK(cudaMemcpyAsync(cg->out_stage.host, loss, sizeof(float),
                                    cudaMemcpyDeviceToHost, cg->ctx->stream));
    return queue_logits(cg, m, err);
}

int thaw_cuda_graph_fetch_logits(ThawCudaGraph *cg, const Model *m, ThawError *err)
{
    return queue_logits(cg, m, err);
}

int thaw_cuda_graph_outputs(ThawCudaGraph *cg, float *loss, const float **logits,
                            ThawError *err)
{
    int rc = thaw_cuda_synchronize(cg->ctx, err);
    if (rc) {
        return rc;
    }
    cg->in_pending = 0;
    if (loss) {
        *loss = *(const float *)cg->out_stage.host;
    }
    if (logits) {
        *logits = (const float *)cg->out_stage.host + 1;
    }
    return 0;
}

size_t thaw_cuda_graph_device_bytes(const ThawCudaGraph *cg)
{
    size_t n = (2 * cg->arena.n_weights + cg->arena.n_buffers) * sizeof(float);
    n += cg->optim.n_weights * sizeof(float) * (cg->optim.kind == OPT_ADAMW ? 2 : 1);
    const DevBlock *blocks[] = {&cg->acts,   &cg->small,   &cg->argmax,   &cg->input_nchw,
                                &cg->labels, &cg->probs,   &cg->row_loss, &cg->weights16,
                                &cg->logits32};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        n += blocks[i]->bytes;
    }
    return n;
}
