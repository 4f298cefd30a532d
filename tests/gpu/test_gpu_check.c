/* Runs without a GPU: the CUDA backend is linked in, the device query
 * answers 0 devices with a reason instead of failing, and a failed CUDA,
 * cuBLAS or cuDNN call becomes a ThawError naming the call, the place and a
 * hint. With a GPU the same checks hold for a device index that does not
 * exist. */
#include <stdio.h>
#include <string.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_context.h"
#include "engine/cuda/cuda_device.h"

static int failures;

static void expect(int ok, const char *what, const char *detail)
{
    printf("%s: %s%s%s\n", ok ? "ok" : "FAIL", what, detail ? " -- " : "",
           detail ? detail : "");
    failures += !ok;
}

static int has(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

int main(void)
{
    expect(thaw_cuda_compiled() == 1, "the CUDA backend is compiled in", NULL);
    expect(has(thaw_cuda_build_info(), "compiled in"), "build info line",
           thaw_cuda_build_info());

    int count = -1;
    char reason[256] = "unset";
    thaw_cuda_device_count(&count, reason, sizeof reason);
    printf("devices: %d%s%s\n", count, count ? "" : ", reason: ", count ? "" : reason);
    expect(count >= 0, "device count is never negative", NULL);
    if (count == 0) {
        expect(reason[0] != '\0' && strcmp(reason, "unset") != 0,
               "zero devices come with a reason", reason);
    }

    ThawError e = {0};
    int rc = thaw_cuda_fail_runtime(&e, cudaErrorMemoryAllocation,
                                    "cudaMalloc(&p, bytes)", "/src/engine/cuda/x.cu", 42);
    expect(rc == THAW_ERR_CUDA && e.code == THAW_ERR_CUDA, "runtime failure code", NULL);
    expect(strcmp(thaw_error_name(THAW_ERR_CUDA), "THAW_ERR_CUDA") == 0 &&
               strcmp(thaw_error_name(THAW_ERR_ARG), "THAW_ERR_ARG") == 0,
           "THAW_ERR_CUDA is named in error.c", thaw_error_name(THAW_ERR_CUDA));
    expect(has(e.msg, "cudaMalloc(&p, bytes)") && has(e.msg, "x.cu:42") &&
               has(e.msg, "cudaErrorMemoryAllocation") && has(e.msg, "hint: ") &&
               has(e.msg, "batch size"),
           "runtime failure names call, place, error and hint", e.msg);

    rc = thaw_cuda_fail_cublas(&e, CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm(...)",
                               "linear.cu", 7);
    expect(rc == THAW_ERR_CUDA && has(e.msg, "cublasSgemm(...)") &&
               has(e.msg, "CUBLAS_STATUS_INVALID_VALUE") && has(e.msg, "hint: "),
           "cuBLAS failure names call, status and hint", e.msg);

    rc = thaw_cuda_fail_cudnn(&e, CUDNN_STATUS_NOT_SUPPORTED,
                              "cudnnConvolutionForward(...)", "conv.cu", 9);
    expect(rc == THAW_ERR_CUDA && has(e.msg, "cudnnConvolutionForward(...)") &&
               has(e.msg, "conv.cu:9") && has(e.msg, "hint: "),
           "cuDNN failure names call, place and hint", e.msg);

    /* A device that does not exist: an error with the failing call, no crash,
     * no exit, no half-made context. */
    ThawCudaContext *ctx = (ThawCudaContext *)&e;   /* must be reset to NULL */
    thaw_error_clear(&e);
    rc = thaw_cuda_context_create(&ctx, count, 0, 0, &e);
    expect(rc == THAW_ERR_CUDA && ctx == NULL && has(e.msg, "cudaSetDevice"),
           "context on a missing device fails with the call", e.msg);

    ThawCudaDeviceInfo info;
    thaw_error_clear(&e);
    rc = thaw_cuda_device_info(count, &info, &e);
    expect(rc == THAW_ERR_CUDA && has(e.msg, "cudaGetDeviceProperties"),
           "device info of a missing device fails with the call", e.msg);

    if (count > 0) {
        rc = thaw_cuda_device_info(0, &info, &e);
        expect(rc == 0 && info.name[0] && info.total_bytes > 0, "device 0 info",
               rc ? e.msg : info.name);
    }
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
