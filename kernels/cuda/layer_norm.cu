/* layer_norm.cu — LayerNorm over the last dim of x[..., C] (ops.h), as
 * torch's layer_norm: biased variance, eps inside the square root, optional
 * γ/β (NULL: 1/0). kernels/cpu/layer_norm.c is the reference.
 *
 * One warp per row, kWarps rows per block. Three passes over the row: the
 * sum (→ mean), the sum of squared deviations around that mean (two-pass,
 * no E[x²] − E[x]² cancellation), then y = (x − μ)·rstd·γ + β with one
 * rounding to f16; all fp32. Passes 2 and 3 re-read the row from L1/L2 (SD's
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

template <int V>
__global__ void __launch_bounds__(kThreads) ln_kernel(const __half *x, const __half *gamma, const __half *beta,
                                                      __half *y, int rows, int c, float eps)
{
    const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return; /* whole warps leave: the shuffles stay full-warp */
    const __half *xr = x + (int64_t)row * c;
    __half *yr = y + (int64_t)row * c;
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

template <int V>
loom_status ln_launch(const __half *x, const __half *gamma, const __half *beta, __half *y, int rows, int c, float eps)
{
    ln_kernel<V><<<(unsigned)(((int64_t)rows + kWarps - 1) / kWarps), kThreads>>>(x, gamma, beta, y, rows, c, eps);
    LOOM_LAUNCH_CHECK("ln_kernel");
    return LOOM_OK;
}

loom_status check_affine(const char *name, const loom_tensor *t, int64_t c)
{
    if (!t) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_tensor("layer_norm", name, t));
    return loom_cuda_check_shape("layer_norm", name, t, 1, &c);
}

} // namespace

extern "C" loom_status loom_cuda_layer_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                            loom_tensor *y, float eps)
{
    LOOM_NVTX_RANGE("cuda/layer_norm");
    static const char op[] = "layer_norm";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (x->ndim < 1) return loom_fail(LOOM_E_INVALID, "layer_norm: x is a scalar; expected 1 to 4 dims");
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, x->shape));
    const int64_t c = x->shape[x->ndim - 1];
    int64_t rows = 1;
    for (int i = 0; i + 1 < x->ndim; i++) rows *= x->shape[i];
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        return loom_fail(LOOM_E_INVALID, "layer_norm: eps %g must be finite and >= 0", (double)eps);
    LOOM_TRY(check_affine("gamma", gamma, c));
    LOOM_TRY(check_affine("beta", beta, c));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 1));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "gamma", gamma, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "beta", beta, 0));
    if (c == 0 || rows == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "the row count", rows));
    LOOM_TRY(loom_cuda_check_int(op, "the row length", c));

    const __half *xd = (const __half *)x->data, *gd = gamma ? (const __half *)gamma->data : nullptr,
                 *bd = beta ? (const __half *)beta->data : nullptr;
    __half *yd = (__half *)y->data;
    /* [rows, C] → [rows, C] */
    switch (pick_vec(c, xd, yd, gd, bd)) {
    case 8: return ln_launch<8>(xd, gd, bd, yd, (int)rows, (int)c, eps);
    case 4: return ln_launch<4>(xd, gd, bd, yd, (int)rows, (int)c, eps);
    case 2: return ln_launch<2>(xd, gd, bd, yd, (int)rows, (int)c, eps);
    default: return ln_launch<1>(xd, gd, bd, yd, (int)rows, (int)c, eps);
    }
}
