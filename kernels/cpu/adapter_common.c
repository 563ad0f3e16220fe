/* adapter_common.c — the driver of linear_adapted / conv2d_adapted (adapter_common.h).
 *
 * Work is split by group: each non-empty group prepares its terms once per call (Khatri–Rao
 * factors for LoHa, a dense ΔW for LoKr or high-rank LoHa) and runs them over its samples, one
 * sample at a time with the plain ops' own per-sample GEMMs. A sample's bits thus depend only on
 * its input, its group and the shapes — never on the rest of the batch (issue 4 item 5). The
 * base and every term are summed in a scratch copy of the group's outputs, so y may alias the
 * residual: y is written once per element, after its residual element is read.
 * § numbers are those of shared/specs/adapters.md. */
#include "adapter_common.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

#include <stdlib.h>
#include <string.h>

/* n floats (n >= 0; a product of extents goes through mul_checked first) */
static loom_status alloc_floats(const char *op, int64_t n, float **out)
{
    const size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    *out = malloc(bytes);
    if (!*out) return loom_fail(LOOM_E_NOMEM, "%s: cannot allocate %zu bytes of scratch", op, bytes);
    return LOOM_OK;
}

static loom_status mul_checked(const char *op, int64_t a, int64_t b, int64_t *out)
{
    if (a > 0 && b > INT64_MAX / a / (int64_t)sizeof(float))
        return loom_fail(LOOM_E_NOMEM, "%s: scratch of %lld x %lld floats is too large", op, (long long)a,
                         (long long)b);
    *out = a * b;
    return LOOM_OK;
}

loom_status loom_cpu_ad_term_rank(const loom_cpu_ad_module *m, const loom_ad_term *t, int64_t *rank)
{
    *rank = 0;
    if (t->kind == LOOM_AD_LOWRANK) *rank = t->down.shape[0];
    if (t->kind != LOOM_AD_HADA) return LOOM_OK;
    const int64_t k = m->kh * m->kw * m->in, r1 = t->down.shape[0], r2 = t->down2.shape[0];
    int64_t rr = 0;
    LOOM_TRY(mul_checked(m->op, r1, r2, &rr));
    /* §6.4: the rank-r1·r2 form costs r1·r2·(K + O) per output row, a dense ΔW K·O */
    if ((double)rr * (double)(k + m->o) < (double)k * (double)m->o) *rank = rr;
    return LOOM_OK;
}

/* A term ready to run: factored (rank > 0: down [rank, kh, kw, I], up [O, rank]) or dense (dw). */
typedef struct prepared {
    int64_t rank;
    const float *down, *up, *dw;
    float *own1, *own2; /* built here, freed by release() */
} prepared;

static void release(prepared *pr)
{
    free(pr->own1);
    free(pr->own2);
    pr->own1 = pr->own2 = NULL;
}

/* §6.4, Khatri–Rao: (U1·D1) ⊙ (U2·D2) = P·Q with Q[(a,b), :] = D1[a, :] ⊙ D2[b, :] and
 * P[o, (a,b)] = U1[o, a]·U2[o, b]. Q keeps D's layout, so it runs as a LoCon down (§6.2). */
static void build_hada_kr(const loom_cpu_ad_module *m, const loom_ad_term *t, float *q, float *p)
{
    const int64_t k = m->kh * m->kw * m->in, o = m->o, r1 = t->down.shape[0], r2 = t->down2.shape[0];
    const float *d1 = t->down.data, *d2 = t->down2.data, *u1 = t->up.data, *u2 = t->up2.data;
    for (int64_t a = 0; a < r1; a++)
        for (int64_t b = 0; b < r2; b++) {
            float *qr = q + (a * r2 + b) * k;
            for (int64_t e = 0; e < k; e++) qr[e] = d1[a * k + e] * d2[b * k + e];
        }
    for (int64_t c = 0; c < o; c++)
        for (int64_t a = 0; a < r1; a++)
            for (int64_t b = 0; b < r2; b++) p[(c * r1 + a) * r2 + b] = u1[c * r1 + a] * u2[c * r2 + b];
}

