/* plan_factors.c — one module's factors as a loom_ad_term in the backend layout of its target
 * (kernels/adapter_plan.h): adapter files store PyTorch layouts (conv OIHW, a 1×1 factor 2-D or
 * 4-D, §7 item 16), the ops take OHWI. Tucker cores are folded into the downs (§6.3, §6.4),
 * LoKr's decomposed factors multiplied out (§6.5). The shapes were validated by the parser
 * (adapter_check.c), so only the copies' sizes are computed here. */
#include <stdlib.h>
#include <string.h>

#include "adapter_check.h"
#include "plan_internal.h"

#define F(role) (&m->f[LOOM_AR_##role])
#define HAS(role) (m->f[LOOM_AR_##role].data != NULL)

void loom_plan_geom_of(const loom_keymap_row *r, loom_plan_geom *g)
{
    g->o = r->shape[0];
    g->i = r->shape[1];
    g->conv = r->ndim == 4;
    g->kh = g->conv ? r->shape[2] : 1;
    g->kw = g->conv ? r->shape[3] : 1;
    g->k = g->kh * g->kw;
    g->cols = g->k * g->i;
}

/* out[M, N] = op(A) · B with op(A) = A [M, K], or Aᵀ for A stored [K, M]. Row-major i-k-j order so
 * the inner loop runs over contiguous rows of B and out. */
static void matmul(const float *restrict a, int a_trans, const float *restrict b, int64_t mm, int64_t kk, int64_t nn,
                   float *restrict out)
{
    memset(out, 0, (size_t)(mm * nn) * sizeof *out);
    for (int64_t i = 0; i < mm; i++)
        for (int64_t k = 0; k < kk; k++) {
            float av = a_trans ? a[k * mm + i] : a[i * kk + k];
            const float *restrict br = b + k * nn;
            float *restrict orow = out + i * nn;
            for (int64_t j = 0; j < nn; j++) orow[j] += av * br[j];
        }
}

/* [n, c, K] (PyTorch: channels before the kernel) → [n, K, c] (backend: channels last). */
static void to_channels_last(const float *src, int64_t n, int64_t c, int64_t kk, float *dst)
{
    for (int64_t a = 0; a < n; a++)
        for (int64_t i = 0; i < c; i++)
            for (int64_t p = 0; p < kk; p++) dst[(a * kk + p) * c + i] = src[(a * c + i) * kk + p];
}

/* Tucker core folded into the input factor: out[a, pq, i] = Σ_b core[a, b, pq]·wb[b, i], with
 * core [ra, rb, K] and wb [rb, I] (§6.3: D_eff, a plain conv with the module's kernel). */
static void fold_core(const loom_adapter_factor *core, const float *wb, int64_t in, float *out)
{
    int64_t ra = core->shape[0], rb = core->shape[1], kk = core->shape[2] * core->shape[3];
    memset(out, 0, (size_t)(ra * kk * in) * sizeof *out);
    for (int64_t a = 0; a < ra; a++)
        for (int64_t b = 0; b < rb; b++)
            for (int64_t p = 0; p < kk; p++) {
                float c = core->data[(a * rb + b) * kk + p];
                const float *w = wb + b * in;
                float *o = out + (a * kk + p) * in;
                for (int64_t i = 0; i < in; i++) o[i] += c * w[i];
            }
}

/* A [rows, K, c] (conv) or [rows, c] (linear) tensor in fresh plan storage. */
static float *alloc_tensor(loom_adapter_plans *p, loom_tensor *t, int conv, int64_t rows, const loom_plan_geom *g,
                           int64_t c)
{
    int64_t shape[4] = {rows, g->kh, g->kw, c}, flat[2] = {rows, c};
    float *d = loom_plan_alloc(p, rows * g->k * c);
    if (d) *t = conv ? loom_tensor_view(d, LOOM_F32, 4, shape) : loom_tensor_view(d, LOOM_F32, 2, flat);
    return d;
}

/* A plain matrix [rows, cols] copied from a factor of that many elements. */
static loom_status copy_matrix(loom_adapter_plans *p, const float *src, int64_t rows, int64_t cols, loom_tensor *t)
{
    int64_t shape[2] = {rows, cols};
    float *d = loom_plan_alloc(p, rows * cols);
    if (!d) return LOOM_E_NOMEM;
    memcpy(d, src, (size_t)(rows * cols) * sizeof *d);
    *t = loom_tensor_view(d, LOOM_F32, 2, shape);
    return LOOM_OK;
}

