/* Softmax and multi-head scaled dot-product self-attention with a key
 * padding mask, as BERT's self-attention computes it:
 *   scores = q_h k_h^T / sqrt(D) (+ -inf on padded keys), probs = softmax,
 *   out_h = dropout(probs) v_h.
 * Layout: q, k, v and out are [B, T, C] (C = H * D), head h in columns
 * h*D .. h*D+D-1 of each token's row: exactly the Linear outputs, so no
 * transposes are needed. probs are [B, H, T, T]. key_mask is [B, T] with 1
 * for a token and 0 for padding (NULL: every key counts); a row whose keys
 * are all padding attends uniformly to every key, as BERT's additive mask
 * gives. Batched per (batch, head) with OpenMP; OpenBLAS runs single-
 * threaded inside (set to 1 for the call and restored), so call from one
 * thread at a time. Backward accumulates (+=) into dq, dk, dv; NULL skips. */
#ifndef THAW_OP_ATTENTION_H
#define THAW_OP_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* Row softmax over cols: out may alias in. */
void softmax_rows_forward(float *out, const float *in, int rows, int cols);
/* din += out * (dout - sum_j dout_j out_j), per row (reads the output). */
void softmax_rows_backward(float *din, const float *dout, const float *out,
                           int rows, int cols);

/* Phase 1: probs = masked softmax(q k^T / sqrt(D)). */
void attention_probs_forward(float *probs, const float *q, const float *k,
                             const int32_t *key_mask, int batch, int seq,
                             int channels, int heads);

/* Phase 2: out = probs_used v, probs_used being probs or its dropout. */
void attention_context_forward(float *out, const float *probs_used,
                               const float *v, int batch, int seq,
                               int channels, int heads);

/* Both phases without dropout. */
void attention_forward(float *out, float *probs, const float *q,
                       const float *k, const float *v,
                       const int32_t *key_mask, int batch, int seq,
                       int channels, int heads);

/* Floats of scratch attention_backward needs (one T x T matrix per OpenMP
 * thread at the time of the call). */
size_t attention_workspace_floats(int seq);

/* probs_used: what multiplied v (probs itself without dropout); drop_mask:
 * the dropout scale per prob (0 or 1/(1-p)), NULL without dropout. */
void attention_backward(float *dq, float *dk, float *dv, const float *dout,
                        const float *q, const float *k, const float *v,
                        const float *probs, const float *probs_used,
                        const float *drop_mask, float *workspace, int batch,
                        int seq, int channels, int heads);

#endif
