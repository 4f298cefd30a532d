/* Softmax cross-entropy with label smoothing, mean over the batch, exactly as
 * torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps):
 * loss_i = (1-eps) * -log p[i, y_i] + eps * mean_k(-log p[i, k]). */
#ifndef THAW_OP_CROSS_ENTROPY_H
#define THAW_OP_CROSS_ENTROPY_H

#include <stdint.h>

/* probs[n, classes] receives the softmax (kept for backward). Returns the
 * mean loss. Labels must lie in [0, classes). */
float cross_entropy_forward(float *probs, const float *logits,
                            const int32_t *labels, int n, int classes,
                            float smoothing);

/* dlogits += dloss * d(mean loss)/d(logits). */
void cross_entropy_backward(float *dlogits, const float *probs,
                            const int32_t *labels, int n, int classes,
                            float smoothing, float dloss);

#endif
