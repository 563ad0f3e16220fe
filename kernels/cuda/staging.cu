/* staging.cu — host f32 <-> device f16 or bf16 through pinned staging
 * (backend.h's loom_device_upload_f32_as_f16 / _as_bf16 and
 * loom_device_download_f16_as_f32 / _bf16_as_f32; one chunking for both).
 *
 * Two pinned host buffers of STAGE_FLOATS floats, used in turn: while the GPU
 * copies one (cudaMemcpyAsync, true DMA from page-locked memory), the host
 * fills or drains the other; an event per buffer says when the GPU is done
 * with it. The f32 chunk lands in a device buffer from the stream-ordered pool
 * and one kernel converts it (round to nearest even, as loom_f32_to_f16 /
 * loom_f32_to_bf16 and torch's cast; f16/bf16 → f32 is exact). Weights (GBs, once) and the model
 * boundary's per-call inputs and outputs (model_io.h) both go through here.
 * If page-locked memory cannot be had (ulimit, no driver support), the same
 * chunks go through cudaMemcpy from pageable memory.
 *
 * Single-threaded like the rest of the device layer (one stream). */
#include <cuda_runtime.h>
#include <string.h>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
}

#include "dtype.cuh"
#include "nvtx.h"

#define STAGE_FLOATS ((size_t)4 << 20) /* 16 MiB per buffer */

static float *g_pin[2];
static cudaEvent_t g_done[2];
static int g_pinned = -1; /* -1: not tried, 0: pageable fallback, 1: pinned */

static void stage_init(void)
{
    if (g_pinned >= 0) return;
    g_pinned = 0;
    for (int b = 0; b < 2; b++) {
        if (cudaHostAlloc((void **)&g_pin[b], STAGE_FLOATS * sizeof(float), cudaHostAllocDefault) != cudaSuccess ||
            cudaEventCreateWithFlags(&g_done[b], cudaEventDisableTiming) != cudaSuccess) {
            (void)cudaGetLastError(); /* the fallback path works without it */
            return;
        }
    }
    g_pinned = 1;
}

/* T = __half or __nv_bfloat16 (dtype.cuh) */
template <class T> __global__ void loom_f32_to_16_kernel(T *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = loom_dt::from_float<T>(src[i]);
}

template <class T> __global__ void loom_16_to_f32_kernel(float *dst, const T *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = loom_dt::to_float(src[i]);
}

static unsigned grid_for(size_t n)
{
    size_t blocks = (n + 255) / 256;
    return (unsigned)(blocks < 4096 ? (blocks ? blocks : 1) : 4096); /* grid-stride loop covers the rest */
}

template <class T> static loom_status upload_chunks(T *dst, const float *src, size_t n, float *tmp)
{
    for (size_t off = 0, c = 0; off < n; off += STAGE_FLOATS, c++) {
        const size_t m = n - off < STAGE_FLOATS ? n - off : STAGE_FLOATS;
        if (g_pinned) {
            const int b = (int)(c & 1);
            CUDA_CHECK(cudaEventSynchronize(g_done[b])); /* the GPU has read this buffer's last chunk */
            memcpy(g_pin[b], src + off, m * sizeof(float));
            CUDA_CHECK(cudaMemcpyAsync(tmp, g_pin[b], m * sizeof(float), cudaMemcpyHostToDevice, 0));
            CUDA_CHECK(cudaEventRecord(g_done[b], 0));
        } else {
            CUDA_CHECK(cudaMemcpy(tmp, src + off, m * sizeof(float), cudaMemcpyHostToDevice));
        }
        // dst[off : off+m] (T) = tmp[0 : m] (f32); the next chunk's copy into tmp waits for it (one stream)
        loom_f32_to_16_kernel<T><<<grid_for(m), 256>>>(dst + off, tmp, m);
        LOOM_LAUNCH_CHECK("loom_f32_to_16_kernel");
    }
    return LOOM_OK;
}

