/* adapter_gemm.cu — the fp32-output implicit GEMM of the live-adapter ops (adapter_common.cuh).
 *
 * Correctness first (issue 5 item 2; the fused tensor-core version is the performance issue's):
 * plain fp32 FMA on CUDA cores, f16, bf16 or f32 operands widened to fp32 on load, so an adapter's
 * intermediate h = down ⊛ x, a dense ΔW built in fp32 and the running sum of base + terms are
 * never rounded to 16 bits — the op rounds once, in the combine (adapter_common.cu).
 *
 * Tiling: a 256-thread block computes a 64×64 tile of C, walking K in steps of 16 through shared
 * memory (as[16][66], bs[16][66]: 8.4 KB). Loads: thread t fetches column lk = t % 16 of the k
 * step for rows lr + 16e (lr = t / 16, e = 0..3) of both A and B, so a warp's 16 consecutive
 * lanes read 16 consecutive k — contiguous channels of one NHWC pixel, or of one B row — and the
 * padded row stride 66 makes the transposed shared stores conflict-free (bank = 2·lk + lr).
 * Compute: thread (tx, ty) = (t % 16, t / 16) owns rows ty + 16i and columns tx + 16j
 * (i, j = 0..3): reads of as[k][·] are broadcasts, of bs[k][tx + 16j] 16 consecutive words.
 * Each C element is summed by one thread, k ascending: the result does not depend on M, the
 * tile or the row's place in it (ops.h batch invariance).
 * Speed (H100, batch 2): 0.14 ms for [4096, 320]·[320, 320]ᵀ per sample, 1.07 ms for a 3×3 conv
 * 64×64×320 → 320, about 12–14 TFLOP/s — a fraction of the tensor-core GEMM; a LoRA of rank
 * 32 adds 35–55 % over the base (two more GEMMs, one of them on fp32 h). */
#include "dtype.cuh"

#include "adapter_common.cuh"

extern "C" {
#include "cuda_check.h"
}

#define AD_BM 64
#define AD_BN 64
#define AD_BK 16
#define AD_PAD 2
#define AD_THREADS 256
#define AD_MAX_GRID_Y 65535

struct ad_kernel_args {
    const void *a;
    const float *a_scale;
    int ih, iw, cin, kw, sh, sw, ph, pw, ohw, ow;
    const void *b;
    float *c;
    int m, n, k;
    const float *col_scale;
    float alpha;
    int accumulate;
};

__device__ __forceinline__ float ad_load(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float ad_load(const __nv_bfloat16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float ad_load(const float *p, int64_t i) { return p[i]; }

template <typename TA, typename TB>
__global__ void __launch_bounds__(AD_THREADS) loom_ad_gemm_kernel(const ad_kernel_args g)
{
    __shared__ float as[AD_BK][AD_BM + AD_PAD];
    __shared__ float bs[AD_BK][AD_BN + AD_PAD];
    const TA *a = (const TA *)g.a;
    const TB *b = (const TB *)g.b;
    const int t = threadIdx.x, lk = t % AD_BK, lr = t / AD_BK; /* lr: 0..15 */
    const int tx = t % 16, ty = t / 16;
    const int m0 = blockIdx.x * AD_BM, n0 = blockIdx.y * AD_BN;

    /* the four A rows this thread loads: first input row of the row's image (b·ih; −1 past M)
     * and the top-left corner of its receptive field */
    int64_t img[4];
    int hi0[4], wi0[4];
#pragma unroll
    for (int e = 0; e < 4; e++) {
        const int m = m0 + lr + 16 * e;
        img[e] = -1, hi0[e] = 0, wi0[e] = 0;
        if (m < g.m) {
            const int bi = m / g.ohw, r = m - bi * g.ohw, ho = r / g.ow, wo = r - ho * g.ow;
            img[e] = (int64_t)bi * g.ih;
            hi0[e] = ho * g.sh - g.ph;
            wi0[e] = wo * g.sw - g.pw;
        }
    }

    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < g.k; k0 += AD_BK) {
        const int k = k0 + lk;
        const bool kv = k < g.k;
        int c = 0, p = 0, q = 0; /* k = (p·kw + q)·cin + c */
        if (kv) {
            const int pq = k / g.cin;
            c = k - pq * g.cin;
            p = pq / g.kw;
            q = pq - p * g.kw;
        }
        const float s = kv && g.a_scale ? g.a_scale[c] : 1.0f;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int hi = hi0[e] + p, wi = wi0[e] + q;
            float v = 0.0f; /* padding, rows past M and k past K contribute zeros */
            if (kv && img[e] >= 0 && hi >= 0 && hi < g.ih && wi >= 0 && wi < g.iw)
                v = ad_load(a, ((img[e] + hi) * g.iw + wi) * g.cin + c) * s;
            as[lk][lr + 16 * e] = v;
            const int n = n0 + lr + 16 * e;
            bs[lk][lr + 16 * e] = kv && n < g.n ? ad_load(b, (int64_t)n * g.k + k) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < AD_BK; kk++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) av[i] = as[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads(); /* the next step overwrites as/bs */
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty + 16 * i;
        if (m >= g.m) continue;
        float *crow = g.c + (int64_t)m * g.n;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx + 16 * j;
            if (n >= g.n) continue;
            const float v = acc[i][j];
            if (g.accumulate) {
                const float cf = g.col_scale ? g.alpha * g.col_scale[n] : g.alpha;
                crow[n] += cf * v;
            } else {
                crow[n] = g.col_scale ? v * g.col_scale[n] : v;
            }
        }
    }
}

