/* cpu_gemm.c — the GEMM + bias + residual epilogue used by linear and conv2d. */
#include "cpu_internal.h"
#include "backend.h"

#include <cblas.h>
#include <string.h>

void loom_cpu_gemm_nt_epilogue(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *w,
                               const float *bias, const float *residual, float *y)
{
    if (m == 0 || n == 0) return;
    /* Write residual + bias first and let the GEMM accumulate onto it
     * (beta = 1): one pass over y for the epilogue, and residual == y
     * (accumulate in place) needs no special case. */
    for (int64_t r = 0; r < m; r++) {
        float *yr = y + r * n;
        if (residual && residual != y) memcpy(yr, residual + r * n, (size_t)n * sizeof(float));
        else if (!residual) memset(yr, 0, (size_t)n * sizeof(float));
        if (bias)
            for (int64_t c = 0; c < n; c++) yr[c] += bias[c];
    }
    if (k == 0) return; /* empty sum: y is just the epilogue */
    // [M,K]·[N,K]ᵀ → [M,N], added onto y
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, w, (int)k,
                1.0f, y, (int)n);
}

void loom_cpu_set_threads(int n)
{
    /* 0 keeps OpenBLAS's own choice (all cores, or OPENBLAS_NUM_THREADS) */
    if (n > 0) openblas_set_num_threads(n);
}