/* One low-rank pair (§2.1 LoRA / LoCon, §2.2 one LoHa half): down [r, K, I] / [r, I], up [O, r].
 * `up_t`: the up factor is stored [r, O] (LoHa's Tucker layout, §2.2) and is transposed. */
static loom_status lowrank_pair(loom_adapter_plans *p, const loom_plan_geom *g, const loom_adapter_factor *down,
                                const loom_adapter_factor *up, int up_t, const loom_adapter_factor *core,
                                loom_tensor *td, loom_tensor *tu)
{
    int64_t r = core ? core->shape[0] : down->shape[0];
    float *d = alloc_tensor(p, td, g->conv, r, g, g->i);
    if (!d) return LOOM_E_NOMEM;
    if (core) fold_core(core, down->data, g->i, d);
    else to_channels_last(down->data, r, g->i, g->k, d);
    int64_t ushape[2] = {g->o, r};
    float *u = loom_plan_alloc(p, g->o * r);
    if (!u) return LOOM_E_NOMEM;
    if (up_t)
        for (int64_t a = 0; a < r; a++)
            for (int64_t o = 0; o < g->o; o++) u[o * r + a] = up->data[a * g->o + o];
    else memcpy(u, up->data, (size_t)(g->o * r) * sizeof *u);
    *tu = loom_tensor_view(u, LOOM_F32, 2, ushape);
    return LOOM_OK;
}

/* §2.3 / §6.5: W1 [a, c] as down, W2 [b, K, d] (conv) or [b, d] as up. */
static loom_status kron(loom_adapter_plans *p, const loom_adapter_module *m, const loom_plan_geom *g, loom_ad_term *t)
{
    loom_lokr_dims dims;
    loom_adapter_lokr_dims(m, &dims);
    int64_t a = dims.a, c = dims.c, b = dims.b, d = dims.dk / g->k;
    if (HAS(LOKR_W1)) {
        LOOM_TRY(copy_matrix(p, F(LOKR_W1)->data, a, c, &t->down));
    } else {
        int64_t shape[2] = {a, c};
        float *w1 = loom_plan_alloc(p, a * c);
        if (!w1) return LOOM_E_NOMEM;
        matmul(F(LOKR_W1_A)->data, 0, F(LOKR_W1_B)->data, a, F(LOKR_W1_A)->shape[1], c, w1);
        t->down = loom_tensor_view(w1, LOOM_F32, 2, shape);
    }
    float *w2 = alloc_tensor(p, &t->up, g->conv, b, g, d);
    if (!w2) return LOOM_E_NOMEM;
    if (HAS(LOKR_T2)) { /* t2 [r, r, K], w2_a [r, b], w2_b [r, d]: fold, then w2_aᵀ from the left */
        const loom_adapter_factor *core = F(LOKR_T2);
        float *folded = malloc((size_t)(core->shape[0] * g->k * d) * sizeof *folded);
        if (!folded) return loom_fail(LOOM_E_NOMEM, "out of memory for a LoKr factor");
        fold_core(core, F(LOKR_W2_B)->data, d, folded); /* [r, K, d]: already channels last */
        matmul(F(LOKR_W2_A)->data, 1, folded, b, core->shape[0], g->k * d, w2);
        free(folded);
        return LOOM_OK;
    }
    /* W2 in PyTorch order [b, d, K] (2-D: K = 1, or already flattened), then channels last */
    if (HAS(LOKR_W2)) {
        to_channels_last(F(LOKR_W2)->data, b, d, g->k, w2);
        return LOOM_OK;
    }
    float *tmp = malloc((size_t)(b * d * g->k) * sizeof *tmp); /* w2_a [b, r] · w2_b [r, d·K] */
    if (!tmp) return loom_fail(LOOM_E_NOMEM, "out of memory for a LoKr factor");
    matmul(F(LOKR_W2_A)->data, 0, F(LOKR_W2_B)->data, b, F(LOKR_W2_A)->shape[1], d * g->k, tmp);
    to_channels_last(tmp, b, d, g->k, w2);
    free(tmp);
    return LOOM_OK;
}

