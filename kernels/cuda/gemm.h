/* gemm.h — loom's tensor-core GEMM (kernels/cuda/mma_tile.cuh) as an internal entry for other CUDA
 * code (linear, adapters): C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), f16 or bf16 in/out (A, B, C,
 * bias and residual all of the call's dtype), fp32 accumulate, one rounding at the store. Plain C so C files
 * may include it; pointers are device pointers.
 *
 * The epilogue, in this order, per element (m, n) with p = Σ_k A[m,k]·B[n,k] in fp32:
 *   v = p · alpha · col_scale[n] + bias[n] + bias_f32[n]        (absent terms skipped)
 *   geglu: out[m, j] = v[m, j] · gelu(v[m, F + j]), j < F = N/2  (diffusers GEGLU: proj → chunk(2) →
 *          value · gelu(gate), exact gelu); C is then [M, F]
 *   C[m, n] = f16(out + residual[m, n])
 * bias / bias_f32 / col_scale are indexed by the GEMM column n (length N, also with geglu); residual
 * has C's layout (ldc) and may be C itself (accumulate in place).
 *
 * Batch invariant: a row's result does not depend on M or on the other rows (fixed K order, no
 * split-K). Queues work on the default stream; no sync, no allocation. The caller owns aliasing:
 * C must not overlap A, B, bias, col_scale or bias_f32, and overlaps residual only if identical. */
#ifndef LOOM_CUDA_GEMM_H
#define LOOM_CUDA_GEMM_H

#include <stdint.h>

#include "loom_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_gemm_epilogue {
    float alpha;            /* scales the product; 1 for none (0 gives y = bias + residual) */
    const float *col_scale; /* [N] f32 or NULL: multiplies the product */
    const void *bias;       /* [N] in the GEMM's dtype, or NULL */
    const float *bias_f32;  /* [N] f32 or NULL, added as well */
    const void *residual;   /* the GEMM's dtype, C's shape and ldc, or NULL; may equal c */
    int geglu;              /* nonzero: N = 2F GEMM columns, C is [M, F] */
} loom_gemm_epilogue;

#define LOOM_GEMM_EPILOGUE_INIT {1.0f, NULL, NULL, NULL, NULL, 0}

/* dt: LOOM_F16 or LOOM_BF16, the type of a, b, c, bias and residual.
 * a: [M, K] row-major with leading dim lda ≥ K; b: [N, K] with ldb ≥ K; c: [M, N]
 * (geglu: [M, N/2]) with ldc ≥ its width. ep NULL = plain product. M, N, K ≤ INT_MAX − 64.
 * K == 0: C = epilogue of a zero product. M == 0 or N == 0: nothing to do.
 * Fast path when K, lda, ldb are multiples of 8 and a, b are 16-byte aligned; any other
 * shape or alignment (2-byte) takes an element-wise load path. */
loom_status loom_cuda_gemm_dt(loom_dtype dt, const void *a, int64_t lda, const void *b, int64_t ldb, void *c,
                              int64_t ldc, int64_t m, int64_t n, int64_t k, const loom_gemm_epilogue *ep);
/* loom_cuda_gemm_dt with dt = LOOM_F16. */
loom_status loom_cuda_gemm(const void *a, int64_t lda, const void *b, int64_t ldb, void *c, int64_t ldc, int64_t m,
                           int64_t n, int64_t k, const loom_gemm_epilogue *ep);

#ifdef __cplusplus
}
#endif
#endif
