/* CUDA runtime calls an executor's own code makes (copies, events, stream
 * waits) as host stand-ins for the host_*_executor tests: "device"
 * memory is host memory, events are placeholders, nothing waits. A test
 * maps the calls it needs onto them (#define cudaMemcpyAsync
 * host_memcpy_async ...) around the executor sources it includes. */
#ifndef THAW_TESTS_GPU_HOST_RUNTIME_H
#define THAW_TESTS_GPU_HOST_RUNTIME_H

#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

static inline cudaError_t host_memcpy_async(void *dst, const void *src, size_t bytes,
                                            cudaMemcpyKind kind, cudaStream_t s)
{
    (void)kind;
    (void)s;
    memmove(dst, src, bytes);
    return cudaSuccess;
}

static inline cudaError_t host_memcpy_2d_async(void *dst, size_t dpitch, const void *src,
                                               size_t spitch, size_t width, size_t height,
                                               cudaMemcpyKind kind, cudaStream_t s)
{
    (void)kind;
    (void)s;
    for (size_t r = 0; r < height; r++) {
        memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    }
    return cudaSuccess;
}

static inline cudaError_t host_stream_sync(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}

static inline cudaError_t host_stream_create(cudaStream_t *s, unsigned flags)
{
    (void)flags;
    *s = (cudaStream_t)calloc(1, 16);
    return cudaSuccess;
}

static inline cudaError_t host_stream_destroy(cudaStream_t s)
{
    free((void *)s);
    return cudaSuccess;
}

static inline cudaError_t host_event_create(cudaEvent_t *e, unsigned flags = 0)
{
    (void)flags;
    *e = (cudaEvent_t)calloc(1, 16);
    return cudaSuccess;
}

static inline cudaError_t host_event_destroy(cudaEvent_t e)
{
    free((void *)e);
    return cudaSuccess;
}

static inline cudaError_t host_event_record(cudaEvent_t e, cudaStream_t s)
{
    (void)e;
    (void)s;
    return cudaSuccess;
}

static inline cudaError_t host_event_elapsed(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    (void)a;
    (void)b;
    *ms = 0.0f;
    return cudaSuccess;
}

#endif
