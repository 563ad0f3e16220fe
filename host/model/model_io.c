/* model_io.c — see model_io.h. */
#include "model_io.h"

#include "backend.h"
#include "device_arena.h"
#include "tensor_alloc.h"

loom_status loom_model_alloc(const loom_ops *ops, int ndim, const int64_t *shape, loom_tensor *out)
{
    return loom_tensor_alloc(ops->device, ops->dtype, ndim, shape, out);
}

loom_status loom_model_scope_begin(const loom_ops *ops, loom_device_arena *arena)
{
    if (!arena || ops->device == LOOM_HOST) return LOOM_OK;
    return loom_device_arena_begin(arena);
}

loom_status loom_model_scope_end(const loom_ops *ops, loom_device_arena *arena, loom_status s)
{
    if (!arena || ops->device == LOOM_HOST) return s;
    const loom_status e = loom_device_arena_end(arena);
    return s != LOOM_OK ? s : e;
}

loom_status loom_model_arena_create(const char *name, loom_device_arena **out)
{
    return loom_device_arena_create(name, NULL, out);
}

int loom_model_on_device(const loom_ops *ops) { return ops->device != LOOM_HOST || ops->dtype != LOOM_F32; }

static int same_shape(const loom_tensor *a, const loom_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

loom_status loom_model_upload(const loom_ops *ops, const loom_tensor *host, loom_dtype dtype, loom_tensor *out)
{
    *out = (loom_tensor){0};
    if (host->device != LOOM_HOST || host->dtype != LOOM_F32 || !loom_tensor_is_contiguous(host))
        return loom_fail(LOOM_E_INVALID, "model upload: the source must be contiguous host f32");
    if (dtype != LOOM_F16 && dtype != LOOM_BF16 && dtype != LOOM_F32)
        return loom_fail(LOOM_E_UNSUPPORTED, "model upload: %s tensors are not supported", loom_dtype_name(dtype));
    LOOM_TRY(loom_tensor_alloc(ops->device, dtype, host->ndim, host->shape, out));
    const size_t n = (size_t)loom_tensor_numel(host);
    loom_status s;
    if (ops->device == LOOM_HOST)
        s = dtype == LOOM_F32 ? loom_tensor_to_f32(host, out->data)
                              : loom_fail(LOOM_E_UNSUPPORTED, "model upload: f16 on the host");
    else if (dtype == LOOM_F16) s = loom_device_upload_f32_as_f16(out->data, host->data, n);
    else if (dtype == LOOM_BF16) s = loom_device_upload_f32_as_bf16(out->data, host->data, n);
    else s = loom_device_upload(out->data, host->data, n * sizeof(float));
    if (s != LOOM_OK) loom_tensor_free(out);
    return s;
}

loom_status loom_model_download(const loom_tensor *dev, loom_tensor *host)
{
    if (host->device != LOOM_HOST || host->dtype != LOOM_F32 || !loom_tensor_is_contiguous(host) ||
        !same_shape(dev, host))
        return loom_fail(LOOM_E_INVALID, "model download: the destination must be host f32 of the source's shape");
    const size_t n = (size_t)loom_tensor_numel(dev);
    if (dev->device == LOOM_HOST) return loom_tensor_to_f32(dev, host->data);
    if (dev->dtype == LOOM_F16) return loom_device_download_f16_as_f32(host->data, dev->data, n);
    if (dev->dtype == LOOM_BF16) return loom_device_download_bf16_as_f32(host->data, dev->data, n);
    if (dev->dtype == LOOM_F32) return loom_device_download(host->data, dev->data, n * sizeof(float));
    return loom_fail(LOOM_E_UNSUPPORTED, "model download: %s tensors are not supported", loom_dtype_name(dev->dtype));
}
