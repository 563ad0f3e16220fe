/* gemm.cu — loom_cuda_gemm_dt (gemm.h): argument checks, the choice of tile variant and operand path,
 * and the launch of the tile GEMM in mma_tile.cuh with dense A rows, instantiated for f16 and bf16. */
#include <climits>

#include "mma_tile.cuh"

extern "C" {
#include "cuda_check.h"
#include "gemm.h"
}

/* Kernels index with int; k also gets the zero-padded last tile added (< 64 past K). */
static loom_status check_dim(const char *what, int64_t v)
{
    if (v < 0 || v > INT_MAX - 64)
        return loom_fail(LOOM_E_UNSUPPORTED, "gemm: %s = %lld is outside [0, INT_MAX - 64]", what, (long long)v);
    return LOOM_OK;
}

/* The launch for element type T on checked arguments. */
template <class T>
static void launch(loom_mma::variant v, bool vec, const void *a, int64_t lda, const void *b, int64_t ldb, void *c,
                   int64_t ldc, int m, int n, int k, int n_out, const loom_gemm_epilogue *ep)
{
    using namespace loom_mma;
    epi_params<T> epi;
    epi.c = (T *)c;
    epi.ldc = ldc;
    epi.residual = (const T *)ep->residual;
    epi.bias = (const T *)ep->bias;
    epi.bias_f32 = ep->bias_f32;
    epi.col_scale = ep->col_scale;
    epi.alpha = ep->alpha;
    epi.n_out = n_out;
    epi.vec2 = ldc % 2 == 0 && aligned4(c) && (!ep->residual || aligned4(ep->residual));
    const dense_params ap = {(const uint16_t *)a, lda}, bp = {(const uint16_t *)b, ldb};
    // C[M, N] (geglu: [M, N/2]) = epilogue(A[M, K] · B[N, K]ᵀ)
    if (ep->geglu)
        launch_variant<T, dense_params, true>(v, vec, ap, bp, epi, m, n, k);
    else
        launch_variant<T, dense_params, false>(v, vec, ap, bp, epi, m, n, k);
}

loom_status loom_cuda_gemm(const void *a, int64_t lda, const void *b, int64_t ldb, void *c, int64_t ldc, int64_t m,
                           int64_t n, int64_t k, const loom_gemm_epilogue *ep)
{
    return loom_cuda_gemm_dt(LOOM_F16, a, lda, b, ldb, c, ldc, m, n, k, ep);
}

loom_status loom_cuda_gemm_dt(loom_dtype dt, const void *a, int64_t lda, const void *b, int64_t ldb, void *c,
                              int64_t ldc, int64_t m, int64_t n, int64_t k, const loom_gemm_epilogue *ep)
{
    if (dt != LOOM_F16 && dt != LOOM_BF16)
        return loom_fail(LOOM_E_INVALID, "gemm: the tensor-core GEMM takes f16 or bf16; got %s", loom_dtype_name(dt));
    const loom_gemm_epilogue plain = LOOM_GEMM_EPILOGUE_INIT;
    if (!ep) ep = &plain;
    LOOM_TRY(check_dim("M", m));
    LOOM_TRY(check_dim("N", n));
    LOOM_TRY(check_dim("K", k));
    if (ep->geglu && n % 2 != 0)
        return loom_fail(LOOM_E_INVALID, "gemm: GEGLU needs an even column count ([value | gate]); N = %lld",
                         (long long)n);
    const int64_t n_out = ep->geglu ? n / 2 : n;
    if (m == 0 || n_out == 0) return LOOM_OK;
    if (!c || ldc < n_out)
        return loom_fail(LOOM_E_INVALID, "gemm: C is %s with ldc %lld for %lld columns", c ? "set" : "NULL",
                         (long long)ldc, (long long)n_out);
    if (k > 0 && (!a || !b || lda < k || ldb < k))
        return loom_fail(LOOM_E_INVALID, "gemm: A (%s, lda %lld) or B (%s, ldb %lld) does not fit K = %lld",
                         a ? "set" : "NULL", (long long)lda, b ? "set" : "NULL", (long long)ldb, (long long)k);

    using namespace loom_mma;
    const variant v = pick_variant(m, n);
    const dim3 grid = variant_grid(v, (int)m, (int)n, ep->geglu != 0);
    if (grid.y > 65535)
        return loom_fail(LOOM_E_UNSUPPORTED, "gemm: N = %lld needs %u column tiles, over the grid limit 65535",
                         (long long)n, grid.y);
    const bool vec = k % 8 == 0 && lda % 8 == 0 && ldb % 8 == 0 && aligned16(a) && aligned16(b);
    if (dt == LOOM_BF16)
        launch<__nv_bfloat16>(v, vec, a, lda, b, ldb, c, ldc, (int)m, (int)n, (int)k, (int)n_out, ep);
    else
        launch<__half>(v, vec, a, lda, b, ldb, c, ldc, (int)m, (int)n, (int)k, (int)n_out, ep);
    LOOM_LAUNCH_CHECK("loom_mma_gemm");
    return LOOM_OK;
}
