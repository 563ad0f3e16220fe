/* unary.cu — y = act(x) elementwise (ops.h): SiLU, exact GELU, tanh GELU,
 * QuickGELU in fp32, one rounding to x's dtype (f16 or bf16)
 * (misc_common.cuh has the fp32 formulas, each the CPU op's,
 * kernels/cpu/unary.c), or a copy for LOOM_ACT_NONE. Any shape; in place
 * (y == x) allowed: each thread reads its elements before writing them.
 *
 * One thread per V elements of the flat tensor (V = 8/4/2/1 where the
 * element count and both pointers allow). Limits: ≤ INT_MAX elements. No
 * allocation, no sync. */
#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

template <class T, int ACT, int V>
__global__ void __launch_bounds__(kThreads) unary_kernel(const T *x, T *y, unsigned nvec)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= nvec) return;
    const unsigned e = (unsigned)idx * V;
    float f[V];
    load<V>(x + e, f);
#pragma unroll
    for (int k = 0; k < V; k++) f[k] = act<ACT>(f[k]);
    store<V>(y + e, f);
}

template <class T, int ACT, int V> loom_status unary_launch(const T *x, T *y, int64_t n)
{
    const int64_t nvec = n / V;
    unary_kernel<T, ACT, V><<<blocks_for(nvec), kThreads>>>(x, y, (unsigned)nvec);
    LOOM_LAUNCH_CHECK("unary_kernel");
    return LOOM_OK;
}

template <class T, int ACT> loom_status unary_vec(const T *x, T *y, int64_t n)
{
    switch (pick_vec(n, x, y)) {
    case 8: return unary_launch<T, ACT, 8>(x, y, n);
    case 4: return unary_launch<T, ACT, 4>(x, y, n);
    case 2: return unary_launch<T, ACT, 2>(x, y, n);
    default: return unary_launch<T, ACT, 1>(x, y, n);
    }
}

template <class T> loom_status unary_run(const void *x, void *y, int64_t n, loom_act act)
{
    const T *xd = (const T *)x;
    T *yd = (T *)y;
    switch (act) { /* one instantiation per activation: no per-element switch */
    case LOOM_ACT_SILU: return unary_vec<T, LOOM_ACT_SILU>(xd, yd, n);
    case LOOM_ACT_GELU: return unary_vec<T, LOOM_ACT_GELU>(xd, yd, n);
    case LOOM_ACT_GELU_TANH: return unary_vec<T, LOOM_ACT_GELU_TANH>(xd, yd, n);
    case LOOM_ACT_QUICK_GELU: return unary_vec<T, LOOM_ACT_QUICK_GELU>(xd, yd, n);
    default: return unary_vec<T, LOOM_ACT_NONE>(xd, yd, n);
    }
}

} // namespace

extern "C" loom_status loom_cuda_unary(const loom_tensor *x, loom_tensor *y, loom_act act)
{
    LOOM_NVTX_RANGE("cuda/unary");
    static const char op[] = "unary";
    if ((unsigned)act >= LOOM_ACT_COUNT) return loom_fail(LOOM_E_INVALID, "unary: unknown activation %d", (int)act);
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, x->shape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 1));
    const int64_t n = loom_tensor_numel(x);
    if (n == 0 || (act == LOOM_ACT_NONE && y->data == x->data)) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "the element count", n));

    return LOOM_CUDA_DISPATCH(x->dtype, T, unary_run<T>(x->data, y->data, n, act));
}
