/* mma_tile.cuh — loom's tensor-core tile GEMM (issue 5 item 1; lab: kernels/dev/gemm.cu, kernel version 1),
 * shared by gemm.cu (linear, GEGLU, adapters) and conv2d.cu (NHWC implicit GEMM).
 *
 *   C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ)      f16 or bf16 in/out, fp32 accumulate, sm_80+
 *
 * The element type T (__half or __nv_bfloat16, dtype.cuh) matters only to the MMA instruction
 * (.f16 or .bf16 operands, the same fragment layouts) and to the epilogue's conversions: the
 * loaders, shared memory and ldmatrix move 16-bit patterns and are shared by both.
 *
 * Both operands are K-contiguous, which is exactly what mma.sync m16n8k16 .row.col wants: A and B
 * fragments come from shared memory with plain (non-transposed) ldmatrix.x4.
 *
 * Tiling: a CTA owns a BM×BN tile of C and walks K in tiles of BK = 32 halves through a STAGES-deep
 * cp.async ring in static shared memory (≤ 48 KB, so no opt-in attribute is needed). Each smem row is
 * 32 halves = four 16-byte chunks; chunk c of row r is stored at chunk c ^ ((r >> 1) & 3), so the 8
 * row addresses of one ldmatrix phase (8 consecutive rows, same chunk) hit 8 distinct 16-byte bank
 * groups (row parity picks the half of the 128-byte line, the XOR the quarter within it).
 * Warps are laid out WARPS_M × WARPS_N, each owns a (MI·16) × (NI·8) sub-tile of fp32 accumulators.
 *
 * Operand loading is a policy (A: dense rows or an implicit im2col of NHWC input; B: dense rows, or
 * the GEGLU interleave). VEC = 16-byte cp.async with zero-fill; it needs K % 8 == 0 (conv: I % 8 == 0),
 * 8-element leading dims and 16-byte aligned bases, which the host checks — otherwise the scalar path
 * loads element by element with a bounds check each and stores 16-byte chunks with st.shared.
 * Out-of-range rows, K tails and conv padding are zero-filled, so the MMA sees exact zeros.
 *
 * Batch invariance (ops.h): every element of C is accumulated over K in the same order (16-wide MMA
 * steps, ascending, K padded with zeros to a multiple of 32 in every variant), and an MMA's output
 * element depends only on its own row/column inputs, so a row's result does not depend on M, on the
 * tile variant or on the row's position in a tile (checked bit for bit across variants and both
 * load paths by the lab on an H200). No split-K.
 *
 * Epilogue (registers → global, no smem): v = acc·alpha [·col_scale[n]] [+ bias[n]] [+ bias_f32[n]];
 * GEGLU: out = v_a · gelu(v_g) with the erfc form of exact gelu (as kernels/cpu/unary.c); then
 * [+ residual[m, n]] and ONE rounding to T. residual may be C itself (each element is read and
 * written by the same thread). */
#ifndef LOOM_CUDA_MMA_TILE_CUH
#define LOOM_CUDA_MMA_TILE_CUH

#include <cstdint>
#include <type_traits>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "dtype.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "mma_tile.cuh needs sm_80 or newer (cp.async, ldmatrix, mma.sync m16n8k16)"
#endif

