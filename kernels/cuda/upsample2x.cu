/* upsample2x.cu — nearest-neighbour ×2 on NHWC (ops.h): y[n, 2h+i, 2w+j, :]
 * = x[n, h, w, :] for i, j ∈ {0, 1}, as F.interpolate(mode="nearest",
 * scale_factor=2) (kernels/cpu/upsample2x.c). A bit copy, exact.
 *
 * f16 and bf16 alike (x, y of one dtype): the kernel moves 16-bit patterns.
 * One thread per V channels of one input pixel, written to its 4 output
 * pixels (V = 8/4/2/1 where C and the pointers allow). y must not overlap x.
 * Limits: y has ≤ INT_MAX elements. No allocation, no sync. */
#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

template <int V>
__global__ void __launch_bounds__(kThreads) upsample2x_kernel(const uint16_t *x, uint16_t *y, unsigned w, unsigned c,
                                                              unsigned nvec)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= nvec) return;
    const unsigned e = (unsigned)idx * V;           /* x element: pixel p, channel ch */
    const unsigned p = e / c, ch = e - p * c;
    const unsigned nh = p / w, wi = p - nh * w;     /* nh = n·H + h; output rows 2·nh, 2·nh + 1 */
    const int64_t yw = 2 * (int64_t)w;              /* output pixels per row */
    const int64_t y00 = ((2 * (int64_t)nh) * yw + 2 * (int64_t)wi) * c + ch;
    const int64_t row = yw * c;                     /* values per output row */
    copy<V>(y + y00, x + e);
    copy<V>(y + y00 + c, x + e);
    copy<V>(y + y00 + row, x + e);
    copy<V>(y + y00 + row + c, x + e);
}

template <int V> loom_status upsample2x_launch(const uint16_t *x, uint16_t *y, int64_t w, int64_t c, int64_t n)
{
    const int64_t nvec = n / V;
    upsample2x_kernel<V><<<blocks_for(nvec), kThreads>>>(x, y, (unsigned)w, (unsigned)c, (unsigned)nvec);
    LOOM_LAUNCH_CHECK("upsample2x_kernel");
    return LOOM_OK;
}

} // namespace

extern "C" loom_status loom_cuda_upsample2x(const loom_tensor *x, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/upsample2x");
    static const char op[] = "upsample2x";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    if (x->ndim != 4) {
        char xs[96];
        return loom_fail(LOOM_E_INVALID, "upsample2x: x is %s; expected 4 dims [N, H, W, C]",
                         loom_shape_str(x, xs, sizeof xs));
    }
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t yshape[4] = {nb, 2 * h, 2 * w, c};
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, 4, yshape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 0));
    if (loom_tensor_numel(y) == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "y's element count", loom_tensor_numel(y)));

    const uint16_t *xd = (const uint16_t *)x->data;
    uint16_t *yd = (uint16_t *)y->data;
    const int64_t n = loom_tensor_numel(x);
    /* [N, H, W, C] → [N, 2H, 2W, C] */
    switch (pick_vec(c, xd, yd)) {
    case 8: return upsample2x_launch<8>(xd, yd, w, c, n);
    case 4: return upsample2x_launch<4>(xd, yd, w, c, n);
    case 2: return upsample2x_launch<2>(xd, yd, w, c, n);
    default: return upsample2x_launch<1>(xd, yd, w, c, n);
    }
}
