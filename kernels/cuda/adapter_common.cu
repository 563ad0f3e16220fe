/* adapter_common.cu — the driver of the CUDA linear_adapted / conv2d_adapted (adapter_common.cuh).
 *
 * The CPU reference's structure (kernels/cpu/adapter_common.c) on the GPU, correctness first:
 *   - samples whose group changes nothing run the backend's plain op, in runs of consecutive
 *     such samples (the plain op is batch-invariant, ops.h, so a run equals its samples alone);
 *   - every other group takes each LoHa/LoKr term's fp32 ΔW from the term's `dense`, built once
 *     per request by adapters/plan_device.c (adapter_plan.h "Precomputed ΔW"), or, for a term
 *     without one (a hand-made plan), builds it once per call into fp32 scratch (the same
 *     kernel, adapter_delta.cu: the same bits either way); then it runs over runs of
 *     consecutive samples of the group: base = out_scale ⊙ (W ⊛ (in_scale ⊙ x))
 *     stored into an fp32 sum [run rows, O], each term added to it in fp32 (LoRA/LoCon as
 *     h = down ⊛ (t.in_scale ⊙ x), then sum += scale·t.out_scale ⊙ (h·upᵀ); the others as one
 *     GEMM/conv with ΔW), and one combine kernel that adds bias, bias_add and the residual and
 *     rounds once to x's dtype (f16 or bf16; W, bias, residual, y and the factors share it).
 *     Every GEMM sums each element in a fixed k order whatever the run's
 *     length (adapter_gemm.cu), so a sample's bits depend only on its input and its group.
 * Per-sample scales come from the group: one batch mixes adapter sets (issue 5 item 2).
 * Scratch: one grow-only device buffer (the vendor workspace's pattern: sync before freeing
 * the smaller one), sized before anything is queued, so a refused allocation writes nothing.
 * y may alias the residual: the combine reads an element's residual and writes its y in the
 * same thread, and no other kernel reads the residual.
 * Run on an H100 (2026-11-27): tests/ops/test_adapter_ops_gpu.c and random cases with tile tails
 * up to SD's shapes gave 1.0–1.4 f16 rounding floors against the CPU op on the same f16 inputs,
 * every sample alone bit for bit, compute-sanitizer memcheck and racecheck clean. */
#include <cstring>

#include "dtype.cuh"

#include "adapter_common.cuh"
#include "nvtx.h"

extern "C" {
#include "cuda_check.h"
}

#define AD_ALIGN 256
#ifndef AD_RUN_BYTES /* overridable so that a check build can force runs of one sample */
#define AD_RUN_BYTES ((size_t)256 << 20) /* the fp32 sum and h of one run; a run holds >= 1 sample */
#endif

static void *g_ws;
static size_t g_ws_bytes;

static loom_status workspace(size_t bytes, void **out)
{
    if (bytes > g_ws_bytes) {
        CUDA_CHECK(cudaDeviceSynchronize()); /* queued work may still use the old buffer */
        CUDA_CHECK(cudaFree(g_ws));
        g_ws = nullptr;
        g_ws_bytes = 0;
        const cudaError_t e = cudaMalloc(&g_ws, bytes);
        if (e != cudaSuccess) {
            (void)cudaGetLastError(); /* clear a sticky allocation error so later calls work */
            g_ws = nullptr;
            return loom_fail(e == cudaErrorMemoryAllocation ? LOOM_E_NOMEM : LOOM_E_DEVICE,
                             "cudaMalloc of %zu bytes of adapter scratch failed: %s", bytes, cudaGetErrorString(e));
        }
        g_ws_bytes = bytes;
    }
    *out = g_ws;
    return LOOM_OK;
}

/* y[e] = T(sum[e] + bias[c] + bias_add[c] + residual[e]), c = e mod O, in the CPU op's order
 * (adapters.md §6.0: the bias after every scaling, the residual last); T = x's dtype. */
template <class T>
__global__ void loom_ad_combine_kernel(T *y, const float *sum, const T *bias, const float *bias_add, const T *res,
                                       int64_t n, int64_t o)
{
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e % o;
        float v = sum[e];
        if (bias) v += loom_dt::to_float(bias[c]);
        if (bias_add) v += bias_add[c];
        if (res) v += loom_dt::to_float(res[e]);
        y[e] = loom_dt::from_float<T>(v);
    }
}

static unsigned grid_for(int64_t n)
{
    const int64_t blocks = (n + 255) / 256;
    return (unsigned)(blocks < 8192 ? (blocks ? blocks : 1) : 8192);
}

