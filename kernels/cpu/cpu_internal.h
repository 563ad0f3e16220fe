/* cpu_internal.h — pieces shared by several CPU ops (not part of the op table). */
#ifndef LOOM_CPU_INTERNAL_H
#define LOOM_CPU_INTERNAL_H

#include <stdint.h>

#include "ops.h"

/* y[M,N] = a[M,K]·w[N,K]ᵀ + bias[N] + residual[M,N], the linear/conv
 * epilogue. bias and residual may be NULL; residual may be y itself (an
 * in-place accumulate). Rows of a are lda floats apart, rows of y and
 * residual N floats apart, w is dense [N,K]. Dims must fit a BLAS int
 * (loom_cpu_check_blas_dims). Implemented in cpu_gemm.c. */
void loom_cpu_gemm_nt_epilogue(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *w,
                               const float *bias, const float *residual, float *y);

/* act(x) for one value; LOOM_ACT_NONE is the identity. Implemented in unary.c. */
float loom_cpu_act(float x, loom_act act);

/* The plain linear's / conv2d's argument checks, under `op`'s name (the adapted ops share them). */
loom_status loom_cpu_linear_check(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, const loom_tensor *y);
loom_status loom_cpu_conv2d_check(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, const loom_tensor *y, const loom_conv2d_params *p);

#endif
