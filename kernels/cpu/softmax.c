/* softmax.c — softmax over the last dim of x[..., L] (ops.h):
 * y = softmax(x·scale), in place allowed. The row max is subtracted before
 * exp (no overflow for large logits) and the whole row is evaluated in
 * double, so x·scale − max carries no f32 rounding into the exponent. */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <math.h>

loom_status loom_cpu_softmax(const loom_tensor *x, loom_tensor *y, float scale)
{
    static const char op[] = "softmax";
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 1, 4));
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, x->shape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 1));
    if (!isfinite(scale)) return loom_fail(LOOM_E_INVALID, "softmax: scale %g must be finite", (double)scale);
    const int64_t l = loom_cpu_last_dim(x), rows = loom_cpu_rows(x);
    if (l == 0) return LOOM_OK;
    const double sc = scale;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * l;
        float *yr = (float *)y->data + r * l;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < l; j++) mx = fmax(mx, xr[j] * sc);
        for (int64_t j = 0; j < l; j++) sum += exp(xr[j] * sc - mx);
        /* the exponentials are recomputed rather than stored: y may be x */
        for (int64_t j = 0; j < l; j++) yr[j] = (float)(exp(xr[j] * sc - mx) / sum);
    }
    return LOOM_OK;
}
