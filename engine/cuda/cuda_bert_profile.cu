/* GPU time per op call of the BERT executor's passes (benchmarks): with
 * profiling on, cuda_bert_passes.cu's TRY records a CUDA event before and
 * after each op call (thaw_cuda_* and the zero / copy helpers), and
 * thaw_cuda_bert_profile_take adds the elapsed times up per callee. The
 * text model's answer to bench_gpu --profile: where a step's GPU time
 * goes, and how much of the step is launch gaps. */
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_bert_internal.h"

struct CudaBertProfile {
    cudaEvent_t *ev;    /* 2k: before call k, 2k + 1: after */
    const char **call;  /* call k's text (TRY's #call, a literal) */
    int n, cap;
};

static int leaf_call(const char *call)
{
    return strncmp(call, "thaw_cuda_", 10) == 0 || strncmp(call, "zero(", 5) == 0 ||
           strncmp(call, "copy(", 5) == 0;
}

static int grow(CudaBertProfile *p)
{
    int cap = p->cap ? 2 * p->cap : 256;
    cudaEvent_t *ev = (cudaEvent_t *)realloc(p->ev, 2 * (size_t)cap * sizeof *ev);
    if (!ev) {
        return -1;
    }
    p->ev = ev;
    const char **call = (const char **)realloc(p->call, (size_t)cap * sizeof *call);
    if (!call) {
        return -1;
    }
    p->call = call;
    for (int i = 2 * p->cap; i < 2 * cap; i++) {
        if (cudaEventCreate(&p->ev[i]) != cudaSuccess) {
            if (i % 2) {
                cudaEventDestroy(p->ev[i - 1]);   /* half a pair */
            }
            p->cap = i / 2;   /* keep the pairs made so far */
            return -1;
        }
    }
    p->cap = cap;
    return 0;
}

int cuda_bert_prof_begin(const ThawCudaBert *cb, const char *call)
{
    CudaBertProfile *p = cb->prof;
    if (!p || !leaf_call(call) || (p->n == p->cap && grow(p))) {
        return -1;   /* off, an outer call, or no events left: not timed */
    }
    int k = p->n++;
    p->call[k] = call;
    cudaEventRecord(p->ev[2 * k], cb->ctx->stream);
    return k;
}

void cuda_bert_prof_end(const ThawCudaBert *cb, int k)
{
    if (k >= 0) {
        cudaEventRecord(cb->prof->ev[2 * k + 1], cb->ctx->stream);
    }
}

void cuda_bert_prof_free(ThawCudaBert *cb)
{
    CudaBertProfile *p = cb->prof;
    if (!p) {
        return;
    }
    for (int i = 0; i < 2 * p->cap; i++) {
        cudaEventDestroy(p->ev[i]);
    }
    free(p->ev);
    free(p->call);
    free(p);
    cb->prof = NULL;
}

extern "C" {

int thaw_cuda_bert_set_profile(ThawCudaBert *cb, int on, ThawError *err)
{
    if (!on) {
        cuda_bert_prof_free(cb);
        return 0;
    }
    if (!cb->prof) {
        cb->prof = (CudaBertProfile *)calloc(1, sizeof *cb->prof);
        if (!cb->prof) {
            return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for the BERT profile");
        }
    }
    cb->prof->n = 0;
    return 0;
}

int thaw_cuda_bert_profile_take(ThawCudaBert *cb, ThawCudaBertOpTime *out, int cap, int *n,
                                ThawError *err)
{
    *n = 0;
    CudaBertProfile *p = cb->prof;
    if (!p) {
        return 0;
    }
    THAW_CUDA_CHECK(cudaStreamSynchronize(cb->ctx->stream));
    for (int k = 0; k < p->n; k++) {
        float ms = 0.0f;
        THAW_CUDA_CHECK(cudaEventElapsedTime(&ms, p->ev[2 * k], p->ev[2 * k + 1]));
        const char *paren = strchr(p->call[k], '(');
        size_t len = paren ? (size_t)(paren - p->call[k]) : strlen(p->call[k]);
        len = len < sizeof out->name - 1 ? len : sizeof out->name - 1;
        int i = 0;
        while (i < *n && (strncmp(out[i].name, p->call[k], len) || out[i].name[len])) {
            i++;
        }
        if (i == *n) {
            if (*n == cap) {
                continue;   /* the caller's table is full: the rest is left out */
            }
            memcpy(out[i].name, p->call[k], len);
            out[i].name[len] = '\0';
            out[i].ms = 0.0;
            out[i].calls = 0;
            (*n)++;
        }
        out[i].ms += ms;
        out[i].calls++;
    }
    p->n = 0;
    return 0;
}

} /* extern "C" */