/* a·b floats in bytes, rounded up to AD_ALIGN */
static loom_status floats_bytes(const char *op, int64_t a, int64_t b, size_t *out)
{
    if (a < 0 || b < 0 || (a > 0 && b > (int64_t)(SIZE_MAX / 2 / sizeof(float)) / a))
        return loom_fail(LOOM_E_NOMEM, "%s: scratch of %lld x %lld floats is too large", op, (long long)a,
                         (long long)b);
    const size_t n = (size_t)a * (size_t)b * sizeof(float);
    *out = (n + AD_ALIGN - 1) / AD_ALIGN * AD_ALIGN;
    return LOOM_OK;
}

static loom_status add_bytes(const char *op, size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) return loom_fail(LOOM_E_NOMEM, "%s: adapter scratch is too large", op);
    *out = a + b;
    return LOOM_OK;
}

static int builds_delta(const loom_ad_term *t) { return t->kind == LOOM_AD_HADA || t->kind == LOOM_AD_KRON; }

/* A LoHa/LoKr term without a precomputed ΔW: this call builds it into a scratch slot. */
static int scratch_delta(const loom_ad_term *t) { return builds_delta(t) && !t->dense.data; }

/* Sample i changes nothing: no group, or an empty one. */
static int sample_plain(const loom_ad_plan *plan, int i)
{
    const loom_ad_plan one = {1, &plan->group_of[i], plan->n_groups, plan->groups};
    return loom_ad_plan_is_empty(&one);
}

/* Group g changes something and some sample uses it. */
static int group_runs(const loom_ad_plan *plan, int g)
{
    const loom_ad_plan one = {1, &g, plan->n_groups, plan->groups};
    if (loom_ad_plan_is_empty(&one)) return 0;
    for (int i = 0; i < plan->batch; i++)
        if (plan->group_of[i] == g) return 1;
    return 0;
}

typedef struct ad_scratch {
    unsigned char *base; /* [per-call ΔWs of one group][sum: run_cap·rows·O][h: run_cap·rows·rmax] */
    size_t sum_off, h_off;
    int64_t run_cap;
} ad_scratch;

/* Sizes the scratch for every group the batch uses and gets it (nothing queued yet). */
static loom_status plan_scratch(const loom_cuda_ad_module *m, const loom_ad_plan *plan, ad_scratch *s)
{
    const int64_t rows = m->oh * m->ow, k = m->kh * m->kw * m->in;
    size_t delta_max = 0;
    int64_t rmax = 0;
    int any = 0;
    for (int g = 0; g < plan->n_groups; g++) {
        if (!group_runs(plan, g)) continue;
        any = 1;
        const loom_ad_group *grp = &plan->groups[g];
        size_t d = 0, b = 0;
        for (int j = 0; j < grp->n_terms; j++) {
            const loom_ad_term *t = &grp->terms[j];
            if (scratch_delta(t)) {
                LOOM_TRY(floats_bytes(m->op, m->o, k, &b));
                LOOM_TRY(add_bytes(m->op, d, b, &d));
            }
            if (t->kind == LOOM_AD_LOWRANK && t->down.shape[0] > rmax) rmax = t->down.shape[0];
        }
        if (d > delta_max) delta_max = d;
    }
    memset(s, 0, sizeof *s);
    if (!any) return LOOM_OK;
    size_t per_sum = 0, per_h = 0, sum_bytes = 0, h_bytes = 0, total = 0;
    LOOM_TRY(floats_bytes(m->op, rows, m->o, &per_sum));
    LOOM_TRY(floats_bytes(m->op, rows, rmax, &per_h));
    const size_t per = per_sum + per_h; /* each < SIZE_MAX/2 */
    s->run_cap = per ? (int64_t)(AD_RUN_BYTES / per) : m->batch;
    if (s->run_cap > m->batch) s->run_cap = m->batch;
    if (s->run_cap < 1) s->run_cap = 1;
    LOOM_TRY(floats_bytes(m->op, s->run_cap * rows, m->o, &sum_bytes)); /* run_cap·rows <= batch·rows <= INT_MAX */
    LOOM_TRY(floats_bytes(m->op, s->run_cap * rows, rmax, &h_bytes));
    LOOM_TRY(add_bytes(m->op, delta_max, sum_bytes, &total));
    LOOM_TRY(add_bytes(m->op, total, h_bytes, &total));
    void *ws = nullptr;
    LOOM_TRY(workspace(total ? total : AD_ALIGN, &ws));
    s->base = (unsigned char *)ws;
    s->sum_off = delta_max;
    s->h_off = delta_max + sum_bytes;
    return LOOM_OK;
}

/* A of the module's GEMMs over n samples from sample i0: x's rows (linear) or NHWC images (conv),
 * times `scale` per input channel (exact for conv too: padding zeros stay zero, §6.6). */
