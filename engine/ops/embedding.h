/* Embedding lookup, as torch.nn.Embedding: out[i, :] = table[ids[i], :].
 * ids must lie in [0, rows of table): callers validate them (bert.c does,
 * with an error naming the bad id). Backward scatters: dtable[ids[i], :] +=
 * dout[i, :] (repeated ids accumulate, like PyTorch's dense gradient). */
#ifndef THAW_OP_EMBEDDING_H
#define THAW_OP_EMBEDDING_H

#include <stdint.h>

void embedding_forward(float *out, const int32_t *ids, const float *table,
                       int n, int dim);

/* out[i, :] += table[ids[i], :] (BERT sums word, position and type). */
void embedding_forward_add(float *out, const int32_t *ids,
                           const float *table, int n, int dim);

void embedding_backward(float *dtable, const float *dout, const int32_t *ids,
                        int n, int dim);

#endif
