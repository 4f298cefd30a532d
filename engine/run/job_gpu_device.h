/* Opening a run's CUDA device, shared by the image and text jobs: the
 * device check, the context, the log line that names the GPU, and the
 * note when a TF32 run trains on the CPU. Private to engine/run. */
#ifndef THAW_RUN_JOB_GPU_DEVICE_H
#define THAW_RUN_JOB_GPU_DEVICE_H

#include <stddef.h>

#include "job_core.h"

/* precision tf32 / bf16 only change GPU math: say so when the run is on
 * the CPU. */
void job_gpu_note_cpu_precision(JobCore *c);

#ifdef THAW_HAVE_CUDA
#include "engine/cuda/cuda_context.h"

/* Checks the run's device (opt->device, which must be cuda), opens a
 * context on it with TF32 or bf16 as the run says and cuDNN's benchmark mode,
 * logs "device: cuda:N (NAME, sm_XY, G GiB), PRECISION" and writes
 * "cuda:N NAME" (without "NVIDIA ") into name. */
int job_gpu_device_open(JobCore *c, ThawCudaContext **ctx, char *name, size_t cap);
#endif

#endif
