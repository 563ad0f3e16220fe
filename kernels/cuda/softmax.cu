/* softmax.cu — softmax over the last dim of x[..., L] (ops.h):
 * y = softmax(x·scale), fp32 inside, one rounding to x's dtype (f16 or bf16);
 * in place allowed.
 * kernels/cpu/softmax.c is the reference (SD1.x: attention probabilities
 * [B·heads, Sq, 77] for the text keys, [.., Sq, Sq] for self-attention).
 *
 * One warp per row, kWarps rows per block, three passes over the row: the
 * max of x·scale, the sum of exp(x·scale − max) (no overflow for large
 * logits), then exp(x·scale − max)/sum. Passes 2 and 3 re-read the row from
 * L1/L2 instead of holding it, so any L works; vectors of 8/4/2/1 halves
 * where L and the pointers allow (L = 77 runs scalar). In place (y == x) is
 * safe: a lane writes only what it reads in pass 3, and the warp reductions
 * order every lane's earlier reads before it. Limits: rows and L ≤ INT_MAX.
 * No allocation, no sync. */
#include <cmath>

#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

template <class T, int V>
__global__ void __launch_bounds__(kThreads) softmax_kernel(const T *x, T *y, int rows, int l, float scale)
{
    const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return; /* whole warps leave: the shuffles stay full-warp */
    const T *xr = x + (int64_t)row * l;
    T *yr = y + (int64_t)row * l;
    const int nv = l / V;

    float mx = -INFINITY;
    for (int v = lane; v < nv; v += 32) {
        float f[V];
        load<V>(xr + v * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) mx = fmaxf(mx, f[k] * scale);
    }
    mx = warp_max(mx);

    float sum = 0.0f;
    for (int v = lane; v < nv; v += 32) {
        float f[V];
        load<V>(xr + v * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) sum += expf(f[k] * scale - mx);
    }
    const float inv = 1.0f / warp_sum(sum); /* ≥ 1 term equals exp(0) = 1: no division by 0 */

    for (int v = lane; v < nv; v += 32) {
        float f[V];
        load<V>(xr + v * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) f[k] = expf(f[k] * scale - mx) * inv;
        store<V>(yr + v * V, f);
    }
}

template <class T, int V> loom_status softmax_launch(const T *x, T *y, int rows, int l, float scale)
{
    softmax_kernel<T, V><<<(unsigned)(((int64_t)rows + kWarps - 1) / kWarps), kThreads>>>(x, y, rows, l, scale);
    LOOM_LAUNCH_CHECK("softmax_kernel");
    return LOOM_OK;
}

template <class T> loom_status softmax_run(const void *x, void *y, int rows, int l, float scale)
{
    const T *xd = (const T *)x;
    T *yd = (T *)y;
    /* [rows, L] → [rows, L] */
    switch (pick_vec(l, xd, yd)) {
    case 8: return softmax_launch<T, 8>(xd, yd, rows, l, scale);
    case 4: return softmax_launch<T, 4>(xd, yd, rows, l, scale);
    case 2: return softmax_launch<T, 2>(xd, yd, rows, l, scale);
    default: return softmax_launch<T, 1>(xd, yd, rows, l, scale);
    }
}

} // namespace

extern "C" loom_status loom_cuda_softmax(const loom_tensor *x, loom_tensor *y, float scale)
{
    LOOM_NVTX_RANGE("cuda/softmax");
    static const char op[] = "softmax";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    if (x->ndim < 1) return loom_fail(LOOM_E_INVALID, "softmax: x is a scalar; expected 1 to 4 dims");
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, x->shape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 1));
    if (!std::isfinite(scale)) return loom_fail(LOOM_E_INVALID, "softmax: scale %g must be finite", (double)scale);
    const int64_t l = x->shape[x->ndim - 1];
    int64_t rows = 1;
    for (int i = 0; i + 1 < x->ndim; i++) rows *= x->shape[i];
    if (l == 0 || rows == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "the row count", rows));
    LOOM_TRY(loom_cuda_check_int(op, "the row length", l));

    return LOOM_CUDA_DISPATCH(x->dtype, T, softmax_run<T>(x->data, y->data, (int)rows, (int)l, scale));
}
