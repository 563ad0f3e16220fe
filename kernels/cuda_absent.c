/* cuda_absent.c — linked instead of kernels/cuda/ when built with LOOM_CUDA=OFF
 * (the sanitizer and fuzz builds): the CUDA table exists but is empty, and
 * probing says plainly why. */
#include "adapter_dense.h"
#include "backend.h"

#include <string.h>

const loom_ops loom_ops_cuda = {.name = "cuda", .device = LOOM_CUDA, .dtype = LOOM_F16};
const loom_ops loom_ops_cuda_vendor = {.name = "cuda_vendor", .device = LOOM_CUDA, .dtype = LOOM_F16};

const char *loom_cuda_built_archs(void) { return "none (built with LOOM_CUDA=OFF)"; }

loom_status loom_cuda_probe(int device, char *desc, size_t desc_len)
{
    (void)device;
    if (desc && desc_len) desc[0] = 0;
    return loom_fail(LOOM_E_DEVICE, "this loom was built without CUDA (LOOM_CUDA=OFF); rebuild with -DLOOM_CUDA=ON");
}

/* Device memory (backend.h): every entry point says why it cannot work. */
static loom_status no_cuda(const char *what)
{
    return loom_fail(LOOM_E_DEVICE, "%s: this loom was built without CUDA (LOOM_CUDA=OFF); rebuild with -DLOOM_CUDA=ON",
                     what);
}

loom_status loom_device_alloc(size_t bytes, void **out)
{
    (void)bytes;
    if (out) *out = NULL;
    return no_cuda("device_alloc");
}

loom_status loom_device_free(void *p) { return p ? no_cuda("device_free") : LOOM_OK; }

loom_status loom_device_trim(void) { return LOOM_OK; /* nothing cached */ }

loom_status loom_device_mem_info(loom_device_mem *m)
{
    memset(m, 0, sizeof *m);
    return no_cuda("device_mem_info");
}

loom_status loom_device_upload(void *dst_dev, const void *src_host, size_t bytes)
{
    (void)dst_dev, (void)src_host, (void)bytes;
    return no_cuda("device_upload");
}

loom_status loom_device_download(void *dst_host, const void *src_dev, size_t bytes)
{
    (void)dst_host, (void)src_dev, (void)bytes;
    return no_cuda("device_download");
}

loom_status loom_device_memset(void *dst_dev, int byte, size_t bytes)
{
    (void)dst_dev, (void)byte, (void)bytes;
    return no_cuda("device_memset");
}

loom_status loom_device_sync(void) { return no_cuda("device_sync"); }

loom_status loom_device_upload_f32_as_f16(void *dst_dev, const float *src_host, size_t n)
{
    (void)dst_dev, (void)src_host, (void)n;
    return no_cuda("device_upload_f32_as_f16");
}

loom_status loom_device_download_f16_as_f32(float *dst_host, const void *src_dev, size_t n)
{
    (void)dst_host, (void)src_dev, (void)n;
    return no_cuda("device_download_f16_as_f32");
}

loom_status loom_device_upload_f32_as_bf16(void *dst_dev, const float *src_host, size_t n)
{
    (void)dst_dev, (void)src_host, (void)n;
    return no_cuda("device_upload_f32_as_bf16");
}

loom_status loom_device_download_bf16_as_f32(float *dst_host, const void *src_dev, size_t n)
{
    (void)dst_host, (void)src_dev, (void)n;
    return no_cuda("device_download_bf16_as_f32");
}

loom_status loom_device_time_ms(loom_status (*fn)(void *ctx), void *ctx, int warmup, int reps, double *median_ms)
{
    (void)fn, (void)ctx, (void)warmup, (void)reps;
    if (median_ms) *median_ms = 0;
    return no_cuda("device_time_ms");
}

/* adapter_dense.h: a LoHa/LoKr ΔW is built on the device only. */
loom_status loom_cuda_ad_term_delta(const loom_ad_term *t, const char *what, const loom_tensor *dw)
{
    (void)t, (void)dw;
    return no_cuda(what);
}

/* backend.h's op profiler: nothing to time without CUDA. */
const loom_ops *loom_ops_profiled(const loom_ops *base) { return base; }

loom_status loom_op_profile_take(loom_op_time *out, int max, int *n)
{
    (void)out, (void)max;
    *n = 0;
    return no_cuda("op_profile_take");
}
