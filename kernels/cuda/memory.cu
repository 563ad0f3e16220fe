/* memory.cu — device memory for tensors behind backend.h's C API (host/
 * code never includes a CUDA header): allocation, copies, memset, sync,
 * and the f32 ↔ f16 upload/download paths that convert on the GPU.
 * Everything runs on the default stream. Not yet run on a GPU: compiled on
 * machines without one; tests/ops/test_backend_ops.c checks it when a GPU
 * is present (the conversion bit for bit against loom_f32_to_f16). */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
}

extern "C" loom_status loom_device_alloc(size_t bytes, void **out)
{
    *out = nullptr;
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 256);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* clear the sticky-free error so later calls work */
        *out = nullptr;
        return loom_fail(LOOM_E_NOMEM, "out of GPU memory allocating %zu bytes", bytes);
    }
    CUDA_CHECK(e);
    return LOOM_OK;
}

extern "C" loom_status loom_device_free(void *p)
{
    if (p) CUDA_CHECK(cudaFree(p));
    return LOOM_OK;
}

extern "C" loom_status loom_device_upload(void *dst_dev, const void *src_host, size_t bytes)
{
    if (bytes) CUDA_CHECK(cudaMemcpy(dst_dev, src_host, bytes, cudaMemcpyHostToDevice));
    return LOOM_OK;
}

extern "C" loom_status loom_device_download(void *dst_host, const void *src_dev, size_t bytes)
{
    if (bytes) CUDA_CHECK(cudaMemcpy(dst_host, src_dev, bytes, cudaMemcpyDeviceToHost));
    return LOOM_OK;
}

extern "C" loom_status loom_device_memset(void *dst_dev, int byte, size_t bytes)
{
    if (bytes) CUDA_CHECK(cudaMemset(dst_dev, byte, bytes));
    return LOOM_OK;
}

extern "C" loom_status loom_device_sync(void)
{
    CUDA_CHECK(cudaDeviceSynchronize());
    return LOOM_OK;
}

/* __float2half_rn: round to nearest even, as loom_f32_to_f16 (loom_base.c). */
__global__ void loom_f32_to_f16_kernel(__half *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2half_rn(src[i]);
}

__global__ void loom_f16_to_f32_kernel(float *dst, const __half *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __half2float(src[i]);
}

static unsigned grid_for(size_t n)
{
    size_t blocks = (n + 255) / 256;
    return (unsigned)(blocks < 4096 ? (blocks ? blocks : 1) : 4096); /* grid-stride loop covers the rest */
}

/* Frees the staging buffer; the first error's message is the one kept. */
static loom_status finish_with(loom_status s, void *tmp)
{
    if (s != LOOM_OK) {
        (void)cudaFree(tmp);
        return s;
    }
    return loom_device_free(tmp);
}

/* The bodies run with a staging buffer the callers own and free. */
static loom_status upload_f16_via(void *tmp, void *dst_dev, const float *src_host, size_t n)
{
    LOOM_TRY(loom_device_upload(tmp, src_host, n * sizeof(float)));
    loom_f32_to_f16_kernel<<<grid_for(n), 256>>>((__half *)dst_dev, (const float *)tmp, n);
    LOOM_LAUNCH_CHECK("loom_f32_to_f16_kernel");
    return loom_device_sync(); /* tmp is freed next: the kernel must be done */
}

static loom_status download_f32_via(void *tmp, float *dst_host, const void *src_dev, size_t n)
{
    loom_f16_to_f32_kernel<<<grid_for(n), 256>>>((float *)tmp, (const __half *)src_dev, n);
    LOOM_LAUNCH_CHECK("loom_f16_to_f32_kernel");
    return loom_device_download(dst_host, tmp, n * sizeof(float)); /* cudaMemcpy waits for the kernel */
}

/* Staging: the f32 copy lives in a temporary device buffer and is converted
 * there. Upload-time only (weights once, test inputs), so no pinned staging. */
extern "C" loom_status loom_device_upload_f32_as_f16(void *dst_dev, const float *src_host, size_t n)
{
    if (!n) return LOOM_OK;
    if (n > SIZE_MAX / sizeof(float)) return loom_fail(LOOM_E_INVALID, "upload_f32_as_f16: %zu elements", n);
    void *tmp = nullptr;
    LOOM_TRY(loom_device_alloc(n * sizeof(float), &tmp));
    loom_status s = upload_f16_via(tmp, dst_dev, src_host, n);
    return finish_with(s, tmp);
}

extern "C" loom_status loom_device_download_f16_as_f32(float *dst_host, const void *src_dev, size_t n)
{
    if (!n) return LOOM_OK;
    if (n > SIZE_MAX / sizeof(float)) return loom_fail(LOOM_E_INVALID, "download_f16_as_f32: %zu elements", n);
    void *tmp = nullptr;
    LOOM_TRY(loom_device_alloc(n * sizeof(float), &tmp));
    loom_status s = download_f32_via(tmp, dst_host, src_dev, n);
    return finish_with(s, tmp);
}
