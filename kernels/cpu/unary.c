/* unary.c — elementwise activations (ops.h): silu, exact gelu, gelu_tanh,
 * quick_gelu; in place allowed.
 *
 * The GELUs are evaluated in double: 0.5·x·(1 + erf(x/√2)) cancels for
 * negative x (1 + erf → 0), so the exact form is written with erfc, and the
 * tanh form's 1 + tanh(·) keeps double precision before rounding to f32. */
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

#include <math.h>

#define INV_SQRT2 0.70710678118654752440
#define SQRT_2_OVER_PI 0.79788456080286535588

float loom_cpu_act(float x, loom_act act)
{
    switch (act) {
    case LOOM_ACT_SILU: return x / (1.0f + expf(-x)); /* expf → inf for x < −88: x/inf = −0, the limit */
    case LOOM_ACT_GELU: return (float)(0.5 * x * erfc(-x * INV_SQRT2));
    case LOOM_ACT_GELU_TANH: {
        const double d = x;
        return (float)(0.5 * d * (1.0 + tanh(SQRT_2_OVER_PI * (d + 0.044715 * d * d * d))));
    }
    case LOOM_ACT_QUICK_GELU: return x / (1.0f + expf(-1.702f * x)); /* x·σ(1.702·x), CLIP */
    default: return x;
    }
}

loom_status loom_cpu_unary(const loom_tensor *x, loom_tensor *y, loom_act act)
{
    static const char op[] = "unary";
    if ((unsigned)act >= LOOM_ACT_COUNT) return loom_fail(LOOM_E_INVALID, "unary: unknown activation %d", (int)act);
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, x->shape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 1));
    const int64_t n = loom_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
    /* one switch per call, not per element, so the loops stay simple */
    switch (act) {
    case LOOM_ACT_SILU:
        for (int64_t i = 0; i < n; i++) yd[i] = loom_cpu_act(xd[i], LOOM_ACT_SILU);
        break;
    case LOOM_ACT_GELU:
        for (int64_t i = 0; i < n; i++) yd[i] = loom_cpu_act(xd[i], LOOM_ACT_GELU);
        break;
    case LOOM_ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++) yd[i] = loom_cpu_act(xd[i], LOOM_ACT_GELU_TANH);
        break;
    case LOOM_ACT_QUICK_GELU:
        for (int64_t i = 0; i < n; i++) yd[i] = loom_cpu_act(xd[i], LOOM_ACT_QUICK_GELU);
        break;
    default:
        for (int64_t i = 0; i < n && yd != xd; i++) yd[i] = xd[i];
        break;
    }
    return LOOM_OK;
}
