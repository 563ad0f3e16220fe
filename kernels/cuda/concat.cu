/* concat.cu — channel (last-dim) concat (ops.h): a[..., Ca], b[..., Cb] →
 * y[..., Ca+Cb]; the UNet decoder's skip connections on NHWC maps
 * (kernels/cpu/concat.c is the reference). A bit copy, exact.
 *
 * f16 and bf16 alike (a, b, y of one dtype): the kernel moves 16-bit patterns.
 * One thread per V values of y (V = 8/4/2/1 where Ca, Cb and the pointers
 * allow, so a vector never straddles the a|b boundary or a row end). y must
 * not overlap a or b. Limits: y has ≤ INT_MAX elements. No allocation, no
 * sync. */
#include <algorithm>

#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

template <int V>
__global__ void __launch_bounds__(kThreads)
    concat_kernel(const uint16_t *a, const uint16_t *b, uint16_t *y, unsigned ca, unsigned cb, unsigned nvec)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= nvec) return;
    const unsigned e = (unsigned)idx * V, ct = ca + cb;
    const unsigned r = e / ct, c = e - r * ct;
    const uint16_t *src = c < ca ? a + (int64_t)r * ca + c : b + (int64_t)r * cb + (c - ca);
    copy<V>(y + e, src);
}

template <int V>
loom_status concat_launch(const uint16_t *a, const uint16_t *b, uint16_t *y, int64_t ca, int64_t cb, int64_t n)
{
    const int64_t nvec = n / V;
    concat_kernel<V><<<blocks_for(nvec), kThreads>>>(a, b, y, (unsigned)ca, (unsigned)cb, (unsigned)nvec);
    LOOM_LAUNCH_CHECK("concat_kernel");
    return LOOM_OK;
}

} // namespace

extern "C" loom_status loom_cuda_concat(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/concat");
    static const char op[] = "concat";
    LOOM_TRY(loom_cuda_check_tensor(op, "a", a));
    LOOM_TRY(loom_cuda_check_tensor(op, "b", b));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "b", b, "a", a));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "a", a));
    char s1[96], s2[96];
    if (a->ndim < 1)
        return loom_fail(LOOM_E_INVALID, "concat: a is %s; expected 1 to 4 dims", loom_shape_str(a, s1, sizeof s1));
    int same = b->ndim == a->ndim;
    for (int i = 0; same && i + 1 < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same)
        return loom_fail(LOOM_E_INVALID, "concat: a %s and b %s differ outside the last dim",
                         loom_shape_str(a, s1, sizeof s1), loom_shape_str(b, s2, sizeof s2));
    const int64_t ca = a->shape[a->ndim - 1], cb = b->shape[b->ndim - 1];
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) yshape[i] = a->shape[i];
    yshape[a->ndim - 1] = ca + cb;
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, a->ndim, yshape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "a", a, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "b", b, 0));
    const int64_t n = loom_tensor_numel(y);
    if (n == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "y's element count", n));

    const uint16_t *ad = (const uint16_t *)a->data, *bd = (const uint16_t *)b->data;
    uint16_t *yd = (uint16_t *)y->data;
    /* [rows, Ca] | [rows, Cb] → [rows, Ca+Cb]; V must divide both widths */
    switch (std::min(pick_vec(ca, ad, bd, yd), pick_vec(cb, ad, bd, yd))) { /* powers of 2: the min divides both */
    case 8: return concat_launch<8>(ad, bd, yd, ca, cb, n);
    case 4: return concat_launch<4>(ad, bd, yd, ca, cb, n);
    case 2: return concat_launch<2>(ad, bd, yd, ca, cb, n);
    default: return concat_launch<1>(ad, bd, yd, ca, cb, n);
    }
}
