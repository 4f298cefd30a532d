/* A run's CUDA device: check, context, log line (job_gpu_device.h). */
#include "job_gpu_device.h"

#include <stdio.h>
#include <string.h>

void job_gpu_note_cpu_precision(JobCore *c)
{
    if (c->cfg->tf32 || c->cfg->bf16) {
        job_core_log(c, "precision %s applies on the GPU; this run trains on the CPU in fp32",
                     c->cfg->bf16 ? "bf16" : "tf32");
    }
}

#ifdef THAW_HAVE_CUDA

#include "engine/cuda/cuda_device.h"

int job_gpu_device_open(JobCore *c, ThawCudaContext **ctx, char *name, size_t cap)
{
    const ThawDevice *d = &c->opt->device;
    *ctx = NULL;
    ThawCudaDeviceInfo info;
    int rc = thaw_device_check(d, c->err);
    rc = rc ? rc : thaw_cuda_device_info(d->index, &info, c->err);
    rc = rc ? rc : thaw_cuda_context_create(ctx, d->index, c->cfg->tf32, 0, c->err);
    if (rc) {
        return rc;
    }
    thaw_cuda_context_set_bf16(*ctx, c->cfg->bf16);
    const char *model = strncmp(info.name, "NVIDIA ", 7) == 0 ? info.name + 7 : info.name;
    snprintf(name, cap, "cuda:%d %s", d->index, model);
    /* cuDNN times each convolution shape's algorithms once (PyTorch's
     * cudnn.benchmark): the first step is slower, every later one faster. */
    thaw_cuda_context_set_benchmark(*ctx, 1);
    job_core_log(c, "device: cuda:%d (%s, sm_%d%d, %.1f GiB), %s", d->index, info.name,
                 info.cc_major, info.cc_minor, (double)info.total_bytes / (double)(1u << 30),
                 c->cfg->bf16   ? "bf16 mixed precision (bf16 activations and matrix "
                                  "products, fp32 weights and optimizer)"
                 : c->cfg->tf32 ? "TF32 (convolutions and matrix products on tensor cores)"
                                : "fp32 (TF32 off)");
    return 0;
}

#endif