namespace loom_mma {

constexpr int BK = 32; /* 16-bit elements per k-tile; 4 × 16-byte chunks per smem row */

template <int BM_, int BN_, int WARPS_M_, int WARPS_N_, int STAGES_>
struct tile_cfg {
    static constexpr int BM = BM_, BN = BN_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_, STAGES = STAGES_;
    static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
    static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N; /* warp tile */
    static constexpr int MI = WTM / 16, NI = WTN / 8;              /* MMA tiles per warp */
    static constexpr int A_ITERS = (BM * 4 + THREADS - 1) / THREADS; /* 16-byte chunks per thread */
    static constexpr int B_ITERS = (BN * 4 + THREADS - 1) / THREADS;
    static constexpr int SMEM_HALVES = STAGES * (BM + BN) * BK;
    static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tile: MI·16 × NI·8 with NI even (ldmatrix.x4 on B)");
    static_assert(SMEM_HALVES * 2 <= 48 * 1024, "static shared memory is capped at 48 KB");
    static_assert(STAGES >= 2, "pipeline");
};

/* The variants, chosen by pick_variant from timings on an H200 (kernels/dev/gemm.cu). Small grids
 * are latency-bound, so the small tiles fill their 48 KB with more stages; with many waves of CTAs
 * occupancy wins and 4 stages are faster. Also tried there and dropped: 128×64 with 4 warps (never
 * the fastest) and 128×128 with 4 warps of 64×64 (228 registers: 40–60 % slower). */
using cfg_128x128 = tile_cfg<128, 128, 2, 4, 3>; /* 256 thr, warp 64×32, 3 stages: 48 KB */
using cfg_64x64 = tile_cfg<64, 64, 2, 2, 4>;     /* 128 thr, warp 32×32 */
using cfg_64x64d = tile_cfg<64, 64, 2, 2, 6>;    /* the same, 6 stages */
using cfg_64x32 = tile_cfg<64, 32, 2, 2, 8>;     /* 128 thr, warp 32×16, 8 stages */
using cfg_128x16 = tile_cfg<128, 16, 4, 1, 4>;   /* 128 thr, warp 32×16: N ≤ 16 (ranks, conv_out) */

enum variant { V128x128 = 0, V64x64, V64x64d, V64x32, V128x16, VARIANT_COUNT };

/* ---- PTX wrappers (sm_80+) ------------------------------------------------------------------- */

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* Swizzled element offset of chunk `ch` (0..3) of smem row `row`. */
__device__ __forceinline__ int swz(int row, int ch) { return row * BK + ((ch ^ ((row >> 1) & 3)) << 3); }

/* 16 bytes global → shared; src_bytes 0 reads nothing and writes zeros. */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

__device__ __forceinline__ void st_shared16(uint32_t dst, uint4 v)
{
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
                 : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr)
                 : "memory");
}

/* d += a·b for one 16×8×16 tile is loom_dt::mma<T>::k16 (dtype.cuh; PTX ISA mma.m16n8k16 layouts). */

__device__ __forceinline__ uint16_t ld_bits(const uint16_t *p) { return __ldg((const unsigned short *)p); }

__device__ __forceinline__ uint4 pack8(const uint16_t (&h)[8])
{
    return make_uint4(h[0] | (uint32_t)h[1] << 16, h[2] | (uint32_t)h[3] << 16, h[4] | (uint32_t)h[5] << 16,
                      h[6] | (uint32_t)h[7] << 16);
}

/* ---- operand loaders ------------------------------------------------------------------------
 * Thread tid loads chunks id = tid + i·THREADS (i < ITERS): smem row id / 4, chunk id % 4. THREADS
 * is a multiple of 4, so a thread's chunk column ch = tid % 4 is the same for all its rows and its
 * k offset within a tile is ch·8. */

/* Dense K-contiguous rows: A of a GEMM, every B. row_of(r) maps the tile row to a global row (or −1). */
struct dense_params {
    const uint16_t *p; /* f16 or bf16 bits */
    int64_t ld;
};

template <int ROWS, int ITERS, int THREADS>
struct dense_rows {
    const uint16_t *row[ITERS]; /* nullptr: zero row */
    const uint16_t *base;
    int k, ch, r0;

    /* grow(r) gives the global row of tile row r, or −1 when it is outside the matrix */
    template <class F>
    __device__ __forceinline__ dense_rows(const dense_params &dp, int k_, int tid, F grow)
        : base(dp.p), k(k_), ch(tid & 3), r0(tid >> 2)
    {
#pragma unroll
        for (int i = 0; i < ITERS; i++) {
            const int r = r0 + i * (THREADS / 4);
            const int g = r < ROWS ? grow(r) : -1;
            row[i] = g >= 0 ? dp.p + (int64_t)g * dp.ld : nullptr;
        }
    }

    template <bool VEC>
    __device__ __forceinline__ void load(uint16_t *stage, int k0) const
    {
        const int kk = k0 + ch * 8;
#pragma unroll
        for (int i = 0; i < ITERS; i++) {
            const int r = r0 + i * (THREADS / 4);
            if (r >= ROWS) continue;
            const uint32_t dst = smem_u32(stage + swz(r, ch));
            if (VEC) {
                const bool ok = row[i] && kk < k; /* K % 8 == 0: a chunk is all in or all out */
                cp_async16(dst, ok ? (const void *)(row[i] + kk) : (const void *)base, ok ? 16 : 0);
            } else {
                uint16_t h[8];
#pragma unroll
                for (int e = 0; e < 8; e++) h[e] = row[i] && kk + e < k ? ld_bits(row[i] + kk + e) : 0;
                st_shared16(dst, pack8(h));
            }
        }
    }
};

