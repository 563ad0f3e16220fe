/* layer_norm.cu — LayerNorm over the last dim of x[..., C] (ops.h), as
 * torch's layer_norm: biased variance, eps inside the square root, optional
 * γ/β (NULL: 1/0). kernels/cpu/layer_norm.c is the reference.
 *
 * One warp per row, kWarps rows per block. Three passes over the row: the
 * sum (→ mean), the sum of squared deviations around that mean (two-pass,
 * no E[x²] − E[x]² cancellation), then y = (x − μ)·rstd·γ + β with one
 * rounding to x's dtype (f16 or bf16; γ, β, y share it); all fp32. Passes 2 and 3 re-read the row from L1/L2 (SD's
 * rows are 320–1280 halves, CLIP's 768). Works for any C; vectors of 8/4/2/1
 * halves where C and the pointers allow. In place (y == x) is safe: a lane
 * writes only the elements it reads in pass 3, and the warp's reductions
 * order every lane's earlier reads before it.
 * Limits: rows and C ≤ INT_MAX. No allocation, no host sync. */
#include <cmath>

#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

template <class T, int V>
__global__ void __launch_bounds__(kThreads) ln_kernel(const T *x, const T *gamma, const T *beta, T *y, int rows, int c,
                                                      float eps)
{
    const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return; /* whole warps leave: the shuffles stay full-warp */
    const T *xr = x + (int64_t)row * c;
    T *yr = y + (int64_t)row * c;
    const int nv = c / V;

    float sum = 0.0f;
    for (int v = lane; v < nv; v += 32) {
        float f[V];
        load<V>(xr + v * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) sum += f[k];
    }
    const float mean = warp_sum(sum) / (float)c;

    float m2 = 0.0f;
    for (int v = lane; v < nv; v += 32) {
        float f[V];
        load<V>(xr + v * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) m2 += (f[k] - mean) * (f[k] - mean);
    }
    const float rstd = 1.0f / sqrtf(warp_sum(m2) / (float)c + eps);

    for (int v = lane; v < nv; v += 32) {
        float f[V], ga[V], be[V];
        load<V>(xr + v * V, f);
        if (gamma) load<V>(gamma + v * V, ga);
        else
            for (int k = 0; k < V; k++) ga[k] = 1.0f;
        if (beta) load<V>(beta + v * V, be);
        else
            for (int k = 0; k < V; k++) be[k] = 0.0f;
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = fmaf((f[k] - mean) * rstd, ga[k], be[k]);
        store<V>(yr + v * V, f);
    }
}

template <class T, int V>
loom_status ln_launch(const T *x, const T *gamma, const T *beta, T *y, int rows, int c, float eps)
{
    ln_kernel<T, V><<<(unsigned)(((int64_t)rows + kWarps - 1) / kWarps), kThreads>>>(x, gamma, beta, y, rows, c, eps);
    LOOM_LAUNCH_CHECK("ln_kernel");
    return LOOM_OK;
}

loom_status check_affine(const char *name, const loom_tensor *t, int64_t c, const loom_tensor *x)
{
    if (!t) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_tensor("layer_norm", name, t));
    LOOM_TRY(loom_cuda_check_same_dtype("layer_norm", name, t, "x", x));
    return loom_cuda_check_shape("layer_norm", name, t, 1, &c);
}

template <class T>
loom_status ln_run(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta, loom_tensor *y, int rows,
                   int c, float eps)
{
    const T *xd = (const T *)x->data, *gd = gamma ? (const T *)gamma->data : nullptr,
            *bd = beta ? (const T *)beta->data : nullptr;
    T *yd = (T *)y->data;
    /* [rows, C] → [rows, C] */
    switch (pick_vec(c, xd, yd, gd, bd)) {
    case 8: return ln_launch<T, 8>(xd, gd, bd, yd, rows, c, eps);
    case 4: return ln_launch<T, 4>(xd, gd, bd, yd, rows, c, eps);
    case 2: return ln_launch<T, 2>(xd, gd, bd, yd, rows, c, eps);
    default: return ln_launch<T, 1>(xd, gd, bd, yd, rows, c, eps);
    }
}

} // namespace

extern "C" loom_status loom_cuda_layer_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                            loom_tensor *y, float eps)
{
    LOOM_NVTX_RANGE("cuda/layer_norm");
    static const char op[] = "layer_norm";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    if (x->ndim < 1) return loom_fail(LOOM_E_INVALID, "layer_norm: x is a scalar; expected 1 to 4 dims");
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, x->shape));
    const int64_t c = x->shape[x->ndim - 1];
    int64_t rows = 1;
    for (int i = 0; i + 1 < x->ndim; i++) rows *= x->shape[i];
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        return loom_fail(LOOM_E_INVALID, "layer_norm: eps %g must be finite and >= 0", (double)eps);
    LOOM_TRY(check_affine("gamma", gamma, c, x));
    LOOM_TRY(check_affine("beta", beta, c, x));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 1));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "gamma", gamma, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "beta", beta, 0));
    if (c == 0 || rows == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "the row count", rows));
    LOOM_TRY(loom_cuda_check_int(op, "the row length", c));

    return LOOM_CUDA_DISPATCH(x->dtype, T, ln_run<T>(x, gamma, beta, y, (int)rows, (int)c, eps));
}
