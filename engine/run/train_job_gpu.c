/* The training job on a CUDA device: the same plan, loop, events and
 * checkpoints as on the CPU, with the steps and validation forwards run by
 * the GPU executor (engine/cuda/cuda_graph.h). The device holds the live
 * weights, BN buffers and optimizer moments; job_gpu_sync_host brings them
 * back before a checkpoint is written. The feature cache stays CPU-only and
 * is off on the GPU (train_cache_bind says so). Builds without CUDA get
 * stubs: asking for cuda there is an error, never a silent CPU run. */
#include <stdio.h>
#include <string.h>

#include "job_gpu_device.h"
#include "train_job_internal.h"

#ifdef THAW_HAVE_CUDA

#include <stdlib.h>

#include "engine/cuda/cuda_graph.h"

struct JobGpu {
    ThawCudaContext *ctx;
    ThawCudaGraph *graph;
    char name[320];            /* "cuda:0 H100 80GB HBM3" */
};

int job_gpu_open(Job *j)
{
    if (!j->core.opt->device.cuda) {
        job_gpu_note_cpu_precision(&j->core);
        return 0;
    }
    struct JobGpu *g = calloc(1, sizeof *g);
    if (!g) {
        return thaw_fail(j->core.err, THAW_ERR_NOMEM, "out of memory");
    }
    j->gpu = g;
    int rc = job_gpu_device_open(&j->core, &g->ctx, g->name, sizeof g->name);
    rc = rc ? rc : thaw_cuda_graph_create(&g->graph, g->ctx, &j->model, j->core.optim.kind,
                                          j->core.err);
    /* a resumed run's moments and step counts */
    rc = rc ? rc : thaw_cuda_graph_upload_optimizer(g->graph, &j->core.optim, j->core.err);
    if (rc) {
        job_gpu_close(j);
    }
    return rc;
}

void job_gpu_close(Job *j)
{
    if (!j->gpu) {
        return;
    }
    thaw_cuda_graph_destroy(j->gpu->graph);
    thaw_cuda_context_destroy(j->gpu->ctx);
    free(j->gpu);
    j->gpu = NULL;
}

const char *job_gpu_name(const Job *j)
{
    return j->gpu ? j->gpu->name : NULL;
}

int job_gpu_plan(Job *j)
{
    return j->gpu ? thaw_cuda_graph_plan(j->gpu->graph, &j->model, j->core.err) : 0;
}

int job_gpu_forward_loss(Job *j, const ThawBatch *b, float *loss, const float **logits)
{
    ThawCudaGraph *cg = j->gpu->graph;
    Model *m = &j->model;
    if (b->count != m->batch) {
        return thaw_fail(j->core.err, THAW_ERR_ARG, "GPU step: batch of %d, the plan is for %d",
                         b->count, m->batch);
    }
    float smoothing = (float)j->core.cfg->label_smoothing;
    int rc = thaw_cuda_graph_set_batch(cg, m, b->images, b->labels, j->core.err);
    rc = rc ? rc : thaw_cuda_graph_forward(cg, m, j->core.err);
    rc = rc ? rc : thaw_cuda_graph_loss(cg, m, smoothing, j->core.err);
    return rc ? rc : thaw_cuda_graph_outputs(cg, loss, logits, j->core.err);
}

int job_gpu_backward_step(Job *j)
{
    ThawCudaGraph *cg = j->gpu->graph;
    int rc = thaw_cuda_graph_backward(cg, &j->model, (float)j->core.cfg->label_smoothing,
                                      j->core.err);
    return rc ? rc : thaw_cuda_graph_optimizer_step(cg, &j->model, &j->core.optim, j->core.err);
}

int job_gpu_eval(Job *j, const float *input, const float **logits)
{
    ThawCudaGraph *cg = j->gpu->graph;
    int rc = thaw_cuda_graph_set_batch(cg, &j->model, input, NULL, j->core.err);
    rc = rc ? rc : thaw_cuda_graph_forward(cg, &j->model, j->core.err);
    rc = rc ? rc : thaw_cuda_graph_fetch_logits(cg, &j->model, j->core.err);
    return rc ? rc : thaw_cuda_graph_outputs(cg, NULL, logits, j->core.err);
}

int job_gpu_sync_host(Job *j)
{
    if (!j->gpu) {
        return 0;
    }
    int rc = thaw_cuda_graph_download(j->gpu->graph, &j->model, j->core.err);
    return rc ? rc : thaw_cuda_graph_download_optimizer(j->gpu->graph, &j->core.optim, j->core.err);
}

#else /* no CUDA backend in this build */

int job_gpu_open(Job *j)
{
    job_gpu_note_cpu_precision(&j->core);
    return thaw_device_check(&j->core.opt->device, j->core.err);
}

const char *job_gpu_name(const Job *j)
{
    (void)j;
    return NULL;
}

void job_gpu_close(Job *j)
{
    (void)j;
}

int job_gpu_plan(Job *j)
{
    (void)j;
    return 0;
}

static int no_backend(Job *j)
{
    return thaw_fail(j->core.err, THAW_ERR_CUDA, "this build has no CUDA backend");
}

int job_gpu_forward_loss(Job *j, const ThawBatch *b, float *loss, const float **logits)
{
    (void)b;
    (void)loss;
    (void)logits;
    return no_backend(j);
}

int job_gpu_backward_step(Job *j)
{
    return no_backend(j);
}

int job_gpu_eval(Job *j, const float *input, const float **logits)
{
    (void)input;
    (void)logits;
    return no_backend(j);
}

int job_gpu_sync_host(Job *j)
{
    (void)j;
    return 0;
}

#endif
