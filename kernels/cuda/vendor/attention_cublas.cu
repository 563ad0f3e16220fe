/* attention_cublas.cu — the cuBLAS path of the vendor attention baseline
 * (loom_ops.attention and attention_causal, ops.h) and the argument checks
 * every vendor attention path shares. attention_cudnn.cu runs cuDNN's fused
 * attention first and comes here for the shapes cuDNN refuses. Per sample
 * and per chunk of heads:
 *   S = scale·Q·Kᵀ   cublasGemmStridedBatchedEx, f16/bf16 in, fp32 scores;
 *   P = softmax(S)   one block per row, fp32 max/sum, P stored as the I/O type;
 *   O = P·V          cublasGemmStridedBatchedEx, fp32 accumulate, f16/bf16 out.
 * The I/O type is q's (k, v, o share it): f16 or bf16.
 * Heads are the batch: head h of q[B,S,H·D] is the S×D submatrix at column
 * offset h·D with row stride H·D, so consecutive heads are D elements apart.
 * Scores are materialised (Sq·Sk·6 bytes per head: 96 MiB at 4096 tokens);
 * heads are chunked to keep the scratch near kScratch. Any head dim works,
 * which is why it is the fallback (the VAE's single 512-wide head). */
#include <cfloat>
#include <cmath>

#include "dtype.cuh"

#include "nvtx.h"
#include "vendor.h"

namespace {

constexpr size_t kScratch = size_t(256) << 20;
constexpr int kThreads = 256;

__device__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* All threads get the block's reduction; red has one slot per warp. */
template <bool kMax> __device__ float block_reduce(float v, float *red)
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = kMax ? warp_max(v) : warp_sum(v);
    if (lane == 0) red[wid] = v;
    __syncthreads();
    float r = lane < (int)(blockDim.x >> 5) ? red[lane] : (kMax ? -FLT_MAX : 0.0f);
    r = kMax ? warp_max(r) : warp_sum(r);
    __syncthreads(); /* red is reused by the next reduction */
    return r;
}

/* Row r of s (r = head_in_chunk·sq + i) → row r of p. Causal: query i sees
 * keys j ≤ i (top-left aligned, as the CPU op and torch's is_causal). */
template <class T>
__global__ void __launch_bounds__(kThreads) softmax_rows_kernel(const float *s, T *p, int sq, int sk, int causal)
{
    __shared__ float red[32];
    const size_t r = blockIdx.x;
    const float *row = s + r * (size_t)sk;
    T *prow = p + r * (size_t)sk;
    const int i = (int)(r % (size_t)sq);
    const int lim = causal ? min(sk, i + 1) : sk;
    float m = -FLT_MAX;
    for (int j = threadIdx.x; j < lim; j += blockDim.x) m = fmaxf(m, row[j]);
    m = block_reduce<true>(m, red);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < lim; j += blockDim.x) sum += expf(row[j] - m);
    sum = block_reduce<false>(sum, red);
    const float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < sk; j += blockDim.x)
        prow[j] = loom_dt::from_float<T>(j < lim ? expf(row[j] - m) * inv : 0.0f);
}

} // namespace

loom_status loom_vendor_attention_check(const char *op, const loom_tensor *q, const loom_tensor *k,
                                        const loom_tensor *v, const loom_tensor *o, int heads, float scale,
                                        loom_vendor_attn_dims *dims)
{
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
    *dims = loom_vendor_attn_dims{b, sq, sk, heads, hd / heads, hdv / heads, scale, 0};
    if (b == 0 || sq == 0 || hdv == 0) {
        dims->empty = 1;
        return LOOM_OK;
    }
    if (sk == 0) return loom_fail(LOOM_E_INVALID, "%s: no keys (k is [%lld, 0, %lld])", op, (long long)b, (long long)hd);
    LOOM_TRY(loom_cuda_check_int(op, "Sq", sq));
    LOOM_TRY(loom_cuda_check_int(op, "Sk", sk));
    LOOM_TRY(loom_cuda_check_int(op, "H*D", hd));
    LOOM_TRY(loom_cuda_check_int(op, "H*Dv", hdv));
    if (!(scale > 0.0f)) dims->scale = (float)(1.0 / sqrt((double)dims->d)); /* as the CPU op */
    return LOOM_OK;
}

