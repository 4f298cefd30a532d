/* ThawCudaBert's insides, shared by cuda_bert.cu (plan, batches, outputs,
 * host sync) and cuda_bert_passes.cu (forward, backward). */
#ifndef THAW_CUDA_BERT_INTERNAL_H
#define THAW_CUDA_BERT_INTERNAL_H

#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_bert.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_optim.h"

extern "C" {
#include "engine/models/bert_internal.h"
}

/* bert_backward.c's BertBackScratch on the device (no attention
 * workspace: the attention op takes the context's scratch). */
typedef struct {
    float *d_out, *d_in;                       /* [B,T,C] */
    float *d_res, *d_ln1, *d_ctx, *d_q, *d_k, *d_v;
    float *d_gelu, *d_inter;                   /* [B,T,I] */
    float *d_feat, *d_pooled, *d_cls;          /* [B,C] */
    float *d_logits;                           /* [B,K] */
} CudaBertGrads;

typedef struct CudaBertProfile CudaBertProfile;   /* cuda_bert_profile.cu */

struct ThawCudaBert {
    ThawCudaContext *ctx;
    CudaBertProfile *prof;        /* NULL unless profiling */
    ThawCudaArena arena;          /* weights and gradients */
    ThawCudaOptimizer optim;
    DevBlock acts;                /* m->arena's layout */
    DevBlock grads;               /* CudaBertGrads' buffers */
    DevBlock ints;                /* ids, positions, types, mask [4][B*T], labels [B] */
    DevBlock groups;              /* embedding groups of the three tables */
    DevBlock loss;                /* row losses [B], then the mean */
    int32_t *host_groups;         /* built here, uploaded to groups */
    size_t host_groups_cap;
    ThawCudaStaging out_stage;    /* loss, then logits [B, K] */
    CudaBertGrads g;
    /* the mapped plan: a re-plan may reuse the arena's address */
    const float *host_base;       /* m->arena */
    size_t arena_floats;
    int batch, seq, training;
    int has_inputs;               /* set_batch uploaded this plan's inputs */
    int has_labels;               /* and labels */
};

/* A host activation pointer of the mapped plan -> its device twin. */
static inline float *cuda_bert_dev(const ThawCudaBert *cb, const BertModel *m, const float *p)
{
    return p ? (float *)cb->acts.ptr + (p - m->arena) : NULL;
}

/* Profiling marks around one op call of the passes (call: its text; only
 * thaw_cuda_* and the zero / copy helpers are timed): begin returns the
 * mark for end, -1 when not timed. */
int cuda_bert_prof_begin(const ThawCudaBert *cb, const char *call);
void cuda_bert_prof_end(const ThawCudaBert *cb, int mark);
void cuda_bert_prof_free(ThawCudaBert *cb);

/* Fails unless cb mirrors m's current plan. */
int cuda_bert_check_plan(const ThawCudaBert *cb, const BertModel *m, ThawError *err);

#endif
