/* linear.cu — loom_cuda_linear (ops.h): y[M,N] = x[M,K]·w[N,K]ᵀ + bias[N] + residual[M,N] on loom's
 * tensor-core GEMM (gemm.h, tile kernel in mma_tile.cuh), bias and residual in its epilogue: one
 * fp32 sum, one f16 rounding. x has 2–4 dims; its leading dims flatten to M (a row's result does not
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
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "w", w));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (x->ndim < 2 || x->ndim > 4) return loom_fail(LOOM_E_INVALID, "linear: x has %d dims, want 2 to 4", x->ndim);
    if (w->ndim != 2) return loom_fail(LOOM_E_INVALID, "linear: w has %d dims, want 2", w->ndim);
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    int64_t m = 1;
    for (int i = 0; i < x->ndim - 1; i++) {
        LOOM_TRY(loom_cuda_check_int(op, "a leading dim of x", x->shape[i]));
        m *= x->shape[i];
        LOOM_TRY(loom_cuda_check_int(op, "M", m)); /* checked as it grows: no int64 overflow */
    }
    if (w->shape[1] != k) {
        char xs[96], ws[96];
        return loom_fail(LOOM_E_INVALID, "linear: x is %s but w %s expects %lld input features",
                         loom_shape_str(x, xs, sizeof xs), loom_shape_str(w, ws, sizeof ws), (long long)w->shape[1]);
    }
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = n;
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, yshape));
    if (bias) {
        LOOM_TRY(loom_cuda_check_tensor(op, "bias", bias));
        LOOM_TRY(loom_cuda_check_shape(op, "bias", bias, 1, &n));
    }
    if (residual) {
        LOOM_TRY(loom_cuda_check_tensor(op, "residual", residual));
        LOOM_TRY(loom_cuda_check_shape(op, "residual", residual, x->ndim, yshape));
    }
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "w", w, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "bias", bias, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "residual", residual, 1)); /* y == residual: accumulate */
    LOOM_TRY(loom_cuda_check_int(op, "N", n));
    LOOM_TRY(loom_cuda_check_int(op, "K", k));
    if (m == 0 || n == 0) return LOOM_OK;

    loom_gemm_epilogue ep = LOOM_GEMM_EPILOGUE_INIT;
    ep.bias = bias ? bias->data : nullptr;
    ep.residual = residual ? residual->data : nullptr;
    // y[M, N] = x[M, K]·w[N, K]ᵀ + bias + residual (K == 0: bias + residual)
    loom_status s = loom_cuda_gemm(x->data, k, w->data, k, y->data, n, m, n, k, &ep);
    if (s != LOOM_OK) return loom_fail_wrap(s, "linear");
    return LOOM_OK;
}