static loom_ad_gemm module_gemm(const loom_cuda_ad_module *m, int64_t i0, int64_t n, const float *scale)
{
    loom_ad_gemm g;
    memset(&g, 0, sizeof g);
    const int64_t in_per = m->ih * m->iw * m->in;
    const void *x0 = (const unsigned char *)m->x->data + (size_t)(i0 * in_per) * loom_dtype_size(m->x->dtype);
    if (m->is_conv) {
        g.a = x0, g.a_type = m->x->dtype;
        g.ih = m->ih, g.iw = m->iw, g.cin = m->in, g.kh = m->kh, g.kw = m->kw, g.oh = m->oh, g.ow = m->ow;
        g.stride_h = m->p.stride_h, g.stride_w = m->p.stride_w, g.pad_h = m->p.pad_h, g.pad_w = m->p.pad_w;
    } else {
        loom_cuda_ad_gemm_matrix(&g, x0, m->x->dtype, n * m->oh, m->in);
    }
    g.a_scale = scale;
    g.m = n * m->oh * m->ow;
    g.alpha = 1.0f;
    return g;
}

/* Term j's (HADA/KRON) dense ΔW f32 [O, K]: its precomputed `dense`, else its scratch slot. The
 * per-call ΔWs of a group sit at s->base in term order, one slot of O·K floats (AD_ALIGN-padded)
 * per term without `dense`, as plan_scratch sized them; loom_cuda_ad_run builds into the slot this
 * returns and run_samples reads from it. */
static loom_status delta_of(const loom_cuda_ad_module *m, const loom_ad_group *grp, const ad_scratch *s, int j,
                            float **out)
{
    if (grp->terms[j].dense.data) {
        *out = (float *)grp->terms[j].dense.data;
        return LOOM_OK;
    }
    size_t db = 0, slot = 0;
    LOOM_TRY(floats_bytes(m->op, m->o, m->kh * m->kw * m->in, &db));
    for (int i = 0; i < j; i++) slot += (size_t)scratch_delta(&grp->terms[i]);
    *out = (float *)(s->base + slot * db); /* slot·db ≤ plan_scratch's delta bytes: no overflow */
    return LOOM_OK;
}

/* Samples [i0, i0 + n) of group grp, its per-call ΔWs built in the scratch. */
static loom_status run_samples(const loom_cuda_ad_module *m, const loom_ad_group *grp, const ad_scratch *s,
                               int64_t i0, int64_t n)
{
    const int64_t rows = n * m->oh * m->ow, out_per = m->oh * m->ow * m->o;
    const loom_dtype dt = m->x->dtype; /* of x, W, bias, residual, y and the factors (checked) */
    float *sum = (float *)(s->base + s->sum_off), *h = (float *)(s->base + s->h_off);
    {
        LOOM_NVTX_RANGE("adapter/base");
        // sum[rows, O] = out_scale ⊙ (W[O, K] ⊛ (in_scale ⊙ x))
        loom_ad_gemm g = module_gemm(m, i0, n, (const float *)grp->in_scale.data);
        g.b = m->weight->data, g.b_type = dt, g.c = sum, g.n_cols = m->o;
        g.col_scale = (const float *)grp->out_scale.data, g.accumulate = 0;
        LOOM_TRY(loom_cuda_ad_gemm(&g));
    }
    for (int j = 0; j < grp->n_terms; j++) {
        const loom_ad_term *t = &grp->terms[j];
        loom_ad_gemm g = module_gemm(m, i0, n, (const float *)t->in_scale.data);
        if (t->kind == LOOM_AD_LOWRANK) {
            LOOM_NVTX_RANGE("adapter/lora");
            const int64_t r = t->down.shape[0];
            // h[rows, r] = down[r, kh, kw, I] ⊛ (t.in_scale ⊙ x)   (a conv with the module's geometry)
            g.b = t->down.data, g.b_type = dt, g.c = h, g.n_cols = r, g.accumulate = 0;
            LOOM_TRY(loom_cuda_ad_gemm(&g));
            // sum[rows, O] += scale·t.out_scale ⊙ (h[rows, r]·up[O, r]ᵀ)   (up as a 1×1 conv)
            loom_ad_gemm u;
            memset(&u, 0, sizeof u);
            loom_cuda_ad_gemm_matrix(&u, h, LOOM_F32, rows, r);
            u.b = t->up.data, u.b_type = dt, u.c = sum, u.m = rows, u.n_cols = m->o;
            u.col_scale = (const float *)t->out_scale.data, u.alpha = t->scale, u.accumulate = 1;
            LOOM_TRY(loom_cuda_ad_gemm(&u));
            continue;
        }
        LOOM_NVTX_RANGE("adapter/delta_apply");
        if (builds_delta(t)) { /* ΔW f32 [O, K], precomputed or built for this call */
            float *dw = nullptr;
            LOOM_TRY(delta_of(m, grp, s, j, &dw));
            g.b = dw, g.b_type = LOOM_F32;
        } else { /* DENSE: down is ΔW, in x's dtype */
            g.b = t->down.data, g.b_type = dt;
        }
        // sum[rows, O] += scale·t.out_scale ⊙ (ΔW[O, kh, kw, I] ⊛ (t.in_scale ⊙ x))
        g.c = sum, g.n_cols = m->o, g.col_scale = (const float *)t->out_scale.data, g.alpha = t->scale;
        g.accumulate = 1;
        LOOM_TRY(loom_cuda_ad_gemm(&g));
    }
    LOOM_NVTX_RANGE("adapter/combine");
    const int64_t ne = rows * m->o;
    const size_t off = (size_t)(i0 * out_per) * loom_dtype_size(dt);
    void *y0 = (unsigned char *)m->y->data + off;
    const void *r0 = m->residual ? (const unsigned char *)m->residual->data + off : nullptr;
    const void *bias = m->bias ? m->bias->data : nullptr;
    const float *bias_add = (const float *)grp->bias_add.data;
    // y[rows, O] = T(sum + bias + bias_add + residual)
    if (dt == LOOM_BF16)
        loom_ad_combine_kernel<__nv_bfloat16><<<grid_for(ne), 256>>>(
            (__nv_bfloat16 *)y0, sum, (const __nv_bfloat16 *)bias, bias_add, (const __nv_bfloat16 *)r0, ne, m->o);
    else
        loom_ad_combine_kernel<__half><<<grid_for(ne), 256>>>((__half *)y0, sum, (const __half *)bias, bias_add,
                                                              (const __half *)r0, ne, m->o);
    LOOM_LAUNCH_CHECK("loom_ad_combine_kernel");
    return LOOM_OK;
}

