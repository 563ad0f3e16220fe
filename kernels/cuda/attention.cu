/* attention.cu — loom's own fused attention for loom_ops.attention and
 * attention_causal (ops.h): o = softmax(q·kᵀ·scale)·v per head, the scores
 * never leave the chip (the vendor path, vendor/attention_cublas.cu,
 * materialises them). The kernel is attention_tile.cuh (lab variant 1,
 * kernels/dev/attention.cu): flash-style, fp32 online softmax, f16 or bf16
 * mma.sync (q's dtype; k, v, o must share it).
 *
 * Tensor-core path: head dim D = Dv ∈ {40, 64, 80, 160} (SD1.x 40/80/160,
 * SD2.x and SDXL 64), any Sq, any Sk ≥ 1, B·H ≤ 65535, and q, k, v, o
 * starting on 16-byte boundaries (cp.async and 16-byte stores; D % 8 == 0
 * keeps every head's row start aligned after that). Other head dims and
 * unaligned views go to attention_generic.cu (any D ≤ 512, slow but exact
 * in the same sense); D ≠ Dv is LOOM_E_UNSUPPORTED. Arguments are checked
 * as the vendor op checks them. No allocation, no host sync. */
#include <climits>
#include <cmath>

#include "attention_generic.h"
#include "attention_tile.cuh"
#include "nvtx.h"

extern "C" {
#include "cuda_check.h"
#include "cuda_ops.h"
}

namespace {

/* One launch of flash_kernel<T, D, MT> over o[B,Sq,H·D]; raises its dynamic
 * shared-memory limit once per process (one host thread drives the GPU, as
 * everywhere in the backend). */
template <class T, int D, int MT> loom_status launch(const loom_attn::params &p, int64_t bh)
{
    using C = loom_attn::tile_cfg<D, MT>;
    static bool attr_set = false;
    if (C::kSmemBytes > 48 * 1024 && !attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(loom_attn::flash_kernel<T, D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)C::kSmemBytes));
        attr_set = true;
    }
    const dim3 grid((unsigned)(((int64_t)p.sq + C::kBlockM - 1) / C::kBlockM), (unsigned)bh);
    loom_attn::flash_kernel<T, D, MT><<<grid, loom_attn::kThreads, C::kSmemBytes>>>(p);
    LOOM_LAUNCH_CHECK("flash_kernel");
    return LOOM_OK;
}

/* MT = 16-row query tiles per warp; the lab's H200 timings chose these (kernels/dev/attention.cu) */
template <class T> loom_status launch_d(const loom_attn::params &p, int64_t d, int64_t bh)
{
    switch (d) {
    case 40: return launch<T, 40, 2>(p, bh);
    case 64: return launch<T, 64, 1>(p, bh);
    case 80: return launch<T, 80, 1>(p, bh);
    default: return launch<T, 160, 1>(p, bh);
    }
}

loom_status attention_impl(const char *op, const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                           loom_tensor *o, int heads, float scale, int causal)
{
    /* the vendor op's checks (vendor/attention_cublas.cu), in its order */
    LOOM_TRY(loom_cuda_check_tensor(op, "q", q));
    LOOM_TRY(loom_cuda_check_tensor(op, "k", k));
    LOOM_TRY(loom_cuda_check_tensor(op, "v", v));
    LOOM_TRY(loom_cuda_check_tensor(op, "o", o));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "k", k, "q", q));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "v", v, "q", q));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "o", o, "q", q));
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return loom_fail(LOOM_E_INVALID, "%s: q, k, v must be [B, S, H*D]", op);
    if (heads < 1) return loom_fail(LOOM_E_INVALID, "%s: %d heads", op, heads);
    const int64_t b = q->shape[0], sq = q->shape[1], sk = k->shape[1], hd = q->shape[2], hdv = v->shape[2];
    if (hd % heads || hdv % heads)
        return loom_fail(LOOM_E_INVALID, "%s: %d heads do not divide q's %lld or v's %lld channels", op, heads,
                         (long long)hd, (long long)hdv);
    const int64_t kshape[3] = {b, sk, hd}, vshape[3] = {b, sk, hdv}, oshape[3] = {b, sq, hdv};
    LOOM_TRY(loom_cuda_check_shape(op, "k", k, 3, kshape));
    LOOM_TRY(loom_cuda_check_shape(op, "v", v, 3, vshape));
    LOOM_TRY(loom_cuda_check_shape(op, "o", o, 3, oshape));
    LOOM_TRY(loom_cuda_check_alias(op, "o", o, "q", q, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "o", o, "k", k, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "o", o, "v", v, 0));
    if (b == 0 || sq == 0 || hdv == 0) return LOOM_OK;
    if (sk == 0) return loom_fail(LOOM_E_INVALID, "%s: no keys (k is [%lld, 0, %lld])", op, (long long)b, (long long)hd);
    const int64_t d = hd / heads, dv = hdv / heads;
    LOOM_TRY(loom_cuda_check_int(op, "Sq", sq));
    LOOM_TRY(loom_cuda_check_int(op, "Sk", sk));
    LOOM_TRY(loom_cuda_check_int(op, "H*D", hd));
    LOOM_TRY(loom_cuda_check_int(op, "H*Dv", hdv));

    /* this kernel's own limits */
    if (dv != d)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: head dims D = %lld and Dv = %lld differ; loom's kernels need D == Dv",
                         op, (long long)d, (long long)dv);
    if (!(scale > 0.0f)) scale = (float)(1.0 / sqrt((double)d)); /* as the CPU op */
    const bool aligned = ((uintptr_t)q->data | (uintptr_t)k->data | (uintptr_t)v->data | (uintptr_t)o->data) % 16 == 0;
    /* the generic kernel takes any D ≤ 512 and any 2-byte alignment (its own limits and messages) */
    if (!aligned || (d != 40 && d != 64 && d != 80 && d != 160)) {
        const loom_attention_dims a = {q->data, k->data, v->data, o->data, b, sq, sk, heads, d, q->dtype};
        return loom_cuda_attention_generic(&a, scale, causal);
    }
    if (b * heads > 65535)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: B*H = %lld exceeds the grid's 65535", op, (long long)(b * heads));
    if (sq > INT_MAX - 256 || sk > INT_MAX - 256) /* the kernel's int row indices run a tile past S */
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: Sq = %lld or Sk = %lld is too close to INT_MAX", op, (long long)sq,
                         (long long)sk);

    loom_attn::params p;
    p.q = (const uint16_t *)q->data;
    p.k = (const uint16_t *)k->data;
    p.v = (const uint16_t *)v->data;
    p.o = (uint16_t *)o->data;
    p.sq = (int)sq;
    p.sk = (int)sk;
    p.heads = heads;
    p.ld = (int)hd;
    p.scale_log2 = scale * 1.44269504088896340736f; /* log2(e) */
    p.causal = causal;
    // o[B,Sq,H·D] = softmax(q[B,Sq,H·D]·k[B,Sk,H·D]ᵀ per head)·v[B,Sk,H·D]
    if (q->dtype == LOOM_BF16) return launch_d<__nv_bfloat16>(p, d, b * heads);
    return launch_d<__half>(p, d, b * heads);
}

} // namespace

loom_status loom_cuda_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                                int heads, float scale)
{
    LOOM_NVTX_RANGE("cuda/attention");
    return attention_impl("attention", q, k, v, o, heads, scale, 0);
}

loom_status loom_cuda_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                       loom_tensor *o, int heads, float scale)
{
    LOOM_NVTX_RANGE("cuda/attention_causal");
    return attention_impl("attention_causal", q, k, v, o, heads, scale, 1);
}
