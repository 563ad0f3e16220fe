/* linear_cublas.cu — vendor baseline for loom_ops.linear (ops.h):
 * y[M,N] = x[M,K]·w[N,K]ᵀ + bias[N] + residual[M,N] with one cublasGemmEx,
 * f16 or bf16 storage (x's dtype, CUDA_R_16F / CUDA_R_16BF), fp32 accumulate (CUBLAS_COMPUTE_32F: no fp16 or tf32
 * shortcuts). bias + residual are written into y first and the GEMM adds
 * its product with beta = 1, so the epilogue costs no extra pass after it.
 *
 * Row-major ↔ cuBLAS's column-major: a row-major [R,C] buffer is a
 * column-major C×R matrix, so the call computes yᵀ[N,M] = w·xᵀ with
 * w read transposed (OP_T on the K×N column-major view of w[N,K]). */
#include "nvtx.h"
#include "vendor.h"

loom_status loom_vendor_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y)
{
    LOOM_NVTX_RANGE("vendor/linear");
    static const char op[] = "linear";
    int64_t m;
    LOOM_TRY(loom_cuda_check_linear(op, x, w, bias, residual, y, &m));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    if (m == 0 || n == 0) return LOOM_OK;

    const int pre = bias || residual || k == 0; /* k == 0: y is just bias + residual (or zeros) */
    if (pre)
        LOOM_TRY(loom_vendor_prefill(x->dtype, y->data, bias ? bias->data : nullptr,
                                     residual ? residual->data : nullptr, m, n));
    if (k == 0) return LOOM_OK;
    cublasHandle_t h;
    LOOM_TRY(loom_vendor_cublas(&h));
    const cudaDataType_t io = x->dtype == LOOM_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.0f, beta = pre ? 1.0f : 0.0f;
    // yᵀ[N,M] = w[N,K] (OP_T of its K×N view) · xᵀ[K,M]
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &alpha, w->data, io, (int)k,
                              x->data, io, (int)k, &beta, y->data, io, (int)n,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return LOOM_OK;
}
