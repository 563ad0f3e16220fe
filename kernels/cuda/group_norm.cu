/* group_norm.cu — GroupNorm (+ fused SiLU) over NHWC x[N, ..., C] (ops.h):
 * `groups` groups of cg = C/groups channels, statistics per (sample, group)
 * over every spatial position × the group's channels, biased variance, eps
 * inside the square root, y = (x − μ)/√(σ² + eps)·γ + β, then SiLU.
 * kernels/cpu/group_norm.c is the reference.
 *
 * Three launches on the default stream, fp32 statistics:
 *  1. gn_partial: one CTA per (chunk of ≈ kChunkElems elements, group,
 *     sample). It reads its chunk twice (the second time from L1/L2): the
 *     sum, then the sum of squared deviations around the chunk's own mean —
 *     two-pass, so no E[x²] − E[x]² cancellation. Values are first shifted
 *     by a pivot K = the group's first element x[n, 0, g·cg], so the sums
 *     stay small when |μ| ≫ σ. Output: (count, mean − K, M2) per chunk.
 *  2. gn_finalize: one warp per (sample, group) merges its chunks in a fixed
 *     order with Chan et al.'s pairwise update (in double; a few hundred
 *     values at most) → (K, μ − K, 1/√(σ² + eps)).
 *  3. gn_apply: the same grid as 1; y = ((x − K) − (μ − K))·rstd·γ + β,
 *     SiLU, one rounding to x's dtype (f16 or bf16; γ, β and y share it).
 * The chunking depends on the per-sample shape only and every merge order is
 * fixed: a sample's result is deterministic and independent of the batch
 * (ops.h). In place (y == x) is safe: only gn_apply writes, after 1 and 2 are
 * done with x, and each of its threads reads exactly the elements it writes.
 *
 * A CTA walks its group's cg channels at each spatial position (a run of
 * 2·cg bytes every 2·C bytes): simple and deterministic, but at cg = 10
 * (SD's 320 channels) a warp's loads use about half of each 32-byte sector;
 * neighbouring groups' CTAs read the rest, mostly from L2.
 *
 * Vectors of V = 8/4/2/1 halves where V divides cg and x, y, γ, β are
 * 2·V-aligned. Limits: N ≤ 65535 and groups ≤ 65535 (grid dims), spatial
 * size, C and N·groups ≤ INT_MAX. Scratch: 16·N·groups·(chunks + 1) bytes,
 * grow-only (gn_scratch). No host sync except when that scratch grows. */
#include <cmath>

#include "misc_common.cuh"
#include "nvtx.h"

namespace {

using namespace loom_misc;

constexpr int kChunkElems = 4096; /* elements per partial-statistics CTA: 8 KB of f16 or bf16 */

/* ---- grow-only scratch (pattern: vendor/state.cu loom_vendor_workspace) ---- */

void *g_scratch;
size_t g_scratch_bytes;

loom_status gn_scratch(size_t bytes, void **out)
{
    if (bytes > g_scratch_bytes) {
        /* queued group_norm launches may still read the old buffer: wait first */
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(g_scratch));
        g_scratch = nullptr;
        g_scratch_bytes = 0;
        cudaError_t e = cudaMalloc(&g_scratch, bytes);
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            g_scratch = nullptr;
            return loom_fail(LOOM_E_NOMEM, "group_norm: out of GPU memory for %zu bytes of statistics scratch",
                             bytes);
        }
        CUDA_CHECK(e);
        g_scratch_bytes = bytes;
    }
    *out = g_scratch;
    return LOOM_OK;
}

/* ---- kernels ---------------------------------------------------------------- */

struct gn_geom {
    int S;      /* spatial positions per sample */
    int C;      /* channels */
    int cg;     /* channels per group */
    int rpc;    /* spatial rows per chunk */
    int chunks; /* ceil(S / rpc) */
};

/* Element (s, j) of sample n, group g sits at n·S·C + s·C + g·cg + j. */
__device__ __forceinline__ int64_t group_base(const gn_geom &g, int n, int grp)
{
    return (int64_t)n * g.S * g.C + (int64_t)grp * g.cg;
}

