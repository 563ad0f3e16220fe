/* adapter_check.cu — does a device plan fit the module (adapter_common.cuh)?
 *
 * The rules and messages of the CPU backend's adapter_check.c, with this backend's dtypes: the
 * factors in the activations' dtype (f16 or bf16, x's) and the vectors f32, all on the CUDA device
 * (adapters/plan_device.h); and, this
 * backend only, a HADA/KRON term's optional precomputed ΔW `dense`, f32 [O, kh·kw·I]. Everything is
 * checked before the op queues any work, so a refused call leaves y untouched. For a conv module,
 * a factor that acts as a 1×1 conv (up, or any kernel factor of a 1×1 module) is also accepted
 * as a plain 2-D matrix: [n, 1, 1, c] and [n, c] are the same bytes. Messages name the op, then
 * the group and term, e.g. "conv2d_adapted: group 1 term 0 (lowrank): down is [3, 3, 3, 7] but
 * should be [3, 3, 3, 8]". */
#include <cmath>
#include <cstdio>

#include "adapter_common.cuh"

typedef struct where {
    char s[64]; /* "group 1 term 0 (hada)" */
} where;

static const char *label(char *buf, size_t n, const where *w, const char *name)
{
    snprintf(buf, n, "%s: %s", w->s, name);
    return buf;
}

/* dtype on the CUDA device, contiguous, sane shape, data set (as loom_cuda_check_tensor for f16). */
static loom_status check_device(const char *op, const char *name, const loom_tensor *t, loom_dtype want,
                                const char *role)
{
    if (t->dtype != want || t->device != LOOM_CUDA)
        return loom_fail(LOOM_E_INVALID, "%s: %s: a device plan holds %s as %s on the CUDA device; got %s on the %s",
                         op, name, role, loom_dtype_name(want), loom_dtype_name(t->dtype),
                         t->device == LOOM_CUDA ? "CUDA device" : "host");
    if (t->ndim < 0 || t->ndim > LOOM_MAX_DIMS) return loom_fail(LOOM_E_INVALID, "%s: %s has %d dims", op, name, t->ndim);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0) return loom_fail(LOOM_E_INVALID, "%s: %s has a negative extent", op, name);
    if (!loom_tensor_is_contiguous(t)) return loom_fail(LOOM_E_INVALID, "%s: %s is not contiguous", op, name);
    return LOOM_OK;
}

/* An optional vector: empty (data NULL) means absent; otherwise f32 device [n]. */
static loom_status check_vec(const loom_cuda_ad_module *m, const where *w, const char *name, const loom_tensor *t,
                             int64_t n)
{
    if (!t->data) return LOOM_OK;
    char b[96];
    label(b, sizeof b, w, name);
    LOOM_TRY(check_device(m->op, b, t, LOOM_F32, "vectors"));
    LOOM_TRY(loom_cuda_check_shape(m->op, b, t, 1, &n));
    return loom_cuda_check_alias(m->op, "y", m->y, b, t, 0);
}

/* A factor the kind needs: present, in x's dtype (f16 or bf16) on the device, contiguous, at least 1-D with
 * a leading extent in
 * 1 .. INT_MAX (the rank indexes the kernels), not overlapping y. */
static loom_status check_present(const loom_cuda_ad_module *m, const where *w, const char *name, const loom_tensor *t)
{
    char b[96];
    label(b, sizeof b, w, name);
    if (!t->data) return loom_fail(LOOM_E_INVALID, "%s: %s is missing (empty)", m->op, b);
    LOOM_TRY(check_device(m->op, b, t, m->x->dtype, "factors"));
    if (t->ndim < 1 || t->shape[0] < 1 || t->shape[0] > INT32_MAX) {
        char s[96];
        return loom_fail(LOOM_E_INVALID, "%s: %s is %s; its leading dim (the rank) must be >= 1", m->op, b,
                         loom_shape_str(t, s, sizeof s));
    }
    return loom_cuda_check_alias(m->op, "y", m->y, b, t, 0);
}

static loom_status check_absent(const loom_cuda_ad_module *m, const where *w, const char *name, const loom_tensor *t)
{
    if (!t->data) return LOOM_OK;
    return loom_fail(LOOM_E_INVALID, "%s: %s: %s must be empty for this kind", m->op, w->s, name);
}

/* t is a kernel [n, kh, kw, c] of the module (4-D on a conv module, 2-D [n, c] on a linear one;
 * a 1×1 conv takes either). */