/* Implicit im2col of NHWC x for y = conv(x, w[O, kh, kw, I]): GEMM row m = (n, ho, wo), GEMM column
 * kk = (p·kw + q)·I + c, matching the OHWI weight row, element x[n, ho·sh − ph + p, wo·sw − pw + q, c]
 * (zero outside the image). The host guarantees N·H·W, N·H, M ≤ INT_MAX and H + 2·ph, W + 2·pw ≤
 * INT_MAX, so the int pixel arithmetic below cannot overflow. */
struct conv_params {
    const uint16_t *x; /* f16 or bf16 bits */
    int h, w, c;     /* input H, W, I */
    int kw;          /* kernel width (kh is implied by K) */
    int ho, wo;      /* output H, W */
    int sh, sw, ph, pw;
};

template <int ROWS, int ITERS, int THREADS>
struct conv_rows {
    conv_params cp;
    int nh[ITERS];       /* n·H of the row's image */
    int hi0[ITERS], wi0[ITERS];
    bool ok[ITERS];
    int k, ch, r0;

    __device__ __forceinline__ conv_rows(const conv_params &cp_, int m0, int m, int k_, int tid)
        : cp(cp_), k(k_), ch(tid & 3), r0(tid >> 2)
    {
        const int hw = cp.ho * cp.wo;
#pragma unroll
        for (int i = 0; i < ITERS; i++) {
            const int r = r0 + i * (THREADS / 4);
            const int gm = m0 + r;
            ok[i] = r < ROWS && gm < m;
            const int n = ok[i] ? gm / hw : 0, rem = ok[i] ? gm - n * hw : 0;
            const int oh = rem / cp.wo, ow = rem - oh * cp.wo;
            nh[i] = n * cp.h;
            hi0[i] = oh * cp.sh - cp.ph;
            wi0[i] = ow * cp.sw - cp.pw;
        }
    }

    __device__ __forceinline__ const uint16_t *src(int i, int p, int q, int c) const
    {
        const int hi = hi0[i] + p, wi = wi0[i] + q;
        if (!ok[i] || (unsigned)hi >= (unsigned)cp.h || (unsigned)wi >= (unsigned)cp.w) return nullptr;
        return cp.x + (int64_t)((nh[i] + hi) * cp.w + wi) * cp.c + c;
    }

    template <bool VEC>
    __device__ __forceinline__ void load(uint16_t *stage, int k0) const
    {
        int kk = k0 + ch * 8;
        /* (p, q, c) of kk, once per tile: the thread's rows share the k offset */
        int pq = kk / cp.c, c = kk - pq * cp.c;
        int p = pq / cp.kw, q = pq - p * cp.kw;
        if (VEC) { /* I % 8 == 0: the 8 channels of a chunk share (p, q) and are contiguous */
#pragma unroll
            for (int i = 0; i < ITERS; i++) {
                const int r = r0 + i * (THREADS / 4);
                if (r >= ROWS) continue;
                const uint16_t *s = kk < k ? src(i, p, q, c) : nullptr;
                cp_async16(smem_u32(stage + swz(r, ch)), s ? (const void *)s : (const void *)cp.x, s ? 16 : 0);
            }
        } else { /* any I: walk (p, q, c) element by element */
            uint16_t h[ITERS][8];
#pragma unroll
            for (int e = 0; e < 8; e++) {
#pragma unroll
                for (int i = 0; i < ITERS; i++) {
                    const uint16_t *s = kk < k ? src(i, p, q, c) : nullptr;
                    h[i][e] = s ? ld_bits(s) : 0;
                }
                kk++;
                if (++c == cp.c) {
                    c = 0;
                    if (++q == cp.kw) q = 0, p++;
                }
            }
#pragma unroll
            for (int i = 0; i < ITERS; i++) {
                const int r = r0 + i * (THREADS / 4);
                if (r < ROWS) st_shared16(smem_u32(stage + swz(r, ch)), pack8(h[i]));
            }
        }
    }
};

