/* geglu.cu — GEGLU (ops.h): x[..., 2F] = [a | g] → y[..., F] = a·gelu(g),
 * exact (erf) GELU in fp32, one rounding to the storage type (f16 or bf16,
 * x's dtype; y has it too). kernels/cpu/geglu.c is the
 * reference (SD1.x: [B, 4096, 2560] → [B, 4096, 1280] at 64×64).
 *
 * One thread per V outputs of a row (V = 8/4/2/1 halves where F and the
 * pointers allow, so a vector never crosses the a|g split or a row end).
 * y must not overlap x. Limits: rows·F ≤ INT_MAX. No allocation, no sync. */
#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

/* nvec = rows·F / V threads' worth of work. */
template <class T, int V>
__global__ void __launch_bounds__(kThreads) geglu_kernel(const T *x, T *y, unsigned f, unsigned nvec)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= nvec) return;
    const unsigned e = (unsigned)idx * V; /* output element: row r, column i */
    const unsigned r = e / f, i = e - r * f;
    const T *xa = x + (int64_t)r * 2 * f + i; /* a[r, i]; g[r, i] is F further */
    float a[V], g[V];
    load<V>(xa, a);
    load<V>(xa + f, g);
#pragma unroll
    for (int k = 0; k < V; k++) a[k] *= gelu(g[k]);
    store<V>(y + e, a);
}

template <class T, int V> loom_status geglu_launch(const T *x, T *y, int64_t f, int64_t n)
{
    const int64_t nvec = n / V;
    geglu_kernel<T, V><<<blocks_for(nvec), kThreads>>>(x, y, (unsigned)f, (unsigned)nvec);
    LOOM_LAUNCH_CHECK("geglu_kernel");
    return LOOM_OK;
}

template <class T> loom_status geglu_run(const void *x, void *y, int64_t f, int64_t n)
{
    const T *xd = (const T *)x;
    T *yd = (T *)y;
    /* [rows, 2F] → [rows, F] */
    switch (pick_vec(f, xd, yd)) {
    case 8: return geglu_launch<T, 8>(xd, yd, f, n);
    case 4: return geglu_launch<T, 4>(xd, yd, f, n);
    case 2: return geglu_launch<T, 2>(xd, yd, f, n);
    default: return geglu_launch<T, 1>(xd, yd, f, n);
    }
}

} // namespace

extern "C" loom_status loom_cuda_geglu(const loom_tensor *x, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/geglu");
    static const char op[] = "geglu";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    char xs[96];
    if (x->ndim < 1)
        return loom_fail(LOOM_E_INVALID, "geglu: x is %s; expected 1 to 4 dims", loom_shape_str(x, xs, sizeof xs));
    const int64_t two_f = x->shape[x->ndim - 1], f = two_f / 2;
    if (two_f % 2 != 0)
        return loom_fail(LOOM_E_INVALID, "geglu: x is %s; its last dim must be even ([value | gate])",
                         loom_shape_str(x, xs, sizeof xs));
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = f;
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, yshape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 0));
    const int64_t n = loom_tensor_numel(y);
    if (n == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "y's element count", n));

    return LOOM_CUDA_DISPATCH(x->dtype, T, geglu_run<T>(x->data, y->data, f, n));
}
