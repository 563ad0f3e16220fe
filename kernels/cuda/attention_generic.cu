/* attention_generic.cu — attention for any head dim (attention_generic.h):
 * the path for head dims the tensor-core kernel (attention.cu) does not
 * instantiate — the SD VAE's single 512-wide head, the demo model's 4- and
 * 8-wide heads. Correct first, not fast: one warp per query row, the head
 * dim split over the lanes (D/32 values each, in registers), keys visited in
 * order with an online softmax in fp32 (FlashAttention's running max and
 * sum), one rounding of o at the end. Every key costs a warp reduction, so
 * this runs at a few TFLOP/s; SD runs it once per VAE decode. */
#include "dtype.cuh"

extern "C" {
#include "attention_generic.h"
#include "cuda_check.h"
}
#include "nvtx.h"

#define GEN_WARPS 4 /* query rows per CTA */

/* VPL = values of the head dim per lane (ceil(D / 32)), a template so the
 * per-lane arrays stay in registers. */
template <class T, int VPL>
__global__ void __launch_bounds__(GEN_WARPS * 32)
    loom_attention_generic_kernel(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v,
                                  T *__restrict__ o, int sq, int sk, int heads, int d, float scale_log2, int causal)
{
    const int lane = threadIdx.x & 31, row = blockIdx.x * GEN_WARPS + (threadIdx.x >> 5);
    const int h = blockIdx.y, b = blockIdx.z;
    if (row >= sq) return; /* whole warp leaves together: no shuffle is left half-populated */
    const size_t ld = (size_t)heads * d; /* row stride of q, k, v, o */
    const T *qr = q + ((size_t)b * sq + row) * ld + (size_t)h * d;
    float qv[VPL], acc[VPL];
#pragma unroll
    for (int j = 0; j < VPL; j++) {
        const int c = lane + 32 * j;
        qv[j] = c < d ? loom_dt::to_float(qr[c]) * scale_log2 : 0.0f; /* scores in log2 units: exp2 below */
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const int nk = causal ? min(sk, row + 1) : sk; /* top-left aligned causal mask: keys j ≤ row */
    const T *kb = k + (size_t)b * sk * ld + (size_t)h * d, *vb = v + (size_t)b * sk * ld + (size_t)h * d;
    for (int j = 0; j < nk; j++) {
        const T *kr = kb + (size_t)j * ld;
        float s = 0.0f;
#pragma unroll
        for (int t = 0; t < VPL; t++) {
            const int c = lane + 32 * t;
            if (c < d) s += qv[t] * loom_dt::to_float(kr[c]);
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        const float m_new = fmaxf(m, s);
        const float corr = exp2f(m - m_new); /* m = −inf on the first key: corr = 0, acc and l are 0 anyway */
        const float p = exp2f(s - m_new);
        l = l * corr + p;
        const T *vr = vb + (size_t)j * ld;
#pragma unroll
        for (int t = 0; t < VPL; t++) {
            const int c = lane + 32 * t;
            acc[t] = acc[t] * corr + (c < d ? p * loom_dt::to_float(vr[c]) : 0.0f);
        }
        m = m_new;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f; /* nk ≥ 1 always (sk ≥ 1): l ≥ 1 */
    T *orow = o + ((size_t)b * sq + row) * ld + (size_t)h * d;
#pragma unroll
    for (int t = 0; t < VPL; t++) {
        const int c = lane + 32 * t;
        if (c < d) orow[c] = loom_dt::from_float<T>(acc[t] * inv);
    }
}

template <class T, int VPL>
static loom_status launch(const loom_attention_dims *a, float scale_log2, int causal)
{
    const dim3 grid((unsigned)((a->sq + GEN_WARPS - 1) / GEN_WARPS), (unsigned)a->heads, (unsigned)a->batch);
    loom_attention_generic_kernel<T, VPL><<<grid, GEN_WARPS * 32>>>((const T *)a->q, (const T *)a->k, (const T *)a->v,
                                                                    (T *)a->o, (int)a->sq, (int)a->sk, (int)a->heads,
                                                                    (int)a->d, scale_log2, causal);
    LOOM_LAUNCH_CHECK("loom_attention_generic_kernel");
    return LOOM_OK;
}

template <class T> static loom_status launch_vpl(const loom_attention_dims *a, float scale_log2, int causal)
{
    const int vpl = (int)((a->d + 31) / 32);
    if (vpl <= 1) return launch<T, 1>(a, scale_log2, causal);
    if (vpl <= 2) return launch<T, 2>(a, scale_log2, causal);
    if (vpl <= 4) return launch<T, 4>(a, scale_log2, causal);
    if (vpl <= 8) return launch<T, 8>(a, scale_log2, causal);
    return launch<T, 16>(a, scale_log2, causal);
}

extern "C" loom_status loom_cuda_attention_generic(const loom_attention_dims *a, float scale, int causal)
{
    LOOM_NVTX_RANGE("cuda/attention_generic");
    if (a->batch == 0 || a->sq == 0 || a->heads == 0) return LOOM_OK;
    if (a->sk < 1) return loom_fail(LOOM_E_INVALID, "attention: no keys (Sk = 0)");
    if (a->d < 1 || a->d > LOOM_ATTENTION_GENERIC_MAX_D)
        return loom_fail(LOOM_E_UNSUPPORTED, "attention: head dim %lld is not supported (1..%d)", (long long)a->d,
                         LOOM_ATTENTION_GENERIC_MAX_D);
    if (a->heads > 65535 || a->batch > 65535)
        return loom_fail(LOOM_E_UNSUPPORTED, "attention: %lld heads × batch %lld exceed the launch grid",
                         (long long)a->heads, (long long)a->batch);
    const float scale_log2 = scale * 1.4426950408889634f; /* softmax(s) = exp2(s·log2 e − max) / Σ */
    if (a->dtype != LOOM_F16 && a->dtype != LOOM_BF16)
        return loom_fail(LOOM_E_INVALID, "attention: generic kernel got %s; it takes f16 or bf16",
                         loom_dtype_name(a->dtype));
    return LOOM_CUDA_DISPATCH(a->dtype, T, launch_vpl<T>(a, scale_log2, causal));
}
