/* adapter_delta.cu — dense fp32 ΔW of a LoHa or LoKr term, for one extra GEMM per term (issue 5
 * item 2: "deltas built once per request into scratch and applied as an extra GEMM, never
 * written into the base weights"). Two entries, one pair of kernels:
 *   - loom_cuda_ad_term_delta (adapter_dense.h): once per request, sizes from the factors, into the
 *     term's `dense` buffer (adapters/plan_device.c);
 *   - loom_cuda_ad_build_delta (adapter_common.cuh): per op call, sizes from the module, into the
 *     op's scratch, for a term without `dense` (a hand-made device plan).
 * For a plan that fits its module both launch the same kernel with the same arguments: the
 * same bits. Layout: the target's, W [O, kh, kw, I] flattened to [O, K] with K = kh·kw·I and
 * column (p·kw + q)·I + i (kernels/adapter_plan.h).
 *
 * Every element is computed by one thread from f16 or bf16 factors (all of a term's in one dtype)
 * widened to fp32: a KRON element is a product of two 16-bit values, exact in fp32 (11- or 8-bit
 * significands); a HADA element sums r1 and r2 products in order (the
 * CPU reference's build_hada_dense order). Grid-stride loops over int64 element indices, 256
 * threads a block, consecutive threads on consecutive columns (coalesced factor reads). */
#include <cstdio>

#include "dtype.cuh"

#include "adapter_common.cuh"
#include "nvtx.h"

extern "C" {
#include "adapter_dense.h"
#include "cuda_check.h"
}

/* ΔW[o, e] = (Σ_a U1[o, a]·D1[a, e]) · (Σ_b U2[o, b]·D2[b, e]); D [r, K], U [O, r]. */
template <class T>
__global__ void loom_ad_hada_kernel(float *dw, const T *d1, const T *u1, const T *d2, const T *u2, int64_t o, int64_t k,
                                    int r1, int r2)
{
    const int64_t n = o * k;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = e / k, col = e - row * k;
        float s1 = 0.0f, s2 = 0.0f;
        for (int a = 0; a < r1; a++) s1 += loom_dt::to_float(u1[row * r1 + a]) * loom_dt::to_float(d1[a * k + col]);
        for (int b = 0; b < r2; b++) s2 += loom_dt::to_float(u2[row * r2 + b]) * loom_dt::to_float(d2[b * k + col]);
        dw[e] = s1 * s2;
    }
}

/* ΔW[o1·bd + o2, pq, i1·d + i2] = W1[o1, i1] · W2[o2, pq, i2]; W1 [a, c], W2 [bd, kk, d]. */
template <class T>
__global__ void loom_ad_kron_kernel(float *dw, const T *w1, const T *w2, int64_t o, int64_t kk, int64_t in, int64_t bd,
                                    int64_t c, int64_t d)
{
    const int64_t row_len = kk * in, n = o * row_len;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = e / row_len, col = e - row * row_len;
        const int64_t pq = col / in, i = col - pq * in;
        const int64_t o1 = row / bd, o2 = row - o1 * bd, i1 = i / d, i2 = i - i1 * d;
        dw[e] = loom_dt::to_float(w1[o1 * c + i1]) * loom_dt::to_float(w2[(o2 * kk + pq) * d + i2]);
    }
}

static unsigned grid_for(int64_t n)
{
    const int64_t blocks = (n + 255) / 256;
    return (unsigned)(blocks < 8192 ? (blocks ? blocks : 1) : 8192); /* the grid-stride loop covers the rest */
}

/* dw[O, K] = (up[O, r1]·down[r1, K]) ⊙ (up2[O, r2]·down2[r2, K]); the term's factors checked. */
static loom_status launch_hada(const loom_ad_term *t, int64_t o, int64_t k, float *dw)
{
    const int64_t n = o * k;
    if (n == 0) return LOOM_OK;
    LOOM_NVTX_RANGE("adapter/loha/delta");
    const int r1 = (int)t->down.shape[0], r2 = (int)t->down2.shape[0];
    if (t->down.dtype == LOOM_BF16) {
        typedef __nv_bfloat16 B;
        loom_ad_hada_kernel<B><<<grid_for(n), 256>>>(dw, (const B *)t->down.data, (const B *)t->up.data,
                                                     (const B *)t->down2.data, (const B *)t->up2.data, o, k, r1, r2);
    } else {
        typedef __half H;
        loom_ad_hada_kernel<H><<<grid_for(n), 256>>>(dw, (const H *)t->down.data, (const H *)t->up.data,
                                                     (const H *)t->down2.data, (const H *)t->up2.data, o, k, r1, r2);
    }
    LOOM_LAUNCH_CHECK("loom_ad_hada_kernel");
    return LOOM_OK;
}

