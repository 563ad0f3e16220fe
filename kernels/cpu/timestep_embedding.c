/* timestep_embedding.c — sinusoidal timestep embedding (ops.h), the
 * LDM / diffusers get_timestep_embedding formula:
 *   half = dim/2, freq[i] = exp(−ln(max_period)·i / (half − freq_shift)),
 *   arg = t·freq[i], y = [cos | sin] if flip_sin_to_cos else [sin | cos],
 *   and an odd dim gets a trailing zero column (as diffusers pads).
 * Computed in double: t·freq reaches ~1000 rad, where an f32 argument
 * would already be off by ~1e-4. */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <math.h>

loom_status loom_cpu_timestep_embedding(const loom_tensor *t, loom_tensor *y, const loom_timestep_params *p)
{
    static const char op[] = "timestep_embedding";
    if (!p) return loom_fail(LOOM_E_INVALID, "timestep_embedding: params are missing (NULL)");
    LOOM_TRY(loom_cpu_check_tensor(op, "t", t));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "t", t, 1, 1));
    if (p->dim < 1) return loom_fail(LOOM_E_INVALID, "timestep_embedding: dim %d must be >= 1", p->dim);
    const int64_t n = t->shape[0], dim = p->dim, half = dim / 2;
    const int64_t yshape[2] = {n, dim};
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, 2, yshape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "t", t, 0));
    const double denom = (double)half - (double)p->freq_shift;
    if (!(p->max_period > 0.0f) || !isfinite(p->max_period))
        return loom_fail(LOOM_E_INVALID, "timestep_embedding: max_period %g must be finite and > 0",
                         (double)p->max_period);
    if (half > 0 && (!(denom > 0.0) || !isfinite(denom)))
        return loom_fail(LOOM_E_INVALID, "timestep_embedding: dim/2 - freq_shift = %g must be > 0", denom);
    const double lmp = log((double)p->max_period);
    const float *td = t->data;
    float *yd = y->data;
    for (int64_t r = 0; r < n; r++) {
        float *yr = yd + r * dim;
        for (int64_t i = 0; i < half; i++) {
            const double arg = (double)td[r] * exp(-lmp * (double)i / denom);
            const float c = (float)cos(arg), s = (float)sin(arg);
            yr[i] = p->flip_sin_to_cos ? c : s;
            yr[half + i] = p->flip_sin_to_cos ? s : c;
        }
        if (dim % 2) yr[dim - 1] = 0.0f;
    }
    return LOOM_OK;
}