template <class T> static loom_status download_chunks(float *dst, const T *src, size_t n, float *tmp)
{
    size_t prev_off = 0, prev_m = 0;
    int prev_b = -1;
    for (size_t off = 0, c = 0; off < n || prev_b >= 0; off += STAGE_FLOATS, c++) {
        const size_t m = off < n ? (n - off < STAGE_FLOATS ? n - off : STAGE_FLOATS) : 0;
        const int b = (int)(c & 1);
        if (m) {
            // tmp[0 : m] (f32) = src[off : off+m] (T)
            loom_16_to_f32_kernel<T><<<grid_for(m), 256>>>(tmp, src + off, m);
            LOOM_LAUNCH_CHECK("loom_16_to_f32_kernel");
            if (g_pinned) {
                CUDA_CHECK(cudaMemcpyAsync(g_pin[b], tmp, m * sizeof(float), cudaMemcpyDeviceToHost, 0));
                CUDA_CHECK(cudaEventRecord(g_done[b], 0));
            } else {
                CUDA_CHECK(cudaMemcpy(dst + off, tmp, m * sizeof(float), cudaMemcpyDeviceToHost));
            }
        }
        if (prev_b >= 0) { /* drain the previous chunk while this one is copied */
            CUDA_CHECK(cudaEventSynchronize(g_done[prev_b]));
            memcpy(dst + prev_off, g_pin[prev_b], prev_m * sizeof(float));
            prev_b = -1;
        }
        if (m && g_pinned) prev_off = off, prev_m = m, prev_b = b;
        if (!m) break;
    }
    return LOOM_OK;
}

/* The first error's message is kept; tmp goes back to the pool in stream order. */
static loom_status finish_with(loom_status s, void *tmp)
{
    const loom_status f = loom_device_free(tmp);
    return s != LOOM_OK ? s : f;
}

/* The four entries: name for the messages, T the device type. */
template <class T> static loom_status upload_as(const char *name, void *dst_dev, const float *src_host, size_t n)
{
    if (!n) return LOOM_OK;
    if (n > SIZE_MAX / sizeof(float)) return loom_fail(LOOM_E_INVALID, "%s: %zu elements", name, n);
    stage_init();
    void *tmp = nullptr;
    LOOM_TRY(loom_device_alloc((n < STAGE_FLOATS ? n : STAGE_FLOATS) * sizeof(float), &tmp));
    return finish_with(upload_chunks((T *)dst_dev, src_host, n, (float *)tmp), tmp);
}

template <class T> static loom_status download_as(const char *name, float *dst_host, const void *src_dev, size_t n)
{
    if (!n) return LOOM_OK;
    if (n > SIZE_MAX / sizeof(float)) return loom_fail(LOOM_E_INVALID, "%s: %zu elements", name, n);
    stage_init();
    void *tmp = nullptr;
    LOOM_TRY(loom_device_alloc((n < STAGE_FLOATS ? n : STAGE_FLOATS) * sizeof(float), &tmp));
    return finish_with(download_chunks(dst_host, (const T *)src_dev, n, (float *)tmp), tmp);
}

extern "C" loom_status loom_device_upload_f32_as_f16(void *dst_dev, const float *src_host, size_t n)
{
    LOOM_NVTX_RANGE("cuda/upload_f16");
    return upload_as<__half>("upload_f32_as_f16", dst_dev, src_host, n);
}

extern "C" loom_status loom_device_download_f16_as_f32(float *dst_host, const void *src_dev, size_t n)
{
    LOOM_NVTX_RANGE("cuda/download_f16");
    return download_as<__half>("download_f16_as_f32", dst_host, src_dev, n);
}

extern "C" loom_status loom_device_upload_f32_as_bf16(void *dst_dev, const float *src_host, size_t n)
{
    LOOM_NVTX_RANGE("cuda/upload_bf16");
    return upload_as<__nv_bfloat16>("upload_f32_as_bf16", dst_dev, src_host, n);
}

extern "C" loom_status loom_device_download_bf16_as_f32(float *dst_host, const void *src_dev, size_t n)
{
    LOOM_NVTX_RANGE("cuda/download_bf16");
    return download_as<__nv_bfloat16>("download_bf16_as_f32", dst_host, src_dev, n);
}
