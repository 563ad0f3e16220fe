/* timestep_embedding.cu — sinusoidal timestep embedding (ops.h): t[N] (f32,
 * on the device) → y[N, dim] (f16 or bf16, y's dtype), the LDM / diffusers formula exactly as
 * kernels/cpu/timestep_embedding.c:
 *   half = dim/2, freq[i] = exp(−ln(max_period)·i / (half − freq_shift)),
 *   arg = t·freq[i], y = [cos | sin] if flip_sin_to_cos else [sin | cos],
 *   and an odd dim gets a trailing zero column.
 * Computed in double, as the CPU op: arg reaches ~1000 rad at t = 999, where
 * fp32's argument error alone (~6e-5 rad) is a fair part of the f16 output
 * rounding the result is checked against. N·half threads of work — a few
 * hundred per UNet step — so double's cost on consumer GPUs does not matter.
 *
 * One thread per (n, i < max(half, 1)); it writes columns i and half + i
 * (and the zero column, i == 0, for an odd dim). Limits: N·half ≤ INT_MAX.
 * No allocation, no sync. */
#include <cmath>

#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

/* lmp = ln(max_period), denom = half − freq_shift: computed once on the host in double. */
template <class T>
__global__ void __launch_bounds__(kThreads) timestep_kernel(const float *t, T *y, int dim, int half, int per_row,
                                                            unsigned total, double lmp, double denom, int flip)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= total) return;
    const unsigned n = (unsigned)idx / (unsigned)per_row, i = (unsigned)idx - n * (unsigned)per_row;
    T *yr = y + (int64_t)n * dim;
    if ((int)i < half) {
        const double arg = (double)t[n] * exp(-lmp * (double)i / denom);
        double s, c;
        sincos(arg, &s, &c);
        const float fc = (float)c, fs = (float)s; /* the CPU op's f32 values, then the storage type */
        yr[i] = loom_dt::from_float<T>(flip ? fc : fs);
        yr[half + i] = loom_dt::from_float<T>(flip ? fs : fc);
    }
    if ((dim & 1) && i == 0) yr[dim - 1] = loom_dt::from_float<T>(0.0f);
}

loom_status check_t(const loom_tensor *t)
{
    static const char op[] = "timestep_embedding";
    if (!t) return loom_fail(LOOM_E_INVALID, "%s: t is missing", op);
    if (t->dtype != LOOM_F32)
        return loom_fail(LOOM_E_INVALID, "%s: t must be f32 (timesteps); got %s", op, loom_dtype_name(t->dtype));
    if (t->device != LOOM_CUDA) return loom_fail(LOOM_E_INVALID, "%s: t is not on the CUDA device", op);
    if (t->ndim != 1) return loom_fail(LOOM_E_INVALID, "%s: t has %d dims; expected 1 ([N])", op, t->ndim);
    if (t->shape[0] < 0) return loom_fail(LOOM_E_INVALID, "%s: t has a negative extent", op);
    if (!loom_tensor_is_contiguous(t)) return loom_fail(LOOM_E_INVALID, "%s: t is not contiguous", op);
    if (!t->data && t->shape[0] > 0) return loom_fail(LOOM_E_INVALID, "%s: t has no data", op);
    return LOOM_OK;
}

template <class T>
loom_status timestep_launch(const loom_tensor *t, loom_tensor *y, int64_t dim, int64_t half, int64_t per_row,
                            int64_t total, const loom_timestep_params *p, double denom)
{
    /* t [N] f32 → y [N, dim] */
    timestep_kernel<T><<<blocks_for(total), kThreads>>>((const float *)t->data, (T *)y->data, (int)dim, (int)half,
                                                        (int)per_row, (unsigned)total, log((double)p->max_period),
                                                        denom, p->flip_sin_to_cos != 0);
    LOOM_LAUNCH_CHECK("timestep_kernel");
    return LOOM_OK;
}

} // namespace

extern "C" loom_status loom_cuda_timestep_embedding(const loom_tensor *t, loom_tensor *y,
                                                    const loom_timestep_params *p)
{
    LOOM_NVTX_RANGE("cuda/timestep_embedding");
    static const char op[] = "timestep_embedding";
    if (!p) return loom_fail(LOOM_E_INVALID, "timestep_embedding: params are missing (NULL)");
    LOOM_TRY(check_t(t));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (p->dim < 1) return loom_fail(LOOM_E_INVALID, "timestep_embedding: dim %d must be >= 1", p->dim);
    const int64_t n = t->shape[0], dim = p->dim, half = dim / 2;
    const int64_t yshape[2] = {n, dim};
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, 2, yshape));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "t", t, 0));
    const double denom = (double)half - (double)p->freq_shift;
    if (!(p->max_period > 0.0f) || !std::isfinite(p->max_period))
        return loom_fail(LOOM_E_INVALID, "timestep_embedding: max_period %g must be finite and > 0",
                         (double)p->max_period);
    if (half > 0 && (!(denom > 0.0) || !std::isfinite(denom)))
        return loom_fail(LOOM_E_INVALID, "timestep_embedding: dim/2 - freq_shift = %g must be > 0", denom);
    if (n == 0) return LOOM_OK;
    const int64_t per_row = half > 0 ? half : 1, total = n * per_row;
    LOOM_TRY(loom_cuda_check_int(op, "N x dim/2", total));

    if (y->dtype == LOOM_BF16) return timestep_launch<__nv_bfloat16>(t, y, dim, half, per_row, total, p, denom);
    return timestep_launch<__half>(t, y, dim, half, per_row, total, p, denom);
}
