/* tensor_alloc.c — see tensor_alloc.h. Device (LOOM_CUDA) memory comes from
 * the planned arena of the model call in scope, else the device pool
 * (device_arena.h, backend.h), so this file needs no CUDA header; with
 * LOOM_CUDA=OFF those calls fail with a clear "built without CUDA" message. */
#define _POSIX_C_SOURCE 200809L
#include "tensor_alloc.h"

#include "backend.h"
#include "device_arena.h"

#include <stdlib.h>
#include <string.h>

loom_status loom_tensor_alloc(loom_device dev, loom_dtype dtype, int ndim, const int64_t *shape, loom_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (ndim < 0 || ndim > LOOM_MAX_DIMS) return loom_fail(LOOM_E_INVALID, "tensor_alloc: %d dims", ndim);
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && n > UINT64_MAX / 16 / (uint64_t)shape[i]))
            return loom_fail(LOOM_E_INVALID, "tensor_alloc: bad or overflowing shape");
        n *= (uint64_t)shape[i];
    }
    if (dev != LOOM_HOST && dev != LOOM_CUDA) return loom_fail(LOOM_E_INVALID, "tensor_alloc: unknown device %d", (int)dev);
    size_t bytes = (size_t)n * loom_dtype_size(dtype);
    void *p = NULL;
    if (dev == LOOM_CUDA) {
        loom_status s = loom_device_act_alloc(bytes, &p);
        if (s != LOOM_OK) {
            char sb[96];
            loom_tensor tmp = loom_tensor_view(NULL, dtype, ndim, shape);
            return loom_fail_wrap(s, "allocating a %s %s tensor on the GPU", loom_dtype_name(dtype),
                                  loom_shape_str(&tmp, sb, sizeof sb));
        }
        *out = loom_tensor_view(p, dtype, ndim, shape);
        out->device = dev;
        return LOOM_OK;
    }
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        char sb[96];
        loom_tensor tmp = loom_tensor_view(NULL, dtype, ndim, shape);
        return loom_fail(LOOM_E_NOMEM, "out of memory allocating a %s %s tensor (%zu bytes)",
                         loom_dtype_name(dtype), loom_shape_str(&tmp, sb, sizeof sb), bytes);
    }
    *out = loom_tensor_view(p, dtype, ndim, shape);
    out->device = dev;
    return LOOM_OK;
}

loom_status loom_tensor_zeros(loom_device dev, loom_dtype dtype, int ndim, const int64_t *shape, loom_tensor *out)
{
    LOOM_TRY(loom_tensor_alloc(dev, dtype, ndim, shape, out));
    if (out->device == LOOM_CUDA) {
        loom_status s = loom_device_memset(out->data, 0, loom_tensor_nbytes(out));
        if (s != LOOM_OK) loom_tensor_free(out);
        return s;
    }
    memset(out->data, 0, loom_tensor_nbytes(out));
    return LOOM_OK;
}

loom_status loom_tensor_alloc_like(const loom_tensor *like, loom_tensor *out)
{
    return loom_tensor_alloc(like->device, like->dtype, like->ndim, like->shape, out);
}

void loom_tensor_free(loom_tensor *t)
{
    if (!t) return;
    if (t->device == LOOM_CUDA)
        loom_device_act_free(t->data);
    else
        free(t->data);
    t->data = NULL;
}
