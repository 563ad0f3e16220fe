/* attention_tile.cuh — the flash-attention kernel behind loom_cuda_attention
 * and loom_cuda_attention_causal (attention.cu; lab: kernels/dev/attention.cu,
 * variant 1). Private to those files.
 *
 * FlashAttention-2 scheme, f16 or bf16 in/out (the element type T, dtype.cuh:
 * it picks the mma operand type and the roundings; loads, shared memory and
 * ldmatrix move 16-bit patterns), fp32 softmax statistics:
 *   - one CTA = 64·MT queries of one (batch, head); 4 warps, each owns 16·MT
 *     query rows for the whole kernel, so the softmax never crosses warps;
 *   - keys are visited in blocks of kBlockN, always from key 0 upward (fixed
 *     order: a query's result never depends on B, Sq or its CTA);
 *   - S = Q·Kᵀ with mma.sync m16n8k16 (and one m16n8k8 step when D % 16 == 8,
 *     so D = 40 is 16+16+8: no padding of the head dim to 64);
 *   - online softmax per row in fp32 (running max m, running sum l), P
 *     rounded to T once for the P·V mma (bf16 in bf16 mode), O accumulated in
 *     fp32 and rounded to T once at the end (O/l);
 *   - K/V tiles in shared memory, double-buffered with cp.async; fragments
 *     via ldmatrix (.trans for V, whose rows are keys).
 * Shared-memory rows are padded to an odd number of 16-byte chunks so the 8
 * row addresses of every ldmatrix phase fall in distinct bank groups. */
#ifndef LOOM_CUDA_ATTENTION_TILE_CUH
#define LOOM_CUDA_ATTENTION_TILE_CUH

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <cuda_fp16.h>

#include "dtype.cuh"

namespace loom_attn {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;

/* MT = m16 row tiles per warp: each K/V fragment read from shared memory
 * feeds MT mma's, so MT = 2 halves the ldmatrix traffic per flop (the limit
 * at small D) for twice the accumulator registers. */
template <int D, int MT> struct tile_cfg {
    static_assert(D % 8 == 0 && D >= 16 && D <= 256, "head dim: a multiple of 8 in [16, 256]");
    static_assert(MT == 1 || MT == 2, "1 or 2 row tiles per warp");
    static constexpr int kBlockM = kWarps * 16 * MT;     /* queries per CTA */
    /* 32 keys per block above D = 128 keeps the S tile small (registers) and
     * the smem under 99 KB (sm_86/89's per-block limit): 64.5 KB at D = 160. */
    static constexpr int kBlockN = D <= 128 ? 64 : 32;
    static constexpr int kChunks = D / 8;                /* 16-byte chunks per row */
    static constexpr int kStride = (kChunks | 1) * 8;    /* smem row stride, halves */
    static constexpr int kK16 = D / 16;                  /* m16n8k16 steps of Q·Kᵀ */
    static constexpr bool kK8 = (D % 16) != 0;           /* one more m16n8k8 step */
    static constexpr int kNTO = D / 8;                   /* n8 tiles of O (Dv = D) */
    static constexpr int kNTS = kBlockN / 8;             /* n8 tiles of S */
    static constexpr int kTileQ = kBlockM * kStride;     /* 16-bit elements */
    static constexpr int kTileKV = kBlockN * kStride;    /* elements, one stage of K or V */
    static constexpr size_t kSmemBytes = (size_t)(kTileQ + 4 * kTileKV) * sizeof(uint16_t);
};

struct params {
    const uint16_t *q, *k, *v; /* f16 or bf16 bits, the kernel's T */
    uint16_t *o;
    int sq, sk, heads;
    int ld;           /* row stride of q, k, v and o in elements: H·D (D = Dv) */
    float scale_log2; /* softmax scale · log2(e) > 0: exp(x·scale) = exp2(x·scale_log2) */
    int causal;       /* query i sees keys j ≤ i */
};

/* ---- PTX wrappers (sm_80+) ------------------------------------------------ */

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* 16 bytes global → shared, asynchronously; valid = false zero-fills (src is
 * not read, but must still be a mapped address). */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid)
{
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t a, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(a));
}
__device__ __forceinline__ void ldsm_x2(uint32_t a, uint32_t &r0, uint32_t &r1)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t a, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(a));
}
__device__ __forceinline__ void ldsm_x2_t(uint32_t a, uint32_t &r0, uint32_t &r1)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(a));
}

