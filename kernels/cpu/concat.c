/* concat.c — channel (last-dim) concat (ops.h): a[..., Ca], b[..., Cb] →
 * y[..., Ca+Cb]; the UNet's skip connections on NHWC maps. */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <string.h>

loom_status loom_cpu_concat(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    static const char op[] = "concat";
    LOOM_TRY(loom_cpu_check_tensor(op, "a", a));
    LOOM_TRY(loom_cpu_check_tensor(op, "b", b));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "a", a, 1, 4));
    int same = b->ndim == a->ndim;
    for (int i = 0; same && i + 1 < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same) {
        char s1[96], s2[96];
        return loom_fail(LOOM_E_INVALID, "concat: a %s and b %s differ outside the last dim",
                         loom_shape_str(a, s1, sizeof s1), loom_shape_str(b, s2, sizeof s2));
    }
    const int64_t ca = loom_cpu_last_dim(a), cb = loom_cpu_last_dim(b), rows = loom_cpu_rows(a);
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) yshape[i] = a->shape[i];
    yshape[a->ndim - 1] = ca + cb;
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, a->ndim, yshape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "a", a, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "b", b, 0));
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    for (int64_t r = 0; r < rows; r++) {
        float *yr = yd + r * (ca + cb);
        if (ca) memcpy(yr, ad + r * ca, (size_t)ca * sizeof(float));
        if (cb) memcpy(yr + ca, bd + r * cb, (size_t)cb * sizeof(float));
    }
    return LOOM_OK;
}
