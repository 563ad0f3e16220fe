/* state.cu — handles, workspace and argument checks for the vendor
 * baselines (vendor.h). Handles are created on first use and live for the
 * process (creating one per call costs milliseconds: style.md, "per-call
 * setup in hot paths"). */
#include "vendor.h"

static cublasHandle_t g_cublas;
static cudnnHandle_t g_cudnn;
static void *g_ws;
static size_t g_ws_bytes;

loom_status loom_vendor_cublas(cublasHandle_t *out)
{
    if (!g_cublas) CUBLAS_CHECK(cublasCreate(&g_cublas));
    *out = g_cublas;
    return LOOM_OK;
}

loom_status loom_vendor_cudnn(cudnnHandle_t *out)
{
    if (!g_cudnn) CUDNN_CHECK(cudnnCreate(&g_cudnn));
    *out = g_cudnn;
    return LOOM_OK;
}

loom_status loom_vendor_workspace(size_t bytes, void **out)
{
    if (bytes > g_ws_bytes) {
        /* queued work may still read the old buffer: wait before freeing it */
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(g_ws));
        g_ws = nullptr;
        g_ws_bytes = 0;
        cudaError_t e = cudaMalloc(&g_ws, bytes);
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            g_ws = nullptr;
            return loom_fail(LOOM_E_NOMEM, "out of GPU memory for a %zu-byte vendor workspace", bytes);
        }
        CUDA_CHECK(e);
        g_ws_bytes = bytes;
    }
    *out = g_ws;
    return LOOM_OK;
}
