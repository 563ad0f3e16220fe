/* upsample2x.c — nearest-neighbour ×2 on NHWC (ops.h): y[n, 2h+i, 2w+j, :] =
 * x[n, h, w, :], as F.interpolate(mode="nearest", scale_factor=2). */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <string.h>

loom_status loom_cpu_upsample2x(const loom_tensor *x, loom_tensor *y)
{
    static const char op[] = "upsample2x";
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 4, 4));
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t yshape[4] = {nb, 2 * h, 2 * w, c};
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, 4, yshape));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 0));
    if (loom_tensor_numel(y) == 0) return LOOM_OK;
    const size_t px = (size_t)c * sizeof(float);
    const int64_t yrow = 2 * w * c; /* floats in one output row */
    for (int64_t n = 0; n < nb; n++)
        for (int64_t i = 0; i < h; i++) {
            const float *xr = (const float *)x->data + (n * h + i) * w * c;
            float *y0 = (float *)y->data + (n * 2 * h + 2 * i) * yrow;
            for (int64_t j = 0; j < w; j++) {
                memcpy(y0 + 2 * j * c, xr + j * c, px);
                memcpy(y0 + (2 * j + 1) * c, xr + j * c, px);
            }
            memcpy(y0 + yrow, y0, (size_t)yrow * sizeof(float)); /* output row 2i+1 = row 2i */
        }
    return LOOM_OK;
}