static loom_status check_kernel(const loom_cuda_ad_module *m, const where *w, const char *name, const loom_tensor *t,
                                int64_t n, int64_t c)
{
    char b[96];
    label(b, sizeof b, w, name);
    const int64_t s4[4] = {n, m->kh, m->kw, c}, s2[2] = {n, c};
    if (m->is_conv && !(m->kh == 1 && m->kw == 1 && t->ndim == 2)) return loom_cuda_check_shape(m->op, b, t, 4, s4);
    return loom_cuda_check_shape(m->op, b, t, 2, s2);
}

/* t is a matrix [n, c] (on a conv module also as a 1×1 conv [n, 1, 1, c]). */
static loom_status check_matrix(const loom_cuda_ad_module *m, const where *w, const char *name, const loom_tensor *t,
                                int64_t n, int64_t c)
{
    char b[96];
    label(b, sizeof b, w, name);
    const int64_t s4[4] = {n, 1, 1, c}, s2[2] = {n, c};
    if (m->is_conv && t->ndim == 4) return loom_cuda_check_shape(m->op, b, t, 4, s4);
    return loom_cuda_check_shape(m->op, b, t, 2, s2);
}

static loom_status check_term(const loom_cuda_ad_module *m, const where *w, const loom_ad_term *t)
{
    const int64_t o = m->o, in = m->in, rows = m->batch * m->oh * m->ow, k = m->kh * m->kw * m->in;
    if (!std::isfinite(t->scale))
        return loom_fail(LOOM_E_INVALID, "%s: %s: scale %g is not finite", m->op, w->s, t->scale);
    LOOM_TRY(check_vec(m, w, "in_scale", &t->in_scale, in));
    LOOM_TRY(check_vec(m, w, "out_scale", &t->out_scale, o));
    LOOM_TRY(check_present(m, w, "down", &t->down));
    const int64_t r = t->down.shape[0];
    if (t->kind == LOOM_AD_HADA) { /* the second pair; the first is checked as LOWRANK's below */
        LOOM_TRY(check_present(m, w, "down2", &t->down2));
        LOOM_TRY(check_kernel(m, w, "down2", &t->down2, t->down2.shape[0], in));
        LOOM_TRY(check_present(m, w, "up2", &t->up2));
        LOOM_TRY(check_matrix(m, w, "up2", &t->up2, o, t->down2.shape[0]));
    }
    switch (t->kind) {
    case LOOM_AD_HADA:
    case LOOM_AD_LOWRANK:
        LOOM_TRY(check_kernel(m, w, "down", &t->down, r, in));
        LOOM_TRY(check_present(m, w, "up", &t->up));
        LOOM_TRY(check_matrix(m, w, "up", &t->up, o, r));
        break;
    case LOOM_AD_KRON: {
        char b[96], s[96];
        label(b, sizeof b, w, "down");
        if (t->down.ndim != 2 || t->down.shape[1] < 1 || o % t->down.shape[0] || in % t->down.shape[1])
            return loom_fail(LOOM_E_INVALID, "%s: %s %s does not divide W's [%lld, %lld] (O = a*b, I = c*d)", m->op, b,
                             loom_shape_str(&t->down, s, sizeof s), (long long)o, (long long)in);
        LOOM_TRY(check_present(m, w, "up", &t->up));
        LOOM_TRY(check_kernel(m, w, "up", &t->up, o / t->down.shape[0], in / t->down.shape[1]));
        break;
    }
    case LOOM_AD_DENSE:
        LOOM_TRY(check_kernel(m, w, "down", &t->down, o, in));
        break;
    default:
        return loom_fail(LOOM_E_INVALID, "%s: %s: unknown term kind %d", m->op, w->s, (int)t->kind);
    }
    if (t->kind != LOOM_AD_HADA) {
        LOOM_TRY(check_absent(m, w, "down2", &t->down2));
        LOOM_TRY(check_absent(m, w, "up2", &t->up2));
    }
    if (t->kind == LOOM_AD_DENSE) LOOM_TRY(check_absent(m, w, "up", &t->up));
    /* a precomputed ΔW (adapter_plan.h "Precomputed ΔW"): HADA/KRON only, f32 device [O, K] */
    if (t->kind != LOOM_AD_HADA && t->kind != LOOM_AD_KRON) {
        LOOM_TRY(check_absent(m, w, "dense", &t->dense));
    } else if (t->dense.data) {
        char b[96];
        label(b, sizeof b, w, "dense");
        const int64_t s2[2] = {o, k};
        LOOM_TRY(check_device(m->op, b, &t->dense, LOOM_F32, "dense deltas"));
        LOOM_TRY(loom_cuda_check_shape(m->op, b, &t->dense, 2, s2));
        LOOM_TRY(loom_cuda_check_alias(m->op, "y", m->y, b, &t->dense, 0));
    }
    /* the GEMMs the term runs: [rows, K]·[r, K]ᵀ then [rows, r]·[O, r]ᵀ (LOWRANK), or
     * [rows, K]·[O, K]ᵀ with a dense ΔW (the module's own sizes, checked already) */
    if (t->kind == LOOM_AD_LOWRANK) {
        LOOM_TRY(loom_cuda_ad_gemm_fits(m->op, rows, r, k));
        LOOM_TRY(loom_cuda_ad_gemm_fits(m->op, rows, o, r));
    }
    return LOOM_OK;
}

