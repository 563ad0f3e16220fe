/* adapter_delta.c — dense s·ΔW of one module (adapters.md §2), f32, in the target's PyTorch
 * layout [O, I, kh, kw]. A test reference against LyCORIS: the engine never merges (§6). */
#include "adapter.h"

#include <stdlib.h>
#include <string.h>

#include "adapter_check.h"

#define F(role) (&m->f[LOOM_AR_##role])
#define HAS(role) (m->f[LOOM_AR_##role].data != NULL)

int64_t loom_adapter_module_numel(const loom_adapter_module *m)
{
    return m->target->shape[0] * loom_keymap_cols(m->target);
}

/* out[M, N] = op(A)[M, K] · B[K, N], op(A) = A [M, K] or Aᵀ with A stored [K, M]. f64 accumulation. */
static void matmul(const float *a, int a_trans, const float *b, int64_t mm, int64_t kk, int64_t nn, float *out)
{
    for (int64_t i = 0; i < mm; i++)
        for (int64_t j = 0; j < nn; j++) {
            double s = 0;
            for (int64_t k = 0; k < kk; k++) s += (double)(a_trans ? a[k * mm + i] : a[i * kk + k]) * b[k * nn + j];
            out[i * nn + j] = (float)s;
        }
}

/* Tucker core times the input factor: tmp[a, i·K + p] = Σ_b t[a, b, p]·wb[b, i], with
 * t [ra, rb, K] and wb [rb, I]. The output factor then multiplies tmp from the left (§2.1). */
static void tucker_inner(const float *t, int64_t ra, int64_t rb, int64_t kk, const float *wb, int64_t in, float *tmp)
{
    for (int64_t a = 0; a < ra; a++)
        for (int64_t i = 0; i < in; i++)
            for (int64_t p = 0; p < kk; p++) {
                double s = 0;
                for (int64_t b = 0; b < rb; b++) s += (double)t[(a * rb + b) * kk + p] * wb[b * in + i];
                tmp[(a * in + i) * kk + p] = (float)s;
            }
}

/* up [O, r] (or stored transposed [r, O] when up_t) · core · down [r, I] → out [O, I·K]. */
static loom_status tucker(const loom_adapter_factor *t, const float *up, int up_t, const float *down, int64_t o,
                          int64_t in, float *out)
{
    int64_t ra = t->shape[0], rb = t->shape[1], kk = t->shape[2] * t->shape[3];
    float *tmp = malloc((size_t)(ra * in * kk) * sizeof *tmp);
    if (!tmp) return loom_fail(LOOM_E_NOMEM, "out of memory rebuilding a Tucker factor");
    tucker_inner(t->data, ra, rb, kk, down, in, tmp);
    matmul(up, up_t, tmp, o, ra, in * kk, out);
    free(tmp);
    return LOOM_OK;
}

/* §2.2: one Hadamard half, dense [O, cols]. */
static loom_status hada_half(const loom_adapter_module *m, int role_a, int role_b, int role_t, float *out)
{
    const loom_keymap_row *r = m->target;
    const loom_adapter_factor *a = &m->f[role_a], *b = &m->f[role_b], *t = &m->f[role_t];
    if (t->data) return tucker(t, a->data, 1, b->data, r->shape[0], r->shape[1], out);
    matmul(a->data, 0, b->data, r->shape[0], a->shape[1], loom_keymap_cols(r), out);
    return LOOM_OK;
}

static loom_status lokr(const loom_adapter_module *m, float *out)
{
    loom_lokr_dims d;
    loom_adapter_lokr_dims(m, &d);
    float *w1 = malloc((size_t)(d.a * d.c) * sizeof *w1), *w2 = malloc((size_t)(d.b * d.dk) * sizeof *w2);
    loom_status st = LOOM_OK;
    if (!w1 || !w2) {
        st = loom_fail(LOOM_E_NOMEM, "out of memory rebuilding a LoKr module");
        goto done;
    }
    if (HAS(LOKR_W1)) memcpy(w1, F(LOKR_W1)->data, (size_t)(d.a * d.c) * sizeof *w1);
    else matmul(F(LOKR_W1_A)->data, 0, F(LOKR_W1_B)->data, d.a, F(LOKR_W1_A)->shape[1], d.c, w1);
    if (HAS(LOKR_W2)) memcpy(w2, F(LOKR_W2)->data, (size_t)(d.b * d.dk) * sizeof *w2);
    else if (HAS(LOKR_T2)) st = tucker(F(LOKR_T2), F(LOKR_W2_A)->data, 1, F(LOKR_W2_B)->data, d.b, F(LOKR_W2_B)->shape[1], w2);
    else matmul(F(LOKR_W2_A)->data, 0, F(LOKR_W2_B)->data, d.b, F(LOKR_W2_A)->shape[1], d.dk, w2);
    /* ΔW[o1·b + o2, i1·dk + j] = W1[o1, i1]·W2[o2, j]: W2's [d, kh, kw] stays contiguous (§2.3) */
    int64_t cols = d.c * d.dk;
    for (int64_t o1 = 0; !st && o1 < d.a; o1++)
        for (int64_t o2 = 0; o2 < d.b; o2++)
            for (int64_t i1 = 0; i1 < d.c; i1++)
                for (int64_t j = 0; j < d.dk; j++)
                    out[(o1 * d.b + o2) * cols + i1 * d.dk + j] = w1[o1 * d.c + i1] * w2[o2 * d.dk + j];
done:
    free(w1), free(w2);
    return st;
}

loom_status loom_adapter_module_delta(const loom_adapter_module *m, float *out)
{
    const loom_keymap_row *r = m->target;
    int64_t o = r->shape[0], n = loom_adapter_module_numel(m);
    switch (m->kind) {
    case LOOM_ADAPTER_LORA:
        if (HAS(MID)) LOOM_TRY(tucker(F(MID), F(UP)->data, 0, F(DOWN)->data, o, r->shape[1], out));
        else matmul(F(UP)->data, 0, F(DOWN)->data, o, m->rank, loom_keymap_cols(r), out);
        break;
    case LOOM_ADAPTER_LOHA: {
        float *h2 = malloc((size_t)n * sizeof *h2);
        if (!h2) return loom_fail(LOOM_E_NOMEM, "out of memory rebuilding a LoHa module");
        loom_status st = hada_half(m, LOOM_AR_HADA_W1_A, LOOM_AR_HADA_W1_B, LOOM_AR_HADA_T1, out);
        if (!st) st = hada_half(m, LOOM_AR_HADA_W2_A, LOOM_AR_HADA_W2_B, LOOM_AR_HADA_T2, h2);
        for (int64_t i = 0; !st && i < n; i++) out[i] *= h2[i];
        free(h2);
        LOOM_TRY(st);
        break;
    }
    case LOOM_ADAPTER_LOKR: LOOM_TRY(lokr(m, out)); break;
    case LOOM_ADAPTER_FULL: memcpy(out, F(DIFF)->data, (size_t)n * sizeof *out); break;
    default:
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: ΔW of a %s module depends on the base weight", r->kohya,
                         loom_adapter_kind_name(m->kind));
    }
    /* §2.2 / §7 item 3: the scale is applied once, LoHa included */
    if (m->scale != 1.0f)
        for (int64_t i = 0; i < n; i++) out[i] *= m->scale;
    return LOOM_OK;
}
