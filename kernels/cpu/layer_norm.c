/* layer_norm.c — LayerNorm over the last dim of x[..., C] (ops.h), as
 * torch.nn.functional.layer_norm: biased variance, eps inside the square
 * root. Mean and variance are two passes in double, and the centring stays
 * in double, so rows with |mean| ≫ std keep full f32 accuracy. */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <math.h>

loom_status loom_cpu_layer_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                loom_tensor *y, float eps)
{
    static const char op[] = "layer_norm";
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 1, 4));
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, x->shape));
    const int64_t c = loom_cpu_last_dim(x), rows = loom_cpu_rows(x);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return loom_fail(LOOM_E_INVALID, "layer_norm: eps %g must be finite and >= 0", (double)eps);
    LOOM_TRY(loom_cpu_check_vector(op, "gamma", gamma, c));
    LOOM_TRY(loom_cpu_check_vector(op, "beta", beta, c));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 1));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "gamma", gamma, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "beta", beta, 0));
    if (c == 0) return LOOM_OK;

    const float *gd = gamma ? gamma->data : NULL, *bd = beta ? beta->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * c;
        float *yr = (float *)y->data + r * c;
        double sum = 0, var = 0;
        for (int64_t i = 0; i < c; i++) sum += xr[i];
        const double mean = sum / (double)c;
        for (int64_t i = 0; i < c; i++) var += (xr[i] - mean) * (xr[i] - mean);
        const double rstd = 1.0 / sqrt(var / (double)c + (double)eps);
        /* xr[i] is read before yr[i] is written: in place is fine */
        for (int64_t i = 0; i < c; i++)
            yr[i] = (float)((xr[i] - mean) * rstd * (gd ? gd[i] : 1.0) + (bd ? bd[i] : 0.0));
    }
    return LOOM_OK;
}