/* The mma's are loom_dt::mma<T>::k16 / k8 (dtype.cuh); fragments as in the PTX ISA (g = lane/4,
 * t = lane%4), the same for .f16 and .bf16:
 * k16: c[16×8] += a[16×16]·b[16×8]; a0 (g, 2t..) a1 (g+8, 2t..) a2 (g, 2t+8..) a3 (g+8, 2t+8..);
 *      b0 (k 2t.., n g) b1 (k 2t+8..); c0 c1 (g, 2t, 2t+1), c2 c3 (g+8, 2t, 2t+1).
 * k8:  c[16×8] += a[16×8]·b[8×8]: a0 (g, 2t..) a1 (g+8, 2t..); b0 (k 2t.., n g). */

/* 2^x in one MUFU op; 2^−inf = +0; results below 2^−126 flush to 0 (a
 * probability that small is 0 at f16 anyway; bf16 shares f32's exponent
 * range, so it loses only subnormal p's, each < 2^−126 of a row sum ≥ 1) */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* pack2<T>(lo, hi) (dtype.cuh): lo → low 16 bits = the smaller column */

/* rows × D tile of a [S, ld] head view → smem (stride kStride); rows ≥ valid
 * are zero-filled: zero keys give finite scores (masked anyway) and zero V
 * rows keep 0·V exact instead of 0·garbage = NaN. */
template <int D, int ROWS>
__device__ __forceinline__ void load_tile(uint16_t *s, const uint16_t *g, int valid, int ld)
{
    using C = tile_cfg<D, 1>; /* row geometry only */
    constexpr int kTotal = ROWS * C::kChunks;
#pragma unroll
    for (int i = 0; i < (kTotal + kThreads - 1) / kThreads; i++) {
        const int c = i * kThreads + (int)threadIdx.x;
        if (kTotal % kThreads == 0 || c < kTotal) {
            const int r = c / C::kChunks, ch = c % C::kChunks;
            const bool ok = r < valid;
            const uint16_t *src = ok ? g + (size_t)r * (size_t)ld + ch * 8 : g;
            cp_async16(smem_addr(s + r * C::kStride + ch * 8), src, ok);
        }
    }
}

/* ---- the kernel -------------------------------------------------------------
 * grid (ceil(Sq/kBlockM), B·H), block 128, dynamic smem tile_cfg<D, MT>::kSmemBytes. */