loom_status loom_cuda_ad_gemm_fits(const char *op, int64_t m, int64_t n, int64_t k)
{
    /* tile origins plus a tile's extent stay within int; n's tiles within gridDim.y */
    if (m < 0 || m > INT32_MAX - AD_BM || k < 0 || k > INT32_MAX - AD_BK || n < 0 ||
        n > (int64_t)AD_MAX_GRID_Y * AD_BN)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: a GEMM of %lld x %lld x %lld exceeds the adapter kernels' range", op,
                         (long long)m, (long long)n, (long long)k);
    return LOOM_OK;
}

void loom_cuda_ad_gemm_matrix(loom_ad_gemm *g, const void *a, loom_dtype a_type, int64_t m, int64_t cols)
{
    g->a = a, g->a_type = a_type, g->a_scale = nullptr;
    g->ih = m, g->iw = 1, g->cin = cols, g->kh = 1, g->kw = 1, g->oh = m, g->ow = 1;
    g->stride_h = g->stride_w = 1, g->pad_h = g->pad_w = 0;
}

template <typename TA, typename TB>
static loom_status launch(const ad_kernel_args &ka, dim3 grid)
{
    loom_ad_gemm_kernel<TA, TB><<<grid, AD_THREADS>>>(ka);
    LOOM_LAUNCH_CHECK("loom_ad_gemm_kernel");
    return LOOM_OK;
}

loom_status loom_cuda_ad_gemm(const loom_ad_gemm *g)
{
    static const char op[] = "adapter gemm";
    const int64_t k = g->kh * g->kw * g->cin, ohw = g->oh * g->ow;
    LOOM_TRY(loom_cuda_ad_gemm_fits(op, g->m, g->n_cols, k));
    if (g->m == 0 || g->n_cols == 0) return LOOM_OK;
    /* the callers' module checks bound every extent by INT_MAX (adapter_check.cu); restated here
     * because a wrong geometry would read out of bounds */
    if (ohw < 1 || ohw > INT32_MAX || g->ow < 1 || g->ih < 0 || g->ih > INT32_MAX || g->iw < 0 ||
        g->iw > INT32_MAX || g->kh < 1 || g->kw < 1 || g->cin < 0) /* an empty image or K = 0: zeros */
        return loom_fail(LOOM_E_INVALID, "%s: bad geometry (%lldx%lld -> %lldx%lld, %lld channels)", op,
                         (long long)g->ih, (long long)g->iw, (long long)g->oh, (long long)g->ow, (long long)g->cin);
    ad_kernel_args ka;
    ka.a = g->a, ka.a_scale = g->a_scale;
    ka.ih = (int)g->ih, ka.iw = (int)g->iw, ka.cin = (int)g->cin, ka.kw = (int)g->kw;
    ka.sh = g->stride_h, ka.sw = g->stride_w, ka.ph = g->pad_h, ka.pw = g->pad_w;
    ka.ohw = (int)ohw, ka.ow = (int)g->ow;
    ka.b = g->b, ka.c = g->c;
    ka.m = (int)g->m, ka.n = (int)g->n_cols, ka.k = (int)k;
    ka.col_scale = g->col_scale, ka.alpha = g->alpha, ka.accumulate = g->accumulate;
    const dim3 grid((unsigned)((g->m + AD_BM - 1) / AD_BM), (unsigned)((g->n_cols + AD_BN - 1) / AD_BN));
    /* the pairs the driver uses: 16-bit x with 16-bit factors of its dtype or an f32 ΔW, f32 h with
     * 16-bit ups (adapter_common.cu) */
    const loom_dtype at = g->a_type, bt = g->b_type;
    if (at == LOOM_F16 && bt == LOOM_F16) return launch<__half, __half>(ka, grid);
    if (at == LOOM_F16 && bt == LOOM_F32) return launch<__half, float>(ka, grid);
    if (at == LOOM_F32 && bt == LOOM_F16) return launch<float, __half>(ka, grid);
    if (at == LOOM_BF16 && bt == LOOM_BF16) return launch<__nv_bfloat16, __nv_bfloat16>(ka, grid);
    if (at == LOOM_BF16 && bt == LOOM_F32) return launch<__nv_bfloat16, float>(ka, grid);
    if (at == LOOM_F32 && bt == LOOM_BF16) return launch<float, __nv_bfloat16>(ka, grid);
    if (at == LOOM_F32 && bt == LOOM_F32) return launch<float, float>(ka, grid);
    return loom_fail(LOOM_E_INVALID, "%s: no kernel for %s x %s operands", op, loom_dtype_name(at),
                     loom_dtype_name(bt));
}