loom_status loom_vendor_attention_cublas(const char *op, const loom_vendor_attn_dims *s, const loom_tensor *q,
                                         const loom_tensor *k, const loom_tensor *v, loom_tensor *o, int causal)
{
    LOOM_NVTX_RANGE("vendor/attention_cublas");
    const int64_t b = s->b, sq = s->sq, sk = s->sk, heads = s->heads, d = s->d, dv = s->dv;
    const int64_t hd = heads * d, hdv = heads * dv;
    const float scale = s->scale;
    const bool bf16 = q->dtype == LOOM_BF16;
    const cudaDataType_t io = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const size_t esz = loom_dtype_size(q->dtype); /* 2 */
    const size_t per_head = (size_t)sq * (size_t)sk * (sizeof(float) + esz);
    int64_t chunk = (int64_t)(kScratch / per_head);
    chunk = chunk < 1 ? 1 : (chunk > heads ? heads : chunk);
    LOOM_TRY(loom_cuda_check_int(op, "rows of a head chunk", chunk * sq));
    void *ws;
    LOOM_TRY(loom_vendor_workspace(per_head * (size_t)chunk, &ws));
    float *scores = (float *)ws;
    void *probs = scores + (size_t)chunk * sq * sk; /* after the f32 scores: 4-byte aligned */
    cublasHandle_t h;
    LOOM_TRY(loom_vendor_cublas(&h));
    const float one = 1.0f, zero = 0.0f;
    const long long s_stride = (long long)sq * sk;
    for (int64_t bi = 0; bi < b; bi++)
        for (int64_t h0 = 0; h0 < heads; h0 += chunk) {
            const int hc = (int)(heads - h0 < chunk ? heads - h0 : chunk);
            const char *qb = (const char *)q->data + (size_t)(bi * sq * hd + h0 * d) * esz;
            const char *kb = (const char *)k->data + (size_t)(bi * sk * hd + h0 * d) * esz;
            const char *vb = (const char *)v->data + (size_t)(bi * sk * hdv + h0 * dv) * esz;
            char *ob = (char *)o->data + (size_t)(bi * sq * hdv + h0 * dv) * esz;
            // Sᵀ[Sk,Sq] per head = K_h (OP_T of its D×Sk view) · Q_hᵀ[D,Sq]; fp32 out
            CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)sk, (int)sq, (int)d, &scale, kb, io,
                                                    (int)hd, d, qb, io, (int)hd, d, &zero, scores,
                                                    CUDA_R_32F, (int)sk, s_stride, hc, CUBLAS_COMPUTE_32F,
                                                    CUBLAS_GEMM_DEFAULT));
            if (bf16)
                softmax_rows_kernel<__nv_bfloat16><<<(unsigned)(hc * sq), kThreads>>>(
                    scores, (__nv_bfloat16 *)probs, (int)sq, (int)sk, causal);
            else
                softmax_rows_kernel<__half><<<(unsigned)(hc * sq), kThreads>>>(scores, (__half *)probs, (int)sq,
                                                                               (int)sk, causal);
            LOOM_LAUNCH_CHECK("softmax_rows_kernel");
            // Oᵀ[Dv,Sq] per head = V_hᵀ[Dv,Sk] · Pᵀ[Sk,Sq]
            CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)dv, (int)sq, (int)sk, &one, vb, io,
                                                    (int)hdv, dv, probs, io, (int)sk, s_stride, &zero, ob, io,
                                                    (int)hdv, dv, hc, CUBLAS_COMPUTE_32F,
                                                    CUBLAS_GEMM_DEFAULT));
        }
    return LOOM_OK;
}