/* ΔW[o, :] = (Σ_a U1[o,a]·D1[a, :]) ⊙ (Σ_b U2[o,b]·D2[b, :]), row by row; row2 is k floats. */
static void build_hada_dense(const loom_cpu_ad_module *m, const loom_ad_term *t, float *dw, float *row2)
{
    const int64_t k = m->kh * m->kw * m->in, o = m->o, r1 = t->down.shape[0], r2 = t->down2.shape[0];
    const float *d1 = t->down.data, *d2 = t->down2.data, *u1 = t->up.data, *u2 = t->up2.data;
    for (int64_t c = 0; c < o; c++) {
        float *d = dw + c * k;
        memset(d, 0, (size_t)k * sizeof(float));
        memset(row2, 0, (size_t)k * sizeof(float));
        for (int64_t a = 0; a < r1; a++)
            for (int64_t e = 0; e < k; e++) d[e] += u1[c * r1 + a] * d1[a * k + e];
        for (int64_t b = 0; b < r2; b++)
            for (int64_t e = 0; e < k; e++) row2[e] += u2[c * r2 + b] * d2[b * k + e];
        for (int64_t e = 0; e < k; e++) d[e] *= row2[e];
    }
}

/* §6.5 in OHWI: ΔW[o1·b + o2, p, q, i1·d + i2] = W1[o1, i1]·W2[o2, p, q, i2], W1 = down [a, c],
 * W2 = up [b, kh, kw, d]. */
static void build_kron(const loom_cpu_ad_module *m, const loom_ad_term *t, float *dw)
{
    const int64_t a = t->down.shape[0], c = t->down.shape[1], b = m->o / a, d = m->in / c, kk = m->kh * m->kw;
    const float *w1 = t->down.data, *w2 = t->up.data;
    for (int64_t o1 = 0; o1 < a; o1++)
        for (int64_t o2 = 0; o2 < b; o2++)
            for (int64_t pq = 0; pq < kk; pq++)
                for (int64_t i1 = 0; i1 < c; i1++) {
                    const float s = w1[o1 * c + i1], *src = w2 + (o2 * kk + pq) * d;
                    float *dst = dw + ((o1 * b + o2) * kk + pq) * m->in + i1 * d;
                    for (int64_t i2 = 0; i2 < d; i2++) dst[i2] = s * src[i2];
                }
}

static loom_status prepare(const loom_cpu_ad_module *m, const loom_ad_term *t, prepared *pr)
{
    memset(pr, 0, sizeof *pr);
    LOOM_TRY(loom_cpu_ad_term_rank(m, t, &pr->rank));
    const int64_t k = m->kh * m->kw * m->in;
    int64_t n1 = 0, n2 = 0;
    switch (t->kind) {
    case LOOM_AD_LOWRANK:
        pr->down = t->down.data, pr->up = t->up.data;
        return LOOM_OK;
    case LOOM_AD_DENSE:
        pr->dw = t->down.data;
        return LOOM_OK;
    case LOOM_AD_HADA: {
        if (pr->rank) {
            LOOM_TRY(mul_checked(m->op, pr->rank, k, &n1));
            LOOM_TRY(mul_checked(m->op, m->o, pr->rank, &n2));
            loom_status st = alloc_floats(m->op, n1, &pr->own1);
            if (st == LOOM_OK) st = alloc_floats(m->op, n2, &pr->own2);
            if (st != LOOM_OK) {
                release(pr);
                return st;
            }
            build_hada_kr(m, t, pr->own1, pr->own2);
            pr->down = pr->own1, pr->up = pr->own2;
            return LOOM_OK;
        }
        loom_status st = alloc_floats(m->op, loom_tensor_numel(m->weight), &pr->own1);
        if (st == LOOM_OK) st = alloc_floats(m->op, k, &pr->own2);
        if (st != LOOM_OK) {
            release(pr);
            return st;
        }
        build_hada_dense(m, t, pr->own1, pr->own2);
        pr->dw = pr->own1;
        return LOOM_OK;
    }
    case LOOM_AD_KRON:
        LOOM_TRY(alloc_floats(m->op, loom_tensor_numel(m->weight), &pr->own1));
        build_kron(m, t, pr->own1);
        pr->dw = pr->own1;
        return LOOM_OK;
    default:
        return loom_fail(LOOM_E_INVALID, "%s: unknown term kind %d", m->op, (int)t->kind);
    }
}

/* out[rows, n] = wt ⊛ xs for one sample: wt [n, kh, kw, I] as a conv with the module's stride and
 * padding, or [n, I] over the rows of a linear sample. */
