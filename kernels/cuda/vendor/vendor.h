/* vendor.h — shared pieces of the vendor baselines (kernels/cuda/vendor/):
 * the library handles, one grow-only workspace and the bias/residual
 * prefill that lets cuBLAS and cuDNN add them through beta = 1 (one f16/bf16
 * rounding of bias+residual, one of the result; no separate epilogue pass).
 * Argument checks are the CUDA backend's (cuda_ops.h).
 *
 * State is process-wide and unsynchronised: one host thread drives the GPU,
 * everything on the default stream. Checked against the CPU reference on an
 * H200 (bench/results/2026-11-27-h200-vendor), before attention gained its
 * cuDNN path (attention_cudnn.cu, not yet run on a GPU). */
#ifndef LOOM_CUDA_VENDOR_H
#define LOOM_CUDA_VENDOR_H

#include <cublas_v2.h>
#include <cudnn.h>

extern "C" {
#include "cuda_check.h"
#include "cuda_ops.h"
}

loom_status loom_vendor_cublas(cublasHandle_t *out);
loom_status loom_vendor_cudnn(cudnnHandle_t *out);
/* At least `bytes` of device scratch, valid until the next call (grow-only). */
loom_status loom_vendor_workspace(size_t bytes, void **out);

/* y[rows, n] = dt(bias[n] + residual[rows, n]) summed in fp32, dt = f16 or
 * bf16 (all three); bias and/or residual may be NULL (both NULL: zeros);
 * residual may be y itself. */
loom_status loom_vendor_prefill(loom_dtype dt, void *y, const void *bias, const void *residual, int64_t rows,
                                int64_t n);

loom_status loom_vendor_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y);
loom_status loom_vendor_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p);
/* The loom_ops attention entries (attention_cudnn.cu): cuDNN's fused
 * attention where cuDNN builds a plan for the shape, else the cuBLAS path. */
loom_status loom_vendor_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                                  int heads, float scale);
loom_status loom_vendor_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                         loom_tensor *o, int heads, float scale);

/* An attention call's sizes after loom_vendor_attention_check: q[B,Sq,H·D],
 * k[B,Sk,H·D], v[B,Sk,H·Dv]; scale is the effective one (≤ 0 became 1/√D);
 * empty: nothing to compute (B, Sq or H·Dv is 0), the call is done. */
struct loom_vendor_attn_dims {
    int64_t b, sq, sk, heads, d, dv;
    float scale;
    int empty;
};
/* Every check of an attention call (attention_cublas.cu), shared by both
 * paths so they refuse the same calls with the same messages. */
loom_status loom_vendor_attention_check(const char *op, const loom_tensor *q, const loom_tensor *k,
                                        const loom_tensor *v, const loom_tensor *o, int heads, float scale,
                                        loom_vendor_attn_dims *dims);
/* The cuBLAS path on checked, non-empty arguments: any head dim. */
loom_status loom_vendor_attention_cublas(const char *op, const loom_vendor_attn_dims *s, const loom_tensor *q,
                                         const loom_tensor *k, const loom_tensor *v, loom_tensor *o, int causal);

#endif