/* grid (chunks, groups, N), kThreads threads. part[(n·groups + g)·chunks + chunk] = (count, mean − K, M2). */
template <class T, int V> __global__ void __launch_bounds__(kThreads) gn_partial(const T *x, float4 *part, gn_geom g)
{
    __shared__ float sh[kWarps];
    const int chunk = blockIdx.x, grp = blockIdx.y, n = blockIdx.z;
    const T *xg = x + group_base(g, n, grp);
    const int row0 = chunk * g.rpc;         /* < S: chunk < ceil(S / rpc) */
    const int rows = min(g.rpc, g.S - row0);
    const int vpr = g.cg / V, nv = rows * vpr; /* vectors per row, in the chunk (≤ kChunkElems + cg) */
    const float pivot = loom_dt::to_float(xg[0]); /* the same element for every chunk of the group */

    float sum = 0.0f;
    for (int v = threadIdx.x; v < nv; v += kThreads) {
        const int r = v / vpr, jv = v - r * vpr;
        float f[V];
        load<V>(xg + (int64_t)(row0 + r) * g.C + jv * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) sum += f[k] - pivot;
    }
    const float cnt = (float)rows * (float)g.cg; /* ≤ kChunkElems + cg: exact in fp32 */
    const float mean = block_sum(sum, sh) / cnt;

    float m2 = 0.0f;
    for (int v = threadIdx.x; v < nv; v += kThreads) {
        const int r = v / vpr, jv = v - r * vpr;
        float f[V];
        load<V>(xg + (int64_t)(row0 + r) * g.C + jv * V, f);
#pragma unroll
        for (int k = 0; k < V; k++) {
            const float d = (f[k] - pivot) - mean;
            m2 += d * d;
        }
    }
    m2 = block_sum(m2, sh);
    if (threadIdx.x == 0)
        part[((int64_t)n * gridDim.y + grp) * g.chunks + chunk] = make_float4(cnt, mean, m2, 0.0f);
}

/* (na, ma, qa) ← the merge of two sets' (count, mean, M2) (Chan, Golub &
 * LeVeque's pairwise update; no cancellation: M2s only add). */
__device__ __forceinline__ void chan_merge(double &na, double &ma, double &qa, double nb, double mb, double qb)
{
    if (nb == 0.0) return;
    if (na == 0.0) {
        na = nb, ma = mb, qa = qb;
        return;
    }
    const double n = na + nb, d = mb - ma;
    ma += d * (nb / n);
    qa += qb + d * d * (na * nb / n);
    na = n;
}

/* One warp per (sample, group) w = n·groups + g; kThreads threads = kWarps
 * warps per block. stats[w] = (K, mean − K, rstd). */
template <class T>
__global__ void __launch_bounds__(kThreads) gn_finalize(const T *x, const float4 *part, float4 *stats, gn_geom g,
                                                        int groups, int ng, float eps)
{
    const int w = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (w >= ng) return; /* the whole warp leaves together: the shuffles below stay full-warp */
    const float4 *p = part + (int64_t)w * g.chunks;
    double na = 0.0, ma = 0.0, qa = 0.0;
    for (int c = lane; c < g.chunks; c += 32) chan_merge(na, ma, qa, p[c].x, p[c].y, p[c].z);
    /* tree over lanes: lane i < o takes lane i + o; lane 0 ends with all 32,
     * in the same order every call (lanes ≥ o compute values nobody reads) */
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const double nb = __shfl_down_sync(0xffffffffu, na, o), mb = __shfl_down_sync(0xffffffffu, ma, o),
                     qb = __shfl_down_sync(0xffffffffu, qa, o);
        if (lane < o) chan_merge(na, ma, qa, nb, mb, qb);
    }
    if (lane == 0) {
        const double var = qa / na; /* na = S·cg ≥ 1 (numel > 0) */
        const float rstd = (float)(1.0 / sqrt(var + (double)eps));
        const float pivot = loom_dt::to_float(x[group_base(g, w / groups, w % groups)]);
        stats[w] = make_float4(pivot, (float)ma, rstd, 0.0f);
    }
}

/* grid (chunks, groups, N) as gn_partial. */
template <class T, int V, bool SILU>
__global__ void __launch_bounds__(kThreads) gn_apply(const T *x, const T *gamma, const T *beta, const float4 *stats,
                                                     T *y, gn_geom g)
{
    const int chunk = blockIdx.x, grp = blockIdx.y, n = blockIdx.z;
    const float4 st = stats[(int64_t)n * gridDim.y + grp];
    const int64_t base = group_base(g, n, grp);
    const int row0 = chunk * g.rpc, rows = min(g.rpc, g.S - row0);
    const int vpr = g.cg / V, nv = rows * vpr;
    const int c0 = grp * g.cg; /* the group's first channel */
    for (int v = threadIdx.x; v < nv; v += kThreads) {
        const int r = v / vpr, jv = v - r * vpr;
        const int64_t off = base + (int64_t)(row0 + r) * g.C + jv * V;
        float f[V], ga[V], be[V];
        load<V>(x + off, f);
        if (gamma) load<V>(gamma + c0 + jv * V, ga);
        else
            for (int k = 0; k < V; k++) ga[k] = 1.0f;
        if (beta) load<V>(beta + c0 + jv * V, be);
        else
            for (int k = 0; k < V; k++) be[k] = 0.0f;
#pragma unroll
        for (int k = 0; k < V; k++) {
            float o = fmaf((f[k] - st.x) - st.y, st.z * ga[k], be[k]); /* (x − μ)·(rstd·γ) + β */
            if (SILU) o = silu(o);
            f[k] = o;
        }
        store<V>(y + off, f);
    }
}

struct gn_call {
    const void *x, *gamma, *beta; /* the op's dtype: gn_launch<T> reads them as T */
    void *y;
    float4 *part, *stats;
    gn_geom g;
    int nb, groups;
    float eps;
    bool silu;
};