loom_status loom_plan_term_factors(loom_adapter_plans *p, const loom_adapter_module *m, loom_ad_term *t)
{
    loom_plan_geom g;
    loom_plan_geom_of(m->target, &g);
    memset(t, 0, sizeof *t);
    switch (m->kind) {
    case LOOM_ADAPTER_LORA:
        t->kind = LOOM_AD_LOWRANK;
        return lowrank_pair(p, &g, F(DOWN), F(UP), 0, HAS(MID) ? F(MID) : NULL, &t->down, &t->up);
    case LOOM_ADAPTER_LOHA:
        t->kind = LOOM_AD_HADA;
        LOOM_TRY(lowrank_pair(p, &g, F(HADA_W1_B), F(HADA_W1_A), HAS(HADA_T1), HAS(HADA_T1) ? F(HADA_T1) : NULL,
                              &t->down, &t->up));
        return lowrank_pair(p, &g, F(HADA_W2_B), F(HADA_W2_A), HAS(HADA_T2), HAS(HADA_T2) ? F(HADA_T2) : NULL,
                            &t->down2, &t->up2);
    case LOOM_ADAPTER_LOKR: t->kind = LOOM_AD_KRON; return kron(p, m, &g, t);
    case LOOM_ADAPTER_FULL: {
        t->kind = LOOM_AD_DENSE;
        float *d = alloc_tensor(p, &t->down, g.conv, g.o, &g, g.i);
        if (!d) return LOOM_E_NOMEM;
        to_channels_last(F(DIFF)->data, g.o, g.i, g.k, d);
        return LOOM_OK;
    }
    default:
        return loom_fail(LOOM_E_UNSUPPORTED, "adapter plan: %s: %s module is not an additive term", m->target->kohya,
                         loom_adapter_kind_name(m->kind));
    }
}

/* ΔW of one low-rank pair: out[O, cols] = up [O, r] · down [r, cols]. */
static void pair_dense(const loom_tensor *down, const loom_tensor *up, const loom_plan_geom *g, float *out)
{
    matmul(up->data, 0, down->data, g->o, up->shape[1], g->cols, out);
}

loom_status loom_plan_term_dense(const loom_ad_term *t, const loom_plan_geom *g, float *out)
{
    int64_t n = g->o * g->cols;
    switch (t->kind) {
    case LOOM_AD_LOWRANK: pair_dense(&t->down, &t->up, g, out); return LOOM_OK;
    case LOOM_AD_HADA: {
        float *h2 = malloc((size_t)n * sizeof *h2);
        if (!h2) return loom_fail(LOOM_E_NOMEM, "out of memory for a %lld-element LoHa weight", (long long)n);
        pair_dense(&t->down, &t->up, g, out);
        pair_dense(&t->down2, &t->up2, g, h2);
        for (int64_t e = 0; e < n; e++) out[e] *= h2[e];
        free(h2);
        return LOOM_OK;
    }
    case LOOM_AD_KRON: { /* ΔW[o1·b + o2, pq, i1·d + i2] = W1[o1, i1]·W2[o2, pq, i2] */
        const float *w1 = t->down.data, *w2 = t->up.data;
        int64_t a = t->down.shape[0], c = t->down.shape[1], b = t->up.shape[0], d = t->up.shape[t->up.ndim - 1];
        for (int64_t o1 = 0; o1 < a; o1++)
            for (int64_t o2 = 0; o2 < b; o2++)
                for (int64_t pq = 0; pq < g->k; pq++)
                    for (int64_t i1 = 0; i1 < c; i1++) {
                        float x = w1[o1 * c + i1];
                        const float *src = w2 + (o2 * g->k + pq) * d;
                        float *dst = out + (o1 * b + o2) * g->cols + pq * g->i + i1 * d;
                        for (int64_t i2 = 0; i2 < d; i2++) dst[i2] = x * src[i2];
                    }
        return LOOM_OK;
    }
    case LOOM_AD_DENSE: memcpy(out, t->down.data, (size_t)n * sizeof *out); return LOOM_OK;
    default: return loom_fail(LOOM_E_INVALID, "adapter plan: term of unknown kind %d", (int)t->kind);
    }
}