/* t's samples [i0, i0 + n) as a tensor of its own (t itself when that is all of it). */
static loom_tensor samples_of(const loom_tensor *t, int64_t batch, int64_t i0, int64_t n)
{
    loom_tensor v = *t;
    if (i0 == 0 && n == batch) return v;
    const int64_t per = loom_tensor_numel(t) / batch; /* batch >= n >= 1 here */
    v.shape[0] = n; /* contiguous strides do not involve the leading extent */
    v.data = (unsigned char *)t->data + (size_t)(i0 * per) * loom_dtype_size(t->dtype);
    return v;
}

loom_status loom_cuda_ad_plain(int is_conv, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p)
{
    if (is_conv) {
        if (!loom_ops_cuda.conv2d) return loom_op_missing(&loom_ops_cuda, "conv2d");
        return loom_ops_cuda.conv2d(x, w, bias, residual, y, p);
    }
    if (!loom_ops_cuda.linear) return loom_op_missing(&loom_ops_cuda, "linear");
    return loom_ops_cuda.linear(x, w, bias, residual, y);
}

static loom_status plain_run(const loom_cuda_ad_module *m, int64_t i0, int64_t n)
{
    const loom_tensor xv = samples_of(m->x, m->batch, i0, n);
    loom_tensor yv = samples_of(m->y, m->batch, i0, n), rv;
    if (m->residual) rv = samples_of(m->residual, m->batch, i0, n);
    return loom_cuda_ad_plain(m->is_conv, &xv, m->weight, m->bias, m->residual ? &rv : nullptr, &yv, &m->p);
}

loom_status loom_cuda_ad_run(const loom_cuda_ad_module *m, const loom_ad_plan *plan)
{
    ad_scratch s;
    LOOM_TRY(plan_scratch(m, plan, &s));
    /* A sample whose group changes nothing gets the plain op's bits: an image whose set does not
     * touch this module must get what it gets alone, where the plan is empty. */
    for (int i = 0; i < plan->batch;) {
        if (!sample_plain(plan, i)) {
            i++;
            continue;
        }
        int j = i + 1;
        while (j < plan->batch && sample_plain(plan, j)) j++;
        LOOM_TRY(plain_run(m, i, j - i));
        i = j;
    }
    for (int g = 0; g < plan->n_groups; g++) {
        if (!group_runs(plan, g)) continue;
        const loom_ad_group *grp = &plan->groups[g];
        for (int j = 0; j < grp->n_terms; j++) /* the ΔWs not precomputed, in the slots run_samples reads */
            if (scratch_delta(&grp->terms[j])) {
                float *dw = nullptr;
                LOOM_TRY(delta_of(m, grp, &s, j, &dw));
                LOOM_TRY(loom_cuda_ad_build_delta(m, &grp->terms[j], dw));
            }
        for (int i = 0; i < plan->batch;) {
            if (plan->group_of[i] != g) {
                i++;
                continue;
            }
            int j = i + 1;
            while (j < plan->batch && plan->group_of[j] == g && j - i < s.run_cap) j++;
            LOOM_TRY(run_samples(m, grp, &s, i, j - i));
            i = j;
        }
    }
    return LOOM_OK;
}
