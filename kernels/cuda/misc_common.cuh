/* misc_common.cuh — device pieces shared by loom's memory-bound CUDA ops
 * (group_norm, layer_norm, geglu, unary, add, mul, concat, upsample2x,
 * timestep_embedding, softmax; one .cu per op): 16-bit vector loads and stores
 * (f16 or bf16, dtype.cuh; the op picks the instantiation from its tensors' dtype),
 * the activations in fp32, warp/block reductions, and the host-side choice of
 * the vector width. Kernel-private: nothing here is part of the op layer.
 *
 * Vectors: V ∈ {1, 2, 4, 8} halves = 2..16 bytes per access. An op uses V > 1
 * only where every vector it touches starts on a 2·V-byte boundary: the run
 * it walks (a row, a group, a channel block) has a length divisible by V and
 * every base pointer is 2·V-aligned (loom_misc::pick_vec checks both at run
 * time; otherwise a smaller V, down to the scalar path). */
#ifndef LOOM_CUDA_MISC_COMMON_CUH
#define LOOM_CUDA_MISC_COMMON_CUH

#include <cstdint>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "dtype.cuh"

extern "C" {
#include "cuda_check.h"
#include "cuda_ops.h"
}

namespace loom_misc {

constexpr int kThreads = 256;           /* every misc kernel's block size */
constexpr int kWarps = kThreads / 32;   /* rows per block in the warp-per-row kernels */

/* ---- 16-bit vectors ---------------------------------------------------------- */

template <int V> struct raw;
template <> struct raw<8> { typedef uint4 type; };
template <> struct raw<4> { typedef uint2 type; };
template <> struct raw<2> { typedef unsigned int type; };
template <> struct raw<1> { typedef unsigned short type; };

/* One aligned V-element access seen as V ushorts (the bits of each value). The
 * union pun is how CUDA code commonly splits a vector register; nvcc keeps it
 * in registers. */
template <int V> union hvec {
    typename raw<V>::type r;
    unsigned short u[V];
};

/* f[k] = p[k] for k < V; p is 2·V-byte aligned. T: __half or __nv_bfloat16 (dtype.cuh). */
template <int V, class T> __device__ __forceinline__ void load(const T *p, float (&f)[V])
{
    hvec<V> v;
    v.r = *reinterpret_cast<const typename raw<V>::type *>(p);
#pragma unroll
    for (int k = 0; k < V; k++) f[k] = loom_dt::bits_to_float<T>(v.u[k]);
}

/* p[k] = T(f[k]), round to nearest even: the one rounding of an output. */
template <int V, class T> __device__ __forceinline__ void store(T *p, const float (&f)[V])
{
    hvec<V> v;
#pragma unroll
    for (int k = 0; k < V; k++) v.u[k] = loom_dt::float_to_bits<T>(f[k]);
    *reinterpret_cast<typename raw<V>::type *>(p) = v.r;
}

/* Bit copy of V 16-bit values (concat, upsample: no conversion, exact, the same for f16 and
 * bf16, so those ops run one instantiation on the raw bits). */
template <int V> __device__ __forceinline__ void copy(uint16_t *dst, const uint16_t *src)
{
    *reinterpret_cast<typename raw<V>::type *>(dst) = *reinterpret_cast<const typename raw<V>::type *>(src);
}

/* ---- activations, fp32 (kernels/cpu/unary.c is the reference) ------------- */

/* x·σ(x); expf(−x) = inf for x < −88 gives x/inf = −0, the limit (as the CPU op). */
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

/* Exact GELU written with erfc: 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2);
 * the 1 + erf form cancels for x ≪ 0, erfc does not (as the CPU op). */
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }

/* tanh GELU: 0.5·x·(1 + tanh(u)) = x·σ(2u) = x / (1 + e^(−2u)), u = √(2/π)·(x + 0.044715·x³).
 * The σ form has no 1 + tanh cancellation for x ≪ 0 (the CPU op gets the
 * same accuracy by working in double). */
__device__ __forceinline__ float gelu_tanh(float x)
{
    const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}

/* x·σ(1.702·x), CLIP's QuickGELU, the CPU op's formula. */
__device__ __forceinline__ float quick_gelu(float x) { return x / (1.0f + expf(-1.702f * x)); }

/* ACT is a loom_act value; the host picks the instantiation once per call. */
template <int ACT> __device__ __forceinline__ float act(float x)
{
    if constexpr (ACT == LOOM_ACT_SILU) return silu(x);
    else if constexpr (ACT == LOOM_ACT_GELU) return gelu(x);
    else if constexpr (ACT == LOOM_ACT_GELU_TANH) return gelu_tanh(x);
    else if constexpr (ACT == LOOM_ACT_QUICK_GELU) return quick_gelu(x);
    else return x;
}

/* ---- reductions ------------------------------------------------------------ */

/* Butterfly over the full warp. Every step adds (or maxes) a pair in both
 * orders, and IEEE + and max are commutative, so every lane ends with the
 * same bits. All 32 lanes must call it. */
__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over a kThreads block, the same fixed order every time (deterministic);
 * every thread gets the result. sh: kWarps floats of shared memory. All
 * threads must call it; it ends with a barrier so sh can be reused at once. */
__device__ __forceinline__ float block_sum(float v, float *sh)
{
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float t = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) t += sh[w];
    __syncthreads();
    return t;
}

/* ---- host side ------------------------------------------------------------- */

/* The widest V ∈ {8, 4, 2, 1} with len % V == 0 and every pointer (NULL ones
 * ignored) on a 2·V-byte boundary. */
inline int pick_vec(int64_t len, const void *p0, const void *p1 = nullptr, const void *p2 = nullptr,
                    const void *p3 = nullptr, const void *p4 = nullptr)
{
    const uintptr_t addr = (uintptr_t)p0 | (uintptr_t)p1 | (uintptr_t)p2 | (uintptr_t)p3 | (uintptr_t)p4;
    int v = 8;
    while (v > 1 && (len % v != 0 || addr % (uintptr_t)(2 * v) != 0)) v /= 2;
    return v;
}

/* Blocks of kThreads covering n items, one item per thread; callers bound n
 * by INT_MAX (loom_cuda_check_int), so this fits the grid's x limit. */
inline unsigned blocks_for(int64_t n) { return (unsigned)((n + kThreads - 1) / kThreads); }

} // namespace loom_misc

#endif
