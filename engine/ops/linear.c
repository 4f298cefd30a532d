/* Fully connected layer through OpenBLAS, PyTorch weight layout [out, in].
 *   forward:  out = in W^T + b        (bias written first, then GEMM with
 *                                      beta = 1: one pass over out)
 *   backward: din += dout W,  dW += dout^T in,  db += column sums of dout */
#include "engine/ops/linear.h"

#include <cblas.h>
#include <stddef.h>

void linear_forward(float *out, const float *in, const float *weight,
                    const float *bias, int n, int in_features,
                    int out_features)
{
    if (n <= 0 || out_features <= 0) {
        return;
    }
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < n; i++) {
            float *row = out + (size_t)i * out_features;
            for (int o = 0; o < out_features; o++) {
                row[o] = bias[o];
            }
        }
        beta = 1.0f;
    }
    if (in_features <= 0) {
        if (!bias) {
            for (size_t i = 0; i < (size_t)n * out_features; i++) {
                out[i] = 0.0f;
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_features,
                in_features, 1.0f, in, in_features, weight, in_features, beta,
                out, out_features);
}

void linear_backward(float *din, float *dweight, float *dbias,
                     const float *dout, const float *in, const float *weight,
                     int n, int in_features, int out_features)
{
    if (n <= 0 || out_features <= 0) {
        return;
    }
    if (din && in_features > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in_features,
                    out_features, 1.0f, dout, out_features, weight,
                    in_features, 1.0f, din, in_features);
    }
    if (dweight && in_features > 0) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_features,
                    in_features, n, 1.0f, dout, out_features, in,
                    in_features, 1.0f, dweight, in_features);
    }
    if (dbias) {
        /* Rows are contiguous, so sum row by row into the output vector. */
        for (int i = 0; i < n; i++) {
            const float *row = dout + (size_t)i * out_features;
            for (int o = 0; o < out_features; o++) {
                dbias[o] += row[o];
            }
        }
    }
}
