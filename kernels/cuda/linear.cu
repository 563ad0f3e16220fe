/* linear.cu — loom_cuda_linear (ops.h): y[M,N] = x[M,K]·w[N,K]ᵀ + bias[N] + residual[M,N] on loom's
 * tensor-core GEMM (gemm.h, tile kernel in mma_tile.cuh), bias and residual in its epilogue: one
 * fp32 sum, one rounding to x's dtype (f16 or bf16; every operand shares it). x has 2–4 dims; its leading
 * dims flatten to M (a row's result does not
 * depend on M, so batching is invariant). Checks and messages as the vendor op (linear_cublas.cu). */
#include "nvtx.h"

extern "C" {
#include "cuda_ops.h"
#include "gemm.h"
}

loom_status loom_cuda_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                             const loom_tensor *residual, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/linear");
    static const char op[] = "linear";
    int64_t m;
    LOOM_TRY(loom_cuda_check_linear(op, x, w, bias, residual, y, &m));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    if (m == 0 || n == 0) return LOOM_OK;

    loom_gemm_epilogue ep = LOOM_GEMM_EPILOGUE_INIT;
    ep.bias = bias ? bias->data : nullptr;
    ep.residual = residual ? residual->data : nullptr;
    // y[M, N] = x[M, K]·w[N, K]ᵀ + bias + residual (K == 0: bias + residual)
    loom_status s = loom_cuda_gemm_dt(x->dtype, x->data, k, w->data, k, y->data, n, m, n, k, &ep);
    if (s != LOOM_OK) return loom_fail_wrap(s, "linear");
    return LOOM_OK;
}