static loom_status apply(const loom_cpu_ad_module *m, const float *xs, const float *wt, int64_t n, float *out)
{
    if (!m->is_conv) {
        loom_cpu_gemm_nt_epilogue(m->oh, n, m->in, xs, m->in, wt, NULL, NULL, out);
        return LOOM_OK;
    }
    const int64_t xsh[4] = {1, m->ih, m->iw, m->in}, wsh[4] = {n, m->kh, m->kw, m->in}, osh[4] = {1, m->oh, m->ow, n};
    loom_tensor xt = loom_tensor_view((void *)xs, LOOM_F32, 4, xsh);
    loom_tensor wv = loom_tensor_view((void *)wt, LOOM_F32, 4, wsh);
    loom_tensor ot = loom_tensor_view(out, LOOM_F32, 4, osh);
    return loom_cpu_conv2d(&xt, &wv, NULL, NULL, &ot, &m->p);
}

/* The plain op on sample i alone: the same per-sample GEMMs as the plain op over the batch. */
static loom_status plain_sample(const loom_cpu_ad_module *m, int64_t i)
{
    const int64_t in_per = m->ih * m->iw * m->in, out_per = m->oh * m->ow * m->o;
    /* conv: [1, H, W, I] → [1, Ho, Wo, O]; linear: [1, rows, I] → [1, rows, O] */
    const int64_t xs4[4] = {1, m->ih, m->iw, m->in}, ys4[4] = {1, m->oh, m->ow, m->o};
    const int64_t xs3[3] = {1, m->ih, m->in}, ys3[3] = {1, m->oh, m->o};
    const int nd = m->is_conv ? 4 : 3;
    const int64_t *xs = m->is_conv ? xs4 : xs3, *ys = m->is_conv ? ys4 : ys3;
    loom_tensor xi = loom_tensor_view((float *)m->x->data + i * in_per, LOOM_F32, nd, xs);
    loom_tensor yi = loom_tensor_view((float *)m->y->data + i * out_per, LOOM_F32, nd, ys), ri;
    if (m->residual) ri = loom_tensor_view((float *)m->residual->data + i * out_per, LOOM_F32, nd, ys);
    const loom_tensor *r = m->residual ? &ri : NULL;
    if (m->is_conv) return loom_cpu_conv2d(&xi, m->weight, m->bias, r, &yi, &m->p);
    return loom_cpu_linear(&xi, m->weight, m->bias, r, &yi);
}

/* scale ⊙ x_i per input channel into xs (exact for conv too: padding zeros stay zero, §6.6), or
 * x_i itself when there is no scale. */
static const float *input_for(const loom_cpu_ad_module *m, const float *xi, const loom_tensor *scale, float *xs)
{
    if (!scale->data) return xi;
    const float *s = scale->data;
    const int64_t npix = m->ih * m->iw;
    for (int64_t q = 0; q < npix; q++)
        for (int64_t c = 0; c < m->in; c++) xs[q * m->in + c] = xi[q * m->in + c] * s[c];
    return xs;
}

/* Scratch of one group's run. */
typedef struct group_run {
    const loom_ad_plan *plan;
    int g;
    float *acc;  /* [samples of g, rows·O]: the running sum, in sample order */
    float *xs;   /* [in_per]: a scaled input */
    float *tmp;  /* [rows·O]: one term's result */
    float *coef; /* [O]: scale · out_scale */
} group_run;

/* acc += scale · t.out_scale ⊙ (ΔW_t ⊛ (t.in_scale ⊙ x)) for every sample of the group. */
static loom_status run_term(const loom_cpu_ad_module *m, const group_run *gr, const loom_ad_term *t)
{
    const int64_t in_per = m->ih * m->iw * m->in, rows = m->oh * m->ow, out_per = rows * m->o;
    const float *xd = m->x->data, *os = t->out_scale.data;
    for (int64_t c = 0; c < m->o; c++) gr->coef[c] = os ? t->scale * os[c] : t->scale;
    prepared pr;
    LOOM_TRY(prepare(m, t, &pr));
    float *mid = NULL;
    int64_t n_mid = 0;
    loom_status st = mul_checked(m->op, rows, pr.rank, &n_mid);
    if (st == LOOM_OK && pr.rank) st = alloc_floats(m->op, n_mid, &mid);
    for (int64_t i = 0, j = 0; st == LOOM_OK && i < m->batch; i++) {
        if (gr->plan->group_of[i] != gr->g) continue;
        const float *xin = input_for(m, xd + i * in_per, &t->in_scale, gr->xs);
        if (pr.rank) {
            st = apply(m, xin, pr.down, pr.rank, mid);
            // tmp[rows, O] = mid[rows, r]·up[O, r]ᵀ: the up factor as a 1×1 conv (§6.1, §6.2)
            if (st == LOOM_OK) loom_cpu_gemm_nt_epilogue(rows, m->o, pr.rank, mid, pr.rank, pr.up, NULL, NULL, gr->tmp);
        } else {
            st = apply(m, xin, pr.dw, m->o, gr->tmp);
        }
        float *a = gr->acc + j++ * out_per;
        for (int64_t r = 0; st == LOOM_OK && r < rows; r++)
            for (int64_t c = 0; c < m->o; c++) a[r * m->o + c] += gr->coef[c] * gr->tmp[r * m->o + c];
    }
    free(mid);
    release(&pr);
    return st;
}

