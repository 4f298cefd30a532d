/* BatchNorm2d over NHWC activations viewed as x[m, c] with m = n*h*w.
 * Train mode normalises with batch statistics (biased variance), saves
 * mean and rstd for backward and, when running_mean/running_var are
 * non-NULL, updates them like PyTorch: r = (1-momentum) r + momentum * b,
 * with the UNBIASED batch variance for running_var. Eval mode uses the
 * running statistics. Backward accumulates (+=); NULL skips a gradient. */
#ifndef THAW_OP_BATCHNORM_H
#define THAW_OP_BATCHNORM_H

void batchnorm_forward_train(float *y, float *mean, float *rstd,
                             const float *x, const float *gamma,
                             const float *beta, float *running_mean,
                             float *running_var, float momentum, float eps,
                             int m, int c);

void batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps, int m, int c);

void batchnorm_backward_train(float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x,
                              const float *mean, const float *rstd,
                              const float *gamma, int m, int c);

void batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta,
                             const float *dy, const float *x,
                             const float *gamma, const float *running_mean,
                             const float *running_var, float eps, int m, int c);

#endif