template <class T, int D, int MT> __global__ void __launch_bounds__(kThreads) flash_kernel(const params p)
{
    using C = tile_cfg<D, MT>;
    constexpr int BN = C::kBlockN, BM = C::kBlockM;
    extern __shared__ uint4 smem_u4[]; /* uint4: 16-byte aligned for cp.async / ldmatrix */
    uint16_t *sQ = reinterpret_cast<uint16_t *>(smem_u4);
    uint16_t *sK = sQ + C::kTileQ; /* 2 stages */
    uint16_t *sV = sK + 2 * C::kTileKV;

    const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t = lane & 3;   /* mma fragment coordinates */
    const int lr = lane & 7, lm = lane >> 3; /* ldmatrix: row within matrix, matrix index */
    const int m0 = (int)blockIdx.x * BM;
    const int h = (int)blockIdx.y % p.heads, b = (int)blockIdx.y / p.heads;

    /* head h of row r: element (b·S + r)·ld + h·D */
    const uint16_t *qg = p.q + ((size_t)b * (size_t)p.sq + (size_t)m0) * (size_t)p.ld + (size_t)h * D;
    const uint16_t *kg = p.k + (size_t)b * (size_t)p.sk * (size_t)p.ld + (size_t)h * D;
    const uint16_t *vg = p.v + (size_t)b * (size_t)p.sk * (size_t)p.ld + (size_t)h * D;

    /* Causal: keys past the block's last query are masked for all its rows;
     * skipping them changes nothing bitwise (they would add p = 0, α = 1). */
    const int kv_end = p.causal ? min(p.sk, m0 + BM) : p.sk;
    const int n_blocks = (kv_end + BN - 1) / BN; /* ≥ 1: sk ≥ 1 */

    load_tile<D, BM>(sQ, qg, p.sq - m0, p.ld);
    load_tile<D, BN>(sK, kg, p.sk, p.ld);
    load_tile<D, BN>(sV, vg, p.sk, p.ld);
    cp_async_commit();

    const int wrow = warp * 16 * MT; /* this warp's first row in the CTA tile; tile mt is rows wrow + 16·mt.. */
    float o[MT][C::kNTO][4];
    float m_run[MT][2], l_run[MT][2]; /* raw-score max (unscaled), per-lane partial sum */
    uint32_t qa[MT][C::kK16][4];
    uint32_t qa8[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int n = 0; n < C::kNTO; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
        m_run[mt][0] = m_run[mt][1] = -INFINITY;
        l_run[mt][0] = l_run[mt][1] = 0.0f;
        qa8[mt][0] = qa8[mt][1] = 0u;
    }

    for (int nb = 0; nb < n_blocks; nb++) {
        const int st = nb & 1;
        if (nb + 1 < n_blocks) { /* prefetch the next block into the other stage */
            const int k1 = (nb + 1) * BN;
            load_tile<D, BN>(sK + (st ^ 1) * C::kTileKV, kg + (size_t)k1 * (size_t)p.ld, p.sk - k1, p.ld);
            load_tile<D, BN>(sV + (st ^ 1) * C::kTileKV, vg + (size_t)k1 * (size_t)p.ld, p.sk - k1, p.ld);
            cp_async_commit();
            cp_async_wait<1>(); /* this block's group (and Q) landed */
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();

        if (nb == 0) { /* Q fragments stay in registers for the whole loop */
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const uint16_t *qrow = sQ + (wrow + 16 * mt + lr + ((lm & 1) << 3)) * C::kStride;
#pragma unroll
                for (int kt = 0; kt < C::kK16; kt++) /* m: rows 0-7|8-15 × cols k0|k0+8 */
                    ldsm_x4(smem_addr(qrow + kt * 16 + ((lm >> 1) << 3)), qa[mt][kt][0], qa[mt][kt][1],
                            qa[mt][kt][2], qa[mt][kt][3]);
                if (C::kK8) ldsm_x2(smem_addr(qrow + C::kK16 * 16), qa8[mt][0], qa8[mt][1]);
            }
        }

        /* S[16·MT × BN] = Q·Kᵀ for this warp's rows (raw scores) */
        const uint16_t *sKs = sK + st * C::kTileKV;
        float s[MT][C::kNTS][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int n = 0; n < C::kNTS; n++) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
#pragma unroll
        for (int kt = 0; kt < C::kK16; kt++)
#pragma unroll
            for (int np = 0; np < C::kNTS / 2; np++) { /* m: keys n0|n0+8 × d k0|k0+8 → b0,b1 of 2 tiles */
                uint32_t b0, b1, b2, b3;
                ldsm_x4(smem_addr(sKs + (np * 16 + lr + ((lm >> 1) << 3)) * C::kStride + kt * 16 + ((lm & 1) << 3)),
                        b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    loom_dt::mma<T>::k16(s[mt][2 * np], qa[mt][kt], b0, b1);
                    loom_dt::mma<T>::k16(s[mt][2 * np + 1], qa[mt][kt], b2, b3);
                }
            }
        if (C::kK8) {
#pragma unroll
            for (int nq = 0; nq < C::kNTS / 4; nq++) { /* m: keys n0 + 8i, d D-8 → b0 of 4 tiles */
                uint32_t b0, b1, b2, b3;
                ldsm_x4(smem_addr(sKs + (nq * 32 + lm * 8 + lr) * C::kStride + C::kK16 * 16), b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    loom_dt::mma<T>::k8(s[mt][4 * nq], qa8[mt], b0);
                    loom_dt::mma<T>::k8(s[mt][4 * nq + 1], qa8[mt], b1);
                    loom_dt::mma<T>::k8(s[mt][4 * nq + 2], qa8[mt], b2);
                    loom_dt::mma<T>::k8(s[mt][4 * nq + 3], qa8[mt], b3);
                }
            }
        }

        /* online softmax per row; −inf for keys ≥ Sk and (causal) keys > query.
         * The max is taken on raw scores (scale > 0 keeps the order), then
         * exp(scale·(s − m)) = exp2(s·scale_log2 − m·scale_log2), one FFMA. */
        const int key0 = nb * BN;
        const bool need_mask = key0 + BN > p.sk || (p.causal && key0 + BN - 1 > m0 + wrow); /* warp-uniform */
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            const int qi0 = m0 + wrow + 16 * mt + g; /* global query index of rows g, g+8 */
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int n = 0; n < C::kNTS; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    if (need_mask) {
                        const int j = key0 + n * 8 + 2 * t + (e & 1);
                        if (j >= p.sk || (p.causal && j > qi0 + ((e >> 1) << 3))) s[mt][n][e] = -INFINITY;
                    }
                    mx[e >> 1] = fmaxf(mx[e >> 1], s[mt][n][e]);
                }
            float alpha[2], ms[2];
#pragma unroll
            for (int r = 0; r < 2; r++) { /* a row lives in the 4 lanes of a quad */
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                const float m_new = fmaxf(m_run[mt][r], mx[r]);
                /* all −inf so far (no visible key yet): use 0 so exp2 gives 0, not NaN */
                const float m_use = m_new == -INFINITY ? 0.0f : m_new;
                alpha[r] = fast_exp2((m_run[mt][r] - m_use) * p.scale_log2); /* 0 on the first visible block */
                m_run[mt][r] = m_new;
                ms[r] = m_use * p.scale_log2;
            }
            float ls[2] = {0.0f, 0.0f};
#pragma unroll
            for (int n = 0; n < C::kNTS; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const float pe = fast_exp2(fmaf(s[mt][n][e], p.scale_log2, -ms[e >> 1]));
                    s[mt][n][e] = pe;
                    ls[e >> 1] += pe;
                }
#pragma unroll
            for (int r = 0; r < 2; r++) l_run[mt][r] = l_run[mt][r] * alpha[r] + ls[r]; /* quad-summed at the end */
#pragma unroll
            for (int n = 0; n < C::kNTO; n++) {
                o[mt][n][0] *= alpha[0];
                o[mt][n][1] *= alpha[0];
                o[mt][n][2] *= alpha[1];
                o[mt][n][3] *= alpha[1];
            }
        }

        /* O[16·MT × D] += P[16·MT × BN]·V[BN × D]; the S accumulators of tiles
         * 2kk, 2kk+1 are exactly the A fragment of keys 16kk..16kk+15 */
        const uint16_t *sVs = sV + st * C::kTileKV;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = loom_dt::pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = loom_dt::pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = loom_dt::pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = loom_dt::pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
            const uint16_t *vrow = sVs + (kk * 16 + lr + ((lm & 1) << 3)) * C::kStride;