static loom_status run_group_body(const loom_cpu_ad_module *m, const group_run *gr)
{
    const loom_ad_group *grp = &gr->plan->groups[gr->g];
    const int64_t in_per = m->ih * m->iw * m->in, rows = m->oh * m->ow, out_per = rows * m->o;
    const float *xd = m->x->data, *os = grp->out_scale.data, *bias = m->bias ? m->bias->data : NULL;
    const float *ba = grp->bias_add.data;
    /* base: out_scale ⊙ (W ⊛ (in_scale ⊙ x)) */
    for (int64_t i = 0, j = 0; i < m->batch; i++) {
        if (gr->plan->group_of[i] != gr->g) continue;
        float *a = gr->acc + j++ * out_per;
        LOOM_TRY(apply(m, input_for(m, xd + i * in_per, &grp->in_scale, gr->xs), m->weight->data, m->o, a));
        if (os)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < m->o; c++) a[r * m->o + c] *= os[c];
    }
    for (int t = 0; t < grp->n_terms; t++) LOOM_TRY(run_term(m, gr, &grp->terms[t]));
    /* bias and bias_add after every scaling (§6.0: b is added last), the residual after them */
    for (int64_t i = 0, j = 0; i < m->batch; i++) {
        if (gr->plan->group_of[i] != gr->g) continue;
        const float *a = gr->acc + j++ * out_per;
        const float *res = m->residual ? (const float *)m->residual->data + i * out_per : NULL;
        float *y = (float *)m->y->data + i * out_per;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < m->o; c++) {
                const int64_t e = r * m->o + c;
                float v = a[e];
                if (bias) v += bias[c];
                if (ba) v += ba[c];
                if (res) v += res[e];
                y[e] = v;
            }
    }
    return LOOM_OK;
}

static loom_status run_group(const loom_cpu_ad_module *m, const loom_ad_plan *plan, int g)
{
    int64_t n = 0;
    for (int i = 0; i < plan->batch; i++) n += plan->group_of[i] == g;
    if (n == 0) return LOOM_OK;
    const int64_t in_per = m->ih * m->iw * m->in, out_per = m->oh * m->ow * m->o;
    group_run gr = {plan, g, NULL, NULL, NULL, NULL};
    loom_status st = alloc_floats(m->op, n * out_per, &gr.acc); /* n·out_per <= numel(y) */
    if (st == LOOM_OK) st = alloc_floats(m->op, in_per, &gr.xs);
    if (st == LOOM_OK) st = alloc_floats(m->op, out_per, &gr.tmp);
    if (st == LOOM_OK) st = alloc_floats(m->op, m->o, &gr.coef);
    if (st == LOOM_OK) st = run_group_body(m, &gr);
    free(gr.acc);
    free(gr.xs);
    free(gr.tmp);
    free(gr.coef);
    return st;
}

loom_status loom_cpu_ad_run(const loom_cpu_ad_module *m, const loom_ad_plan *plan)
{
    /* A sample whose group changes nothing runs the plain op, bit for bit: an image whose set
     * does not touch this module must get what it gets alone, where the plan is empty. */
    for (int i = 0; i < plan->batch; i++) {
        const loom_ad_plan one = {1, &plan->group_of[i], plan->n_groups, plan->groups};
        if (loom_ad_plan_is_empty(&one)) LOOM_TRY(plain_sample(m, i));
    }
    for (int g = 0; g < plan->n_groups; g++) {
        const loom_ad_plan one = {1, &g, plan->n_groups, plan->groups};
        if (!loom_ad_plan_is_empty(&one)) LOOM_TRY(run_group(m, plan, g));
    }
    return LOOM_OK;
}
