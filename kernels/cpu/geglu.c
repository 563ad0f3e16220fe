/* geglu.c — GEGLU (ops.h): x[..., 2F] = [a | g] → y[..., F] = a·gelu(g),
 * exact gelu, as diffusers' GEGLU (hidden, gate = proj(x).chunk(2, -1))
 * and LDM's. */
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

loom_status loom_cpu_geglu(const loom_tensor *x, loom_tensor *y)
{
    static const char op[] = "geglu";
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 1, 4));
    const int64_t two_f = x->shape[x->ndim - 1], f = two_f / 2, rows = loom_cpu_rows(x);
    if (two_f % 2 != 0) {
        char xs[96];
        return loom_fail(LOOM_E_INVALID, "geglu: x is %s; its last dim must be even ([value | gate])",
                         loom_shape_str(x, xs, sizeof xs));
    }
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = f;
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, yshape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 0));
    for (int64_t r = 0; r < rows; r++) {
        const float *a = (const float *)x->data + r * two_f, *g = a + f;
        float *yr = (float *)y->data + r * f;
        for (int64_t i = 0; i < f; i++) yr[i] = a[i] * loom_cpu_act(g[i], LOOM_ACT_GELU);
    }
    return LOOM_OK;
}