#pragma unroll
            for (int dp = 0; dp < C::kNTO / 2; dp++) { /* m: keys k0|k0+8 × d n0|n0+8 → b0,b1 of 2 tiles */
                uint32_t b0, b1, b2, b3;
                ldsm_x4_t(smem_addr(vrow + dp * 16 + ((lm >> 1) << 3)), b0, b1, b2, b3);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    loom_dt::mma<T>::k16(o[mt][2 * dp], pa[mt], b0, b1);
                    loom_dt::mma<T>::k16(o[mt][2 * dp + 1], pa[mt], b2, b3);
                }
            }
            if (C::kNTO & 1) { /* D % 16 == 8: the last n8 tile alone */
                uint32_t b0, b1;
                ldsm_x2_t(smem_addr(vrow + (C::kNTO - 1) * 8), b0, b1);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) loom_dt::mma<T>::k16(o[mt][C::kNTO - 1], pa[mt], b0, b1);
            }
        }
        __syncthreads(); /* every warp is done with stage st before the next prefetch refills it */
    }

    /* O / l, rounded to T once; staged through the warp's own Q rows (no other
     * warp reads them) so the global stores are whole 16-byte chunks */
    uint16_t *sO = sQ + wrow * C::kStride;
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        float inv[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float l = l_run[mt][r];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
        }
        uint16_t *so = sO + 16 * mt * C::kStride;
#pragma unroll
        for (int n = 0; n < C::kNTO; n++) {
            *reinterpret_cast<uint32_t *>(so + g * C::kStride + n * 8 + 2 * t) =
                loom_dt::pack2<T>(o[mt][n][0] * inv[0], o[mt][n][1] * inv[0]);
            *reinterpret_cast<uint32_t *>(so + (g + 8) * C::kStride + n * 8 + 2 * t) =
                loom_dt::pack2<T>(o[mt][n][2] * inv[1], o[mt][n][3] * inv[1]);
        }
    }
    __syncwarp();
    uint16_t *og = p.o + ((size_t)b * (size_t)p.sq + (size_t)m0) * (size_t)p.ld + (size_t)h * D; /* m0 < Sq */
    constexpr int kOut = 16 * MT * C::kChunks;
#pragma unroll
    for (int i = 0; i < (kOut + 31) / 32; i++) {
        const int c = i * 32 + lane;
        const int r = c / C::kChunks, ch = c % C::kChunks;
        if ((kOut % 32 == 0 || c < kOut) && m0 + wrow + r < p.sq)
            *reinterpret_cast<uint4 *>(og + (size_t)(wrow + r) * (size_t)p.ld + ch * 8) =
                *reinterpret_cast<const uint4 *>(sO + r * C::kStride + ch * 8);
    }
}

} // namespace loom_attn

#endif
