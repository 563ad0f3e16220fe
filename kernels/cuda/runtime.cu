/* runtime.cu — CUDA backend runtime: device probe with a clear message when
 * the GPU is not one this binary was built for, the debug sync switch, and
 * the CUDA op table: loom's own kernels, one file per op (cuda_ops.h). */
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cuda_runtime.h>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
#include "cuda_ops.h"
}

#ifndef LOOM_CUDA_ARCHS
#define LOOM_CUDA_ARCHS "unknown"
#endif

extern "C" const loom_ops loom_ops_cuda = {
    "cuda",
    LOOM_CUDA,
    LOOM_F16,
    loom_cuda_linear, /* mma.sync tensor-core GEMM (gemm.cu, mma_tile.cuh) */
    loom_cuda_conv2d, /* NHWC implicit GEMM on the same tiles */
    loom_cuda_group_norm,
    loom_cuda_layer_norm,
    loom_cuda_attention, /* flash, mma.sync; other head dims: attention_generic.cu */
    loom_cuda_geglu,
    loom_cuda_unary,
    loom_cuda_add,
    loom_cuda_mul,
    loom_cuda_concat,
    loom_cuda_upsample2x,
    loom_cuda_timestep_embedding,
    loom_cuda_softmax,
    loom_cuda_attention_causal,
    loom_cuda_linear_adapted, /* adapter_*.cu: fp32 accumulation of base + terms, one rounding */
    loom_cuda_conv2d_adapted,
};

extern "C" const char *loom_cuda_built_archs(void) { return LOOM_CUDA_ARCHS; }

extern "C" int loom_cuda_sync_check_enabled(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *e = getenv("LOOM_CUDA_SYNC_CHECK");
        cached = e && *e && strcmp(e, "0") != 0;
    }
    return cached;
}

/* A kernel whose only job is to exist: cudaFuncGetAttributes on it fails
 * with cudaErrorNoKernelImageForDevice when the binary has no code (SASS or
 * PTX it can JIT) for this GPU, which is exactly the question. */
__global__ void loom_probe_kernel(int *p)
{
    if (p) *p = 1;
}

extern "C" loom_status loom_cuda_probe(int device, char *desc, size_t desc_len)
{
    if (desc && desc_len) desc[0] = 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return loom_fail(LOOM_E_DEVICE, "no CUDA device: %s",
                         e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount returned 0");
    if (device < 0 || device >= count)
        return loom_fail(LOOM_E_DEVICE, "CUDA device %d does not exist (%d present)", device, count);
    CUDA_CHECK(cudaSetDevice(device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, loom_probe_kernel);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction) {
        (void)cudaGetLastError();
        return loom_fail(LOOM_E_DEVICE, "this GPU (%s) is sm_%d%d; loom was built for %s: rebuild with "
                         "-DCMAKE_CUDA_ARCHITECTURES=%d%d", prop.name, prop.major, prop.minor,
                         LOOM_CUDA_ARCHS, prop.major, prop.minor);
    }
    CUDA_CHECK(e);
    if (desc && desc_len)
        snprintf(desc, desc_len, "%s (sm_%d%d, %d SMs, %.1f GiB)", prop.name, prop.major, prop.minor,
                 prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return LOOM_OK;
}