/* The A loader of a kernel: dense rows m0 + r of a GEMM's A, or conv patches. */
template <class L>
__device__ __forceinline__ L make_a(const dense_params &p, int m0, int m, int k, int tid)
{
    return L(p, k, tid, [=](int r) -> int { return m0 + r < m ? m0 + r : -1; });
}
template <class L>
__device__ __forceinline__ L make_a(const conv_params &p, int m0, int m, int k, int tid)
{
    return L(p, m0, m, k, tid);
}

/* ---- epilogue -------------------------------------------------------------------------------- */

template <class T> struct epi_params {
    T *c;
    int64_t ldc;
    const T *residual;      /* laid out as c; may be c */
    const T *bias;          /* [N_gemm] */
    const float *bias_f32;  /* [N_gemm] */
    const float *col_scale; /* [N_gemm] */
    float alpha;
    int n_out; /* columns of c: N, or F = N/2 with GEGLU */
    int vec2;  /* c and residual 4-byte aligned and ldc even: pair (half2 / bfloat162) access */
};

template <class T> __device__ __forceinline__ float epi_pre(const epi_params<T> &ep, float v, int col)
{
    v *= ep.alpha;
    if (ep.col_scale) v *= ep.col_scale[col];
    if (ep.bias) v += loom_dt::to_float(ep.bias[col]);
    if (ep.bias_f32) v += ep.bias_f32[col];
    return v;
}

__device__ __forceinline__ float gelu_exact(float g) { return 0.5f * g * erfcf(-g * 0.70710678118654752f); }

/* Adds the residual and stores columns col, col + 1 of row `row` (col + 1 may be past the end). */
template <class T>
__device__ __forceinline__ void epi_store2(const epi_params<T> &ep, int row, int col, float v0, float v1)
{
    typedef typename loom_dt::pair<T>::type T2;
    const int64_t off = (int64_t)row * ep.ldc + col;
    if (ep.vec2 && col + 1 < ep.n_out) {
        if (ep.residual) {
            const float2 r = loom_dt::unpack2<T>(*(const T2 *)(ep.residual + off));
            v0 += r.x;
            v1 += r.y;
        }
        *(uint32_t *)(ep.c + off) = loom_dt::pack2<T>(v0, v1);
        return;
    }
    if (col < ep.n_out) {
        if (ep.residual) v0 += loom_dt::to_float(ep.residual[off]);
        ep.c[off] = loom_dt::from_float<T>(v0);
    }
    if (col + 1 < ep.n_out) {
        if (ep.residual) v1 += loom_dt::to_float(ep.residual[off + 1]);
        ep.c[off + 1] = loom_dt::from_float<T>(v1);
    }
}

/* ---- the kernel ------------------------------------------------------------------------------
 * grid.x: M tiles, grid.y: N tiles (GEGLU: tiles of BN/2 output columns). ALoad is dense_rows or
 * conv_rows; AParams its parameter struct; E the element type. With GEGLU, smem B row r of warp column wn = r / WTN
 * holds weight row oc (first half of the warp's columns) or F + oc (second half), oc = the output
 * column, so a thread's accumulators acc[.][j] and acc[.][j + NI/2] are a and gate of one column. */
