/* The text job on a CUDA device: the same batches, loop, events and
 * checkpoints as on the CPU, with the encoder's steps and validation
 * forwards run by the GPU BERT executor (engine/cuda/cuda_bert.h). The
 * host model still plans every batch (its layout is the device's); the
 * device holds the live weights and AdamW moments, and text_gpu_sync_host
 * brings them back before a checkpoint is written or a tensor is shown.
 * Builds without CUDA get stubs: asking for cuda there is an error, never
 * a silent CPU run. */
#include <stdlib.h>

#include "job_gpu_device.h"
#include "text_job_internal.h"

#ifdef THAW_HAVE_CUDA

#include "engine/cuda/cuda_bert.h"

struct TextGpu {
    ThawCudaContext *ctx;
    ThawCudaBert *bert;
    char name[320];            /* "cuda:0 H100 80GB HBM3" */
};

int text_gpu_open(TextJob *j)
{
    if (!j->core.opt->device.cuda) {
        job_gpu_note_cpu_precision(&j->core);
        return 0;
    }
    if (j->core.cfg->bf16) {   /* the BERT executor is fp32 / TF32 only */
        return thaw_fail(j->core.err, THAW_ERR_ARG, "%s: key 'precision': bf16 is for image "
                         "models; text models train on the GPU in fp32 or tf32",
                         j->core.cfg->path[0] ? j->core.cfg->path : "run config");
    }
    struct TextGpu *g = calloc(1, sizeof *g);
    if (!g) {
        return thaw_fail(j->core.err, THAW_ERR_NOMEM, "out of memory");
    }
    j->gpu = g;
    int rc = job_gpu_device_open(&j->core, &g->ctx, g->name, sizeof g->name);
    rc = rc ? rc : thaw_cuda_bert_create(&g->bert, g->ctx, &j->model, j->core.optim.kind,
                                         j->core.err);
    /* a resumed run's moments and step counts */
    rc = rc ? rc : thaw_cuda_bert_upload_optimizer(g->bert, &j->core.optim, j->core.err);
    if (rc) {
        text_gpu_close(j);
    }
    return rc;
}

void text_gpu_close(TextJob *j)
{
    if (!j->gpu) {
        return;
    }
    thaw_cuda_bert_destroy(j->gpu->bert);
    thaw_cuda_context_destroy(j->gpu->ctx);
    free(j->gpu);
    j->gpu = NULL;
}

const char *text_gpu_name(const TextJob *j)
{
    return j->gpu ? j->gpu->name : NULL;
}

int text_gpu_plan(TextJob *j)
{
    return j->gpu ? thaw_cuda_bert_plan(j->gpu->bert, &j->model, j->core.err) : 0;
}

int text_gpu_forward_loss(TextJob *j, float smoothing, float *loss, const float **logits)
{
    ThawCudaBert *cb = j->gpu->bert;
    BertModel *m = &j->model;
    int rc = thaw_cuda_bert_set_batch(cb, m, j->ids, NULL, j->mask, j->labels, j->core.err);
    rc = rc ? rc : thaw_cuda_bert_forward(cb, m, j->core.err);
    rc = rc ? rc : thaw_cuda_bert_loss(cb, m, smoothing, j->core.err);
    return rc ? rc : thaw_cuda_bert_outputs(cb, loss, logits, j->core.err);
}

int text_gpu_backward_step(TextJob *j, float smoothing)
{
    ThawCudaBert *cb = j->gpu->bert;
    int rc = thaw_cuda_bert_backward(cb, &j->model, smoothing, j->core.err);
    return rc ? rc : thaw_cuda_bert_optimizer_step(cb, &j->model, &j->core.optim, j->core.err);
}

int text_gpu_eval(TextJob *j, const float **logits)
{
    ThawCudaBert *cb = j->gpu->bert;
    BertModel *m = &j->model;
    int rc = thaw_cuda_bert_set_batch(cb, m, j->ids, NULL, j->mask, NULL, j->core.err);
    rc = rc ? rc : thaw_cuda_bert_forward(cb, m, j->core.err);
    rc = rc ? rc : thaw_cuda_bert_fetch_logits(cb, m, j->core.err);
    return rc ? rc : thaw_cuda_bert_outputs(cb, NULL, logits, j->core.err);
}

int text_gpu_sync_host(TextJob *j)
{
    if (!j->gpu) {
        return 0;
    }
    int rc = thaw_cuda_bert_download(j->gpu->bert, &j->model, j->core.err);
    return rc ? rc : thaw_cuda_bert_download_optimizer(j->gpu->bert, &j->core.optim, j->core.err);
}

#else /* no CUDA backend in this build */

int text_gpu_open(TextJob *j)
{
    job_gpu_note_cpu_precision(&j->core);
    return thaw_device_check(&j->core.opt->device, j->core.err);
}

void text_gpu_close(TextJob *j)
{
    (void)j;
}

const char *text_gpu_name(const TextJob *j)
{
    (void)j;
    return NULL;
}

int text_gpu_plan(TextJob *j)
{
    (void)j;
    return 0;
}

static int no_backend(TextJob *j)
{
    return thaw_fail(j->core.err, THAW_ERR_CUDA, "this build has no CUDA backend");
}

int text_gpu_forward_loss(TextJob *j, float smoothing, float *loss, const float **logits)
{
    (void)smoothing;
    (void)loss;
    (void)logits;
    return no_backend(j);
}

int text_gpu_backward_step(TextJob *j, float smoothing)
{
    (void)smoothing;
    return no_backend(j);
}

int text_gpu_eval(TextJob *j, const float **logits)
{
    (void)logits;
    return no_backend(j);
}

int text_gpu_sync_host(TextJob *j)
{
    (void)j;
    return 0;
}

#endif
