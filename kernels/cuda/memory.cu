/* memory.cu — device memory for tensors behind backend.h's C API (host/
 * code never includes a CUDA header): allocation, copies, memset, sync.
 * The f32 <-> f16 conversions with pinned staging are in staging.cu.
 *
 * Allocation is stream-ordered (cudaMallocAsync/cudaFreeAsync on the legacy
 * default stream, from the device's default pool with the release threshold
 * at its maximum): a free never synchronises, and freed memory is reused by
 * the next allocation in stream order — the correctness-first runtime's
 * cudaFree per activation synchronised the GPU hundreds of times a step.
 * Devices without memory pools fall back to cudaMalloc/cudaFree, decided
 * once per process. */
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
}

static int g_pool = -1; /* -1: not decided, 0: cudaMalloc, 1: the default pool */
static cudaMemPool_t g_mempool;

static loom_status pool_init(void)
{
    if (g_pool >= 0) return LOOM_OK;
    int dev = 0, ok = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&ok, cudaDevAttrMemoryPoolsSupported, dev));
    if (ok) {
        CUDA_CHECK(cudaDeviceGetDefaultMemPool(&g_mempool, dev));
        uint64_t keep = UINT64_MAX; /* keep freed memory cached across syncs: loom trims it itself */
        CUDA_CHECK(cudaMemPoolSetAttribute(g_mempool, cudaMemPoolAttrReleaseThreshold, &keep));
    }
    g_pool = ok ? 1 : 0;
    return LOOM_OK;
}

extern "C" loom_status loom_device_alloc(size_t bytes, void **out)
{
    *out = nullptr;
    LOOM_TRY(pool_init());
    cudaError_t e = g_pool ? cudaMallocAsync(out, bytes ? bytes : 256, 0) : cudaMalloc(out, bytes ? bytes : 256);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* clear the error so later calls work */
        *out = nullptr;
        return loom_fail(LOOM_E_NOMEM, "out of GPU memory allocating %zu bytes", bytes);
    }
    CUDA_CHECK(e);
    return LOOM_OK;
}

extern "C" loom_status loom_device_free(void *p)
{
    if (!p) return LOOM_OK;
    if (g_pool == 1) CUDA_CHECK(cudaFreeAsync(p, 0)); /* in stream order: queued work may still read it */
    else CUDA_CHECK(cudaFree(p));
    return LOOM_OK;
}

extern "C" loom_status loom_device_trim(void)
{
    if (g_pool != 1) return LOOM_OK;
    CUDA_CHECK(cudaDeviceSynchronize()); /* frees still queued are done, so their memory can go */
    CUDA_CHECK(cudaMemPoolTrimTo(g_mempool, 0));
    return LOOM_OK;
}

extern "C" loom_status loom_device_mem_info(loom_device_mem *m)
{
    *m = loom_device_mem{0, 0, 0, 0, 0};
    LOOM_TRY(pool_init());
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    m->gpu_total = total_b, m->gpu_free = free_b;
    if (g_pool != 1) return LOOM_OK;
    uint64_t v = 0;
    CUDA_CHECK(cudaMemPoolGetAttribute(g_mempool, cudaMemPoolAttrUsedMemCurrent, &v));
    m->in_use = v;
    CUDA_CHECK(cudaMemPoolGetAttribute(g_mempool, cudaMemPoolAttrUsedMemHigh, &v));
    m->peak = v;
    CUDA_CHECK(cudaMemPoolGetAttribute(g_mempool, cudaMemPoolAttrReservedMemCurrent, &v));
    m->reserved = v;
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