template <class T, int V> loom_status gn_launch(const gn_call &c)
{
    const T *x = (const T *)c.x, *gamma = (const T *)c.gamma, *beta = (const T *)c.beta;
    T *y = (T *)c.y;
    const dim3 grid((unsigned)c.g.chunks, (unsigned)c.groups, (unsigned)c.nb);
    gn_partial<T, V><<<grid, kThreads>>>(x, c.part, c.g); /* [N, groups, chunks] partials */
    LOOM_LAUNCH_CHECK("gn_partial");
    const int ng = c.nb * c.groups;
    const unsigned fin_blocks = (unsigned)(((int64_t)ng + kWarps - 1) / kWarps);
    gn_finalize<T><<<fin_blocks, kThreads>>>(x, c.part, c.stats, c.g, c.groups, ng, c.eps); /* [N, groups] stats */
    LOOM_LAUNCH_CHECK("gn_finalize");
    if (c.silu)
        gn_apply<T, V, true><<<grid, kThreads>>>(x, gamma, beta, c.stats, y, c.g);
    else
        gn_apply<T, V, false><<<grid, kThreads>>>(x, gamma, beta, c.stats, y, c.g);
    LOOM_LAUNCH_CHECK("gn_apply");
    return LOOM_OK;
}

loom_status check_affine(const char *name, const loom_tensor *t, int64_t c, const loom_tensor *x)
{
    if (!t) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_tensor("group_norm", name, t));
    LOOM_TRY(loom_cuda_check_same_dtype("group_norm", name, t, "x", x));
    return loom_cuda_check_shape("group_norm", name, t, 1, &c);
}

/* The launches for element type T: the widest vector cg and the pointers allow. */
template <class T> loom_status gn_run(const gn_call &call)
{
    switch (pick_vec(call.g.cg, call.x, call.y, call.gamma, call.beta)) {
    case 8: return gn_launch<T, 8>(call);
    case 4: return gn_launch<T, 4>(call);
    case 2: return gn_launch<T, 2>(call);
    default: return gn_launch<T, 1>(call);
    }
}

} // namespace

extern "C" loom_status loom_cuda_group_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                            loom_tensor *y, int groups, float eps, int fuse_silu)
{
    LOOM_NVTX_RANGE("cuda/group_norm");
    static const char op[] = "group_norm";
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    char xs[96];
    if (x->ndim < 2 || x->ndim > 4)
        return loom_fail(LOOM_E_INVALID, "group_norm: x is %s; expected 2 to 4 dims ([N, ..., C])",
                         loom_shape_str(x, xs, sizeof xs));
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, x->shape));
    const int64_t nb = x->shape[0], c = x->shape[x->ndim - 1];
    int64_t s = 1; /* spatial positions per sample */
    for (int i = 1; i + 1 < x->ndim; i++) s *= x->shape[i];
    if (groups < 1 || c % groups != 0)
        return loom_fail(LOOM_E_INVALID, "group_norm: %d groups do not divide the %lld channels of x %s", groups,
                         (long long)c, loom_shape_str(x, xs, sizeof xs));
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        return loom_fail(LOOM_E_INVALID, "group_norm: eps %g must be finite and >= 0", (double)eps);
    LOOM_TRY(check_affine("gamma", gamma, c, x));
    LOOM_TRY(check_affine("beta", beta, c, x));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 1));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "gamma", gamma, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "beta", beta, 0));
    if (loom_tensor_numel(x) == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "the spatial size", s));
    LOOM_TRY(loom_cuda_check_int(op, "the channel count", c));
    LOOM_TRY(loom_cuda_check_int(op, "N x groups", nb * groups));
    if (nb > 65535 || groups > 65535)
        return loom_fail(LOOM_E_UNSUPPORTED, "group_norm: N = %lld and groups = %d must be <= 65535 (grid limit)",
                         (long long)nb, groups);

    gn_call call;
    call.g.S = (int)s;
    call.g.C = (int)c;
    call.g.cg = (int)(c / groups);
    call.g.rpc = (int)((kChunkElems + call.g.cg - 1) / call.g.cg); /* ≥ 1 */
    call.g.chunks = (int)((s + call.g.rpc - 1) / call.g.rpc);
    call.nb = (int)nb;
    call.groups = groups;
    call.eps = eps;
    call.silu = fuse_silu != 0;
    call.x = x->data;
    call.y = y->data;
    call.gamma = gamma ? gamma->data : nullptr;
    call.beta = beta ? beta->data : nullptr;
    const size_t n_part = (size_t)nb * (size_t)groups * (size_t)call.g.chunks, n_stats = (size_t)nb * groups;
    void *scratch = nullptr;
    LOOM_TRY(gn_scratch((n_part + n_stats) * sizeof(float4), &scratch));
    call.part = (float4 *)scratch;
    call.stats = call.part + n_part;

    return LOOM_CUDA_DISPATCH(x->dtype, T, gn_run<T>(call));
}