loom_status loom_cuda_ad_check_module(const loom_cuda_ad_module *m)
{
    const char *op = m->op;
    /* every extent and the padded input within int (the kernels index with int where that is
     * enough; products go through int64) */
    LOOM_TRY(loom_cuda_check_int(op, "O", m->o));
    LOOM_TRY(loom_cuda_check_int(op, "I", m->in));
    LOOM_TRY(loom_cuda_check_int(op, "batch", m->batch));
    LOOM_TRY(loom_cuda_check_int(op, "the padded input height", m->ih + 2 * (int64_t)m->p.pad_h));
    LOOM_TRY(loom_cuda_check_int(op, "the padded input width", m->iw + 2 * (int64_t)m->p.pad_w));
    /* products one factor at a time, each bounded by INT_MAX² before the next check: no overflow */
    LOOM_TRY(loom_cuda_check_int(op, "rows per sample", m->oh * m->ow));
    LOOM_TRY(loom_cuda_check_int(op, "kh*kw", m->kh * m->kw));
    LOOM_TRY(loom_cuda_check_int(op, "kh*kw*I", m->kh * m->kw * m->in));
    /* the base GEMM over the whole batch bounds every run's: [batch·rows, K]·[O, K]ᵀ */
    return loom_cuda_ad_gemm_fits(op, m->batch * m->oh * m->ow, m->o, m->kh * m->kw * m->in);
}

loom_status loom_cuda_ad_check_plan(const loom_cuda_ad_module *m, const loom_ad_plan *plan)
{
    if (plan->batch != m->batch)
        return loom_fail(LOOM_E_INVALID, "%s: the plan has %d samples but x has %lld", m->op, plan->batch,
                         (long long)m->batch);
    if (plan->n_groups < 0 || (plan->n_groups > 0 && !plan->groups))
        return loom_fail(LOOM_E_INVALID, "%s: the plan has %d groups but no group array", m->op, plan->n_groups);
    if (plan->batch > 0 && !plan->group_of) return loom_fail(LOOM_E_INVALID, "%s: the plan has no group_of array", m->op);
    for (int i = 0; i < plan->batch; i++)
        if (plan->group_of[i] >= plan->n_groups)
            return loom_fail(LOOM_E_INVALID, "%s: sample %d uses group %d but the plan has %d groups", m->op, i,
                             plan->group_of[i], plan->n_groups);
    /* every group, used or not: a bad group is a builder or upload bug worth reporting early */
    for (int g = 0; g < plan->n_groups; g++) {
        const loom_ad_group *grp = &plan->groups[g];
        where w;
        snprintf(w.s, sizeof w.s, "group %d", g);
        LOOM_TRY(check_vec(m, &w, "in_scale", &grp->in_scale, m->in));
        LOOM_TRY(check_vec(m, &w, "out_scale", &grp->out_scale, m->o));
        LOOM_TRY(check_vec(m, &w, "bias_add", &grp->bias_add, m->o));
        if (grp->n_terms < 0 || (grp->n_terms > 0 && !grp->terms))
            return loom_fail(LOOM_E_INVALID, "%s: group %d has %d terms but no term array", m->op, g, grp->n_terms);
        for (int j = 0; j < grp->n_terms; j++) {
            snprintf(w.s, sizeof w.s, "group %d term %d (%s)", g, j, loom_ad_kind_name(grp->terms[j].kind));
            LOOM_TRY(check_term(m, &w, &grp->terms[j]));
        }
    }
    return LOOM_OK;
}
