/* The GPU executor's optimizer step and its sync with the host tables:
 * weights and BN buffers, gradients, optimizer moments. No kernels of its
 * own (the bf16 weight copy is cuda_graph_io.cu's), so
 * tests/gpu/host_graph_executor compiles it on the CPU as it is. */
#include "engine/cuda/cuda_graph_internal.h"

int thaw_cuda_graph_optimizer_step(ThawCudaGraph *cg, const Model *m, const Optimizer *hyper,
                                   ThawError *err)
{
    thaw_cuda_optimizer_set_hyper(&cg->optim, hyper);
    int rc = thaw_cuda_optimizer_step(cg->ctx, &cg->optim, &cg->arena, &m->params, err);
    return rc ? rc : thaw_cuda_graph_refresh_weights16(cg, err);
}

int thaw_cuda_graph_download(ThawCudaGraph *cg, Model *m, ThawError *err)
{
    return thaw_cuda_arena_download(cg->ctx, &cg->arena, &m->params, err);
}

int thaw_cuda_graph_upload(ThawCudaGraph *cg, const Model *m, ThawError *err)
{
    int rc = thaw_cuda_arena_upload(cg->ctx, &cg->arena, &m->params, err);
    return rc ? rc : thaw_cuda_graph_refresh_weights16(cg, err);
}

int thaw_cuda_graph_download_grads(ThawCudaGraph *cg, Model *m, ThawError *err)
{
    return thaw_cuda_arena_download_grads(cg->ctx, &cg->arena, &m->params, err);
}

int thaw_cuda_graph_download_optimizer(ThawCudaGraph *cg, Optimizer *host, ThawError *err)
{
    return thaw_cuda_optimizer_download(cg->ctx, &cg->optim, host, err);
}

int thaw_cuda_graph_upload_optimizer(ThawCudaGraph *cg, const Optimizer *host, ThawError *err)
{
    return thaw_cuda_optimizer_upload(cg->ctx, &cg->optim, host, err);
}