template <class E, class Cfg, class AParams, bool GEGLU, bool VEC>
__global__ void __launch_bounds__(Cfg::THREADS)
    tile_gemm_kernel(AParams ap, dense_params bp, epi_params<E> ep, int m, int n, int k)
{
    constexpr int BM = Cfg::BM, BN = Cfg::BN, S = Cfg::STAGES, MI = Cfg::MI, NI = Cfg::NI;
    constexpr int WTM = Cfg::WTM, WTN = Cfg::WTN, T = Cfg::THREADS;
    __shared__ __align__(128) uint16_t smem[Cfg::SMEM_HALVES];
    uint16_t *const sa = smem;               /* [S][BM][BK] */
    uint16_t *const sb = smem + S * BM * BK; /* [S][BN][BK] */

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / Cfg::WARPS_N, wn = warp % Cfg::WARPS_N;
    const int m0 = blockIdx.x * BM;
    const int f = n / 2; /* GEGLU: output columns */

    using a_loader = typename std::conditional<std::is_same<AParams, conv_params>::value,
                                               conv_rows<BM, Cfg::A_ITERS, T>, dense_rows<BM, Cfg::A_ITERS, T>>::type;
    const a_loader la = make_a<a_loader>(ap, m0, m, k, tid);
    const dense_rows<BN, Cfg::B_ITERS, T> lb(bp, k, tid, [&](int r) -> int {
        if (!GEGLU) {
            const int g = blockIdx.y * BN + r;
            return g < n ? g : -1;
        }
        const int wc = r / WTN, within = r % WTN, half = within / (WTN / 2);
        const int oc = blockIdx.y * (BN / 2) + wc * (WTN / 2) + within % (WTN / 2);
        return oc < f ? oc + half * f : -1;
    });

    float acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    const int kt_count = (k + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < S - 1; s++) {
        if (s < kt_count) {
            la.template load<VEC>(sa + s * BM * BK, s * BK);
            lb.template load<VEC>(sb + s * BN * BK, s * BK);
        }
        cp_async_commit(); /* always commit: the wait below counts groups */
    }

    /* ldmatrix lane roles (PTX ISA, ldmatrix .x4): lanes 8j..8j+7 give the row addresses of matrix j.
     * A: matrices (rows 0–7, k 0–7), (8–15, k 0–7), (0–7, k 8–15), (8–15, k 8–15) = a0..a3.
     * B: (n 0–7, k 0–7), (n 0–7, k 8–15), (n 8–15, k 0–7), (n 8–15, k 8–15) = b0, b1 of two n8 tiles. */
    const int a_row = wm * WTM + (lane & 15), a_ch = lane >> 4;
    const int b_row = wn * WTN + (lane & 7) + ((lane >> 4) << 3), b_ch = (lane >> 3) & 1;

    for (int kt = 0; kt < kt_count; kt++) {
        cp_async_wait<S - 2>(); /* this thread's copies of tile kt have landed */
        __syncthreads();        /* everyone's have, and everyone is done reading tile kt − 1's slot */
        const int next = kt + S - 1;
        if (next < kt_count) { /* refill the slot tile kt − 1 used */
            la.template load<VEC>(sa + (next % S) * BM * BK, next * BK);
            lb.template load<VEC>(sb + (next % S) * BN * BK, next * BK);
        }
        cp_async_commit();

        const uint16_t *ta = sa + (kt % S) * BM * BK, *tb = sb + (kt % S) * BN * BK;
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            uint32_t af[MI][4], bf[NI][2];
#pragma unroll
            for (int i = 0; i < MI; i++) ldmatrix_x4(af[i], smem_u32(ta + swz(a_row + i * 16, ks * 2 + a_ch)));
#pragma unroll
            for (int j = 0; j < NI / 2; j++) {
                uint32_t r[4];
                ldmatrix_x4(r, smem_u32(tb + swz(b_row + j * 16, ks * 2 + b_ch)));
                bf[2 * j][0] = r[0];
                bf[2 * j][1] = r[1];
                bf[2 * j + 1][0] = r[2];
                bf[2 * j + 1][1] = r[3];
            }
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NI; j++) loom_dt::mma<E>::k16(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    cp_async_wait<0>(); /* only empty groups remain; keeps the exit tidy */

    /* accumulator layout: acc[i][j][0..1] = row g, cols 2t, 2t+1; [2..3] = row g + 8 */
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int hr = 0; hr < 2; hr++) {
            const int row = m0 + wm * WTM + i * 16 + g + hr * 8;
            if (row >= m) continue;
            if (!GEGLU) {
#pragma unroll
                for (int j = 0; j < NI; j++) {
                    const int col = blockIdx.y * BN + wn * WTN + j * 8 + 2 * t;
                    if (col >= n) continue;
                    const float v0 = epi_pre(ep, acc[i][j][2 * hr], col);
                    const float v1 = col + 1 < n ? epi_pre(ep, acc[i][j][2 * hr + 1], col + 1) : 0.0f;
                    epi_store2(ep, row, col, v0, v1);
                }
            } else {
#pragma unroll
                for (int j = 0; j < NI / 2; j++) {
                    const int oc = blockIdx.y * (BN / 2) + wn * (WTN / 2) + j * 8 + 2 * t;
                    if (oc >= f) continue;
                    float v[2] = {0.0f, 0.0f};
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        if (oc + e < f) {
                            const float a = epi_pre(ep, acc[i][j][2 * hr + e], oc + e);
                            const float gt = epi_pre(ep, acc[i][j + NI / 2][2 * hr + e], f + oc + e);
                            v[e] = a * gelu_exact(gt);
                        }
                    epi_store2(ep, row, oc, v[0], v[1]);
                }
            }
        }
}

/* ---- host side: variant choice and launch -------------------------------------------------- */

