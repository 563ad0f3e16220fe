/* dtype.cuh — the 16-bit storage types of the CUDA ops (DESIGN.md: "Storage fp16 (bf16
 * selectable), accumulation fp32"), kernel-private. Kernels are templates on the element type
 * T ∈ {__half, __nv_bfloat16}; each op's entry checks that every 16-bit operand has the same dtype
 * (loom_cuda_check_same_dtype) and instantiates on it (LOOM_CUDA_DISPATCH). Everything between a
 * load and the one rounding of a store is fp32 in both cases, so the __half instantiation is the
 * arithmetic the f16-only kernels had: to_float is __half2float, from_float __float2half_rn.
 *
 * bf16 rounding: __float2bfloat16_rn, round to nearest even (loom_f32_to_bf16 and torch's cast);
 * bf16 → f32 is exact (the 16 bits are f32's upper half). */
#ifndef LOOM_CUDA_DTYPE_CUH
#define LOOM_CUDA_DTYPE_CUH

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace loom_dt {

/* ---- scalar conversions ---------------------------------------------------- */

__device__ __forceinline__ float to_float(__half h) { return __half2float(h); }
__device__ __forceinline__ float to_float(__nv_bfloat16 h) { return __bfloat162float(h); }

template <class T> __device__ __forceinline__ T from_float(float f);
template <> __device__ __forceinline__ __half from_float<__half>(float f) { return __float2half_rn(f); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float f)
{
    return __float2bfloat16_rn(f);
}

/* The same on raw 16-bit patterns (vector loads see ushorts). */
template <class T> __device__ __forceinline__ float bits_to_float(unsigned short u);
template <> __device__ __forceinline__ float bits_to_float<__half>(unsigned short u)
{
    return __half2float(__ushort_as_half(u));
}
template <> __device__ __forceinline__ float bits_to_float<__nv_bfloat16>(unsigned short u)
{
    return __bfloat162float(__ushort_as_bfloat16(u));
}

template <class T> __device__ __forceinline__ unsigned short float_to_bits(float f);
template <> __device__ __forceinline__ unsigned short float_to_bits<__half>(float f)
{
    return __half_as_ushort(__float2half_rn(f));
}
template <> __device__ __forceinline__ unsigned short float_to_bits<__nv_bfloat16>(float f)
{
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

/* ---- pairs: two values in one 32-bit register, lo in the low 16 bits ------- */

template <class T> struct pair;
template <> struct pair<__half> { typedef __half2 type; };
template <> struct pair<__nv_bfloat16> { typedef __nv_bfloat162 type; };

/* (lo, hi) rounded to T, packed: an mma fragment register or a 4-byte store. */
template <class T> __device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi)
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi)
{
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

template <class T> __device__ __forceinline__ float2 unpack2(typename pair<T>::type v);
template <> __device__ __forceinline__ float2 unpack2<__half>(__half2 v) { return __half22float2(v); }
template <> __device__ __forceinline__ float2 unpack2<__nv_bfloat16>(__nv_bfloat162 v)
{
    return __bfloat1622float2(v);
}

/* ---- mma.sync m16n8k16 / m16n8k8 with fp32 accumulators -------------------
 * The same fragment layouts for .f16 and .bf16 (PTX ISA, mma.m16n8k16); only the
 * operand type in the instruction differs. */
template <class T> struct mma;

template <> struct mma<__half> {
    static __device__ __forceinline__ void k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ void k8(float (&d)[4], const uint32_t (&a)[2], uint32_t b0)
    {
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(b0));
    }
};

template <> struct mma<__nv_bfloat16> {
    static __device__ __forceinline__ void k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ void k8(float (&d)[4], const uint32_t (&a)[2], uint32_t b0)
    {
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(b0));
    }
};

} // namespace loom_dt

/* Host side: `return LOOM_CUDA_DISPATCH(dtype, T, f<T>(args));` runs the body with T the element
 * type of a checked 16-bit dtype (LOOM_BF16 → __nv_bfloat16, otherwise __half: the checks have
 * already refused anything but f16 and bf16). The body is an expression. */
#define LOOM_CUDA_DISPATCH(dtype, T, ...)                                                                   \
    ((dtype) == LOOM_BF16 ? [&]() { typedef __nv_bfloat16 T; return (__VA_ARGS__); }()                       \
                          : [&]() { typedef __half T; return (__VA_ARGS__); }())

#endif
