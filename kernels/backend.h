/* backend.h — picking and probing a backend. */
#ifndef LOOM_BACKEND_H
#define LOOM_BACKEND_H

#include "ops.h"

typedef enum loom_backend { LOOM_BACKEND_CPU = 0, LOOM_BACKEND_CUDA, LOOM_BACKEND_COUNT } loom_backend;

const char *loom_backend_name(loom_backend b);
int loom_backend_from_name(const char *s, loom_backend *out);
const loom_ops *loom_backend_ops(loom_backend b);
/* As loom_backend_ops; with vendor = 1 on CUDA, loom's own table with the vendor baselines
 * (cuBLAS linear, cuDNN conv, cuDNN fused attention) in place of loom's kernels wherever the
 * vendor table has the op (`--kernels vendor`); dtype is the CUDA storage type, LOOM_F16 or
 * LOOM_BF16 (`--dtype bf16`: the same kernels on bf16 activations and weights). Ignored on the
 * CPU (f32). */
const loom_ops *loom_backend_ops_dtype(loom_backend b, int vendor, loom_dtype dtype);

/* Threads the CPU backend may use (0: all cores; OpenBLAS does the GEMMs). */
void loom_cpu_set_threads(int n);

/* The CUDA architectures this binary was built for, e.g. "sm_80,sm_86,sm_89,sm_90",
 * or "none (built with LOOM_CUDA=OFF)". */
const char *loom_cuda_built_archs(void);

/* LOOM_OK when CUDA device `device` exists and this binary has code for it;
 * `desc` (may be NULL) receives e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
 * Otherwise LOOM_E_DEVICE with a message such as
 * "no CUDA device: cudaGetDeviceCount: no CUDA-capable device is detected" or
 * "this GPU is sm_75; loom was built for sm_80,sm_86,sm_89,sm_90". */
loom_status loom_cuda_probe(int device, char *desc, size_t desc_len);

/* ---- device memory (CUDA backend) -----------------------------------------
 * Implemented in kernels/cuda/memory.cu and staging.cu with the CUDA runtime,
 * so host code never includes a CUDA header; with LOOM_CUDA=OFF
 * (kernels/cuda_absent.c) each fails with LOOM_E_DEVICE saying the build has
 * no CUDA. All work goes on the default stream. Allocation is stream-ordered
 * (a pool: frees never synchronise, memory is reused in stream order); copies
 * to the host return when the data is there. Model activations go through
 * device_arena.h's planned arenas on top of this. */

/* `bytes` of device memory (256-byte aligned); 0 bytes gives a small valid
 * allocation. LOOM_E_NOMEM names the size when the GPU is full. */
loom_status loom_device_alloc(size_t bytes, void **out);
loom_status loom_device_free(void *p); /* NULL is fine */
/* Gives the pool's cached free memory back to the driver (synchronises). */
loom_status loom_device_trim(void);
typedef struct loom_device_mem {
    size_t in_use, peak, reserved; /* the pool: bytes allocated now, the high-water mark, held from the driver */
    size_t gpu_free, gpu_total;    /* the whole GPU (cudaMemGetInfo) */
} loom_device_mem;
loom_status loom_device_mem_info(loom_device_mem *m);
loom_status loom_device_upload(void *dst_dev, const void *src_host, size_t bytes);
loom_status loom_device_download(void *dst_host, const void *src_dev, size_t bytes);
loom_status loom_device_memset(void *dst_dev, int byte, size_t bytes);
/* Waits for all queued device work; reports an asynchronous fault as LOOM_E_DEVICE. */
loom_status loom_device_sync(void);

/* n f32 values on the host → n f16 values on the device (round to nearest
 * even, the same as loom_f32_to_f16 and torch's cast), converted on the GPU;
 * and back (f16 device → f32 host, exact). */
loom_status loom_device_upload_f32_as_f16(void *dst_dev, const float *src_host, size_t n);
loom_status loom_device_download_f16_as_f32(float *dst_host, const void *src_dev, size_t n);
/* The same with bf16 on the device (round to nearest even, as loom_f32_to_bf16; bf16 → f32 is
 * exact): the `--dtype bf16` weights and model boundary. */
loom_status loom_device_upload_f32_as_bf16(void *dst_dev, const float *src_host, size_t n);
loom_status loom_device_download_bf16_as_f32(float *dst_host, const void *src_dev, size_t n);

/* Times fn(ctx) on the GPU with CUDA events: `warmup` untimed calls, then
 * `reps` timed ones (one event pair each); *median_ms gets the median.
 * A failing fn stops the timing and its status is returned. */
loom_status loom_device_time_ms(loom_status (*fn)(void *ctx), void *ctx, int warmup, int reps, double *median_ms);

/* Per-op GPU time inside a real forward pass (kernels/cuda/op_profile.cu, `loom bench --ops`):
 * the returned table runs `base`'s entries between two CUDA events each, without syncing;
 * loom_op_profile_take waits for the last and returns, per op that ran since the previous take
 * (or since loom_ops_profiled), its calls and summed milliseconds. One profiled table at a time. */
typedef struct loom_op_time {
    const char *op;
    int calls;
    double ms;
} loom_op_time;
const loom_ops *loom_ops_profiled(const loom_ops *base);
loom_status loom_op_profile_take(loom_op_time *out, int max, int *n);

#endif