/* Multiprocessors of the current device, read once (one device per process, runtime.cu). */
inline int sm_count()
{
    static int cached = 0;
    if (!cached) {
        int dev = 0, v = 0;
        const bool ok = cudaGetDevice(&dev) == cudaSuccess &&
                        cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && v > 0;
        cached = ok ? v : 108; /* an A100's count on failure: only the tile choice depends on it */
    }
    return cached;
}

struct variant_shape {
    int bm, bn;
};
constexpr variant_shape variant_shapes[VARIANT_COUNT] = {{128, 128}, {64, 64}, {64, 64}, {64, 32}, {128, 16}};

inline int64_t variant_ctas(variant v, int64_t m, int64_t n)
{
    const int64_t bm = variant_shapes[v].bm, bn = variant_shapes[v].bn;
    return ((m + bm - 1) / bm) * ((n + bn - 1) / bn);
}

/* No split-K is allowed (batch invariance), so small M·N must be covered by small tiles. Measured on
 * an H200 (132 SMs) at SD1.x's GEMM and conv shapes: 128×128 wins from about 3 waves of CTAs on
 * (4096×2560 GEGLU, VAE convs); 64×64 from about 2 waves (4096×320, 2048×640), with 6 stages up to
 * about 4 waves and 4 stages beyond (8192×320); 64×32 below 2 waves (512×1280, the 16×16 and 8×8
 * convs). N ≤ 16 (adapter ranks, conv_out's 4 channels) gets the narrow tile. The choice never
 * changes results: every variant gives the same bits. */
inline variant pick_variant(int64_t m, int64_t n)
{
    if (n <= 16) return V128x16;
    const int64_t sms = sm_count();
    if (n > 32 && variant_ctas(V128x128, m, n) >= 3 * sms) return V128x128;
    if (n > 32 && variant_ctas(V64x64, m, n) >= 4 * sms) return V64x64;
    if (n > 32 && variant_ctas(V64x64, m, n) >= 2 * sms) return V64x64d;
    return V64x32;
}

/* Grid of a variant for GEMM size m × n (n: GEMM columns, 2F with GEGLU). */
inline dim3 variant_grid(variant v, int m, int n, bool geglu)
{
    const int bm = variant_shapes[v].bm, bn = variant_shapes[v].bn;
    const int ny = geglu ? (n / 2 + bn / 2 - 1) / (bn / 2) : (n + bn - 1) / bn;
    return dim3((unsigned)((m + bm - 1) / bm), (unsigned)ny, 1);
}

template <class T, class Cfg, class AParams, bool GEGLU>
inline void launch_cfg(bool vec, const AParams &ap, const dense_params &bp, const epi_params<T> &ep, int m, int n,
                       int k, dim3 grid)
{
    if (vec)
        tile_gemm_kernel<T, Cfg, AParams, GEGLU, true><<<grid, Cfg::THREADS>>>(ap, bp, ep, m, n, k);
    else
        tile_gemm_kernel<T, Cfg, AParams, GEGLU, false><<<grid, Cfg::THREADS>>>(ap, bp, ep, m, n, k);
}

/* Queues the kernel of variant v; the caller checks grid limits before and the launch after. */
template <class T, class AParams, bool GEGLU>
inline void launch_variant(variant v, bool vec, const AParams &ap, const dense_params &bp, const epi_params<T> &ep,
                           int m, int n, int k)
{
    const dim3 grid = variant_grid(v, m, n, GEGLU);
    switch (v) {
    case V128x128: launch_cfg<T, cfg_128x128, AParams, GEGLU>(vec, ap, bp, ep, m, n, k, grid); break;
    case V64x64: launch_cfg<T, cfg_64x64, AParams, GEGLU>(vec, ap, bp, ep, m, n, k, grid); break;
    case V64x64d: launch_cfg<T, cfg_64x64d, AParams, GEGLU>(vec, ap, bp, ep, m, n, k, grid); break;
    case V64x32: launch_cfg<T, cfg_64x32, AParams, GEGLU>(vec, ap, bp, ep, m, n, k, grid); break;
    default: launch_cfg<T, cfg_128x16, AParams, GEGLU>(vec, ap, bp, ep, m, n, k, grid); break;
    }
}

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }
inline bool aligned4(const void *p) { return ((uintptr_t)p & 3) == 0; }

} // namespace loom_mma

#endif