/* dw[a·b, kk, c·d] = W1[a, c] ⊗ W2[b, kk, d], O = a·b, in = c·d; the term's factors checked. */
static loom_status launch_kron(const loom_ad_term *t, int64_t o, int64_t kk, int64_t in, float *dw)
{
    const int64_t n = o * kk * in;
    if (n == 0) return LOOM_OK;
    LOOM_NVTX_RANGE("adapter/lokr/delta");
    const int64_t a = t->down.shape[0], c = t->down.shape[1];
    if (t->down.dtype == LOOM_BF16)
        loom_ad_kron_kernel<__nv_bfloat16><<<grid_for(n), 256>>>(
            dw, (const __nv_bfloat16 *)t->down.data, (const __nv_bfloat16 *)t->up.data, o, kk, in, o / a, c, in / c);
    else
        loom_ad_kron_kernel<__half><<<grid_for(n), 256>>>(dw, (const __half *)t->down.data, (const __half *)t->up.data,
                                                          o, kk, in, o / a, c, in / c);
    LOOM_LAUNCH_CHECK("loom_ad_kron_kernel");
    return LOOM_OK;
}

/* The per-call build: sizes from the module (the plan checked against it). */
loom_status loom_cuda_ad_build_delta(const loom_cuda_ad_module *m, const loom_ad_term *t, float *dw)
{
    const int64_t kk = m->kh * m->kw;
    if (t->kind == LOOM_AD_HADA) return launch_hada(t, m->o, kk * m->in, dw);
    if (t->kind == LOOM_AD_KRON) return launch_kron(t, m->o, kk, m->in, dw);
    return loom_fail(LOOM_E_INVALID, "%s: no dense delta for a %s term", m->op, loom_ad_kind_name(t->kind));
}

/* A factor of a device plan: on the CUDA device, contiguous, in the term's factor dtype — down's
 * when that is bf16, else f16 (shape checked by the caller). */
static loom_status check_factor(const char *what, const loom_ad_term *t, const char *name, const loom_tensor *f)
{
    const loom_dtype want = t->down.dtype == LOOM_BF16 ? LOOM_BF16 : LOOM_F16;
    if (f->dtype != want || f->device != LOOM_CUDA || !loom_tensor_is_contiguous(f))
        return loom_fail(LOOM_E_INVALID,
                         "%s (%s): %s should be a contiguous %s tensor on the CUDA device; got %s on the %s", what,
                         loom_ad_kind_name(t->kind), name, loom_dtype_name(want), loom_dtype_name(f->dtype),
                         f->device == LOOM_CUDA ? "CUDA device" : "host");
    return LOOM_OK;
}

/* The once-per-request build (adapter_dense.h): sizes from the factors, which give the module's
 * when the plan fits it (adapter_check.cu), so the launch is the per-call build's, bit for bit. */
extern "C" loom_status loom_cuda_ad_term_delta(const loom_ad_term *t, const char *what, const loom_tensor *dw)
{
    loom_ad_dense_shape s;
    LOOM_TRY(loom_ad_term_dense_shape(t, what, &s));
    const int hada = t->kind == LOOM_AD_HADA;
    LOOM_TRY(check_factor(what, t, "down", &t->down));
    LOOM_TRY(check_factor(what, t, "up", &t->up));
    if (hada) {
        LOOM_TRY(check_factor(what, t, "down2", &t->down2));
        LOOM_TRY(check_factor(what, t, "up2", &t->up2));
    }
    char name[192];
    snprintf(name, sizeof name, "%s (%s)", what, loom_ad_kind_name(t->kind));
    if (!dw || !dw->data || dw->dtype != LOOM_F32 || dw->device != LOOM_CUDA || !loom_tensor_is_contiguous(dw))
        return loom_fail(LOOM_E_INVALID, "%s: the dense ΔW should be a contiguous f32 tensor on the CUDA device",
                         name);
    const int64_t want[2] = {s.o, s.k};
    LOOM_TRY(loom_cuda_check_shape(name, "the dense ΔW", dw, 2, want));
    const loom_tensor *f[4] = {&t->down, &t->up, &t->down2, &t->up2};
    static const char *const fn[4] = {"down", "up", "down2", "up2"};
    for (int i = 0; i < (hada ? 4 : 2); i++) LOOM_TRY(loom_cuda_check_alias(name, "the dense ΔW", dw, fn[i], f[i], 0));
    return hada ? launch_hada(t, s.o, s.k, (float *)dw->data) : launch_kron(t, s.o, s.kk, s.in, (float *)dw->data);
}
