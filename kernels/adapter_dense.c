/* adapter_dense.c — the shape of a LoHa/LoKr term's dense ΔW (adapter_dense.h). The CUDA build
 * is kernels/cuda/adapter_delta.cu's; with LOOM_CUDA=OFF kernels/cuda_absent.c refuses it. */
#include "adapter_dense.h"

#include <stdint.h>

/* a·b for a, b >= 0, or -1 when it overflows int64 */
static int64_t mul64(int64_t a, int64_t b) { return a && b > INT64_MAX / a ? -1 : a * b; }

static loom_status bad(const char *what, const loom_ad_term *t, const char *name, const loom_tensor *f,
                       const char *why)
{
    char s[96];
    if (!f->data)
        return loom_fail(LOOM_E_INVALID, "%s (%s): %s is missing (empty)", what, loom_ad_kind_name(t->kind), name);
    return loom_fail(LOOM_E_INVALID, "%s (%s): %s is %s: %s", what, loom_ad_kind_name(t->kind), name,
                     loom_shape_str(f, s, sizeof s), why);
}

/* A present factor of 2 or 4 dims, extents >= 0; *tail = the product of its dims after the
 * first (the K of a down, the kh·kw·d of W2), -1 when that overflows. */
static loom_status factor(const char *what, const loom_ad_term *t, const char *name, const loom_tensor *f,
                          int64_t *tail)
{
    if (!f->data || (f->ndim != 2 && f->ndim != 4)) return bad(what, t, name, f, "a factor here is 2-D or 4-D");
    int64_t n = 1;
    for (int d = 0; d < f->ndim; d++) {
        if (f->shape[d] < 0) return bad(what, t, name, f, "a negative extent");
        if (d > 0) n = n < 0 ? -1 : mul64(n, f->shape[d]);
    }
    *tail = n;
    return LOOM_OK;
}

/* down [r, …] with 1 <= r <= INT_MAX (the kernels index ranks with int) */
static loom_status rank_of(const char *what, const loom_ad_term *t, const char *name, const loom_tensor *f,
                           int64_t *r)
{
    if (f->shape[0] < 1) return bad(what, t, name, f, "its leading dim (the rank) must be >= 1");
    if (f->shape[0] > INT32_MAX)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s (%s): %s: rank %lld exceeds int", what, loom_ad_kind_name(t->kind),
                         name, (long long)f->shape[0]);
    *r = f->shape[0];
    return LOOM_OK;
}

/* up [O, r] or the same as a 1×1 conv [O, 1, 1, r] */
static loom_status up_of(const char *what, const loom_ad_term *t, const char *name, const loom_tensor *f, int64_t r,
                         int64_t *o)
{
    int64_t tail = 0;
    LOOM_TRY(factor(what, t, name, f, &tail));
    if (f->shape[f->ndim - 1] != r || tail != r) return bad(what, t, name, f, "its columns should be the down's rank");
    *o = f->shape[0];
    return LOOM_OK;
}

static loom_status hada(const char *what, const loom_ad_term *t, loom_ad_dense_shape *s)
{
    int64_t r1 = 0, r2 = 0, k2 = 0, o2 = 0;
    LOOM_TRY(factor(what, t, "down", &t->down, &s->k));
    LOOM_TRY(rank_of(what, t, "down", &t->down, &r1));
    LOOM_TRY(up_of(what, t, "up", &t->up, r1, &s->o));
    LOOM_TRY(factor(what, t, "down2", &t->down2, &k2));
    LOOM_TRY(rank_of(what, t, "down2", &t->down2, &r2));
    LOOM_TRY(up_of(what, t, "up2", &t->up2, r2, &o2));
    if (s->k < 0 || k2 != s->k) return bad(what, t, "down2", &t->down2, "its row length should be down's");
    if (o2 != s->o) return bad(what, t, "up2", &t->up2, "its rows should be up's");
    return LOOM_OK;
}

static loom_status kron(const char *what, const loom_ad_term *t, loom_ad_dense_shape *s)
{
    int64_t c = 0, w2_tail = 0; /* W2's tail is not needed: kk and d are read from its dims */
    LOOM_TRY(factor(what, t, "down", &t->down, &c));
    if (t->down.ndim != 2 || t->down.shape[0] < 1 || c < 1)
        return bad(what, t, "down", &t->down, "W1 is [a, c], a, c >= 1");
    LOOM_TRY(factor(what, t, "up", &t->up, &w2_tail));
    const loom_tensor *w2 = &t->up;
    const int64_t a = t->down.shape[0], b = w2->shape[0], d = w2->shape[w2->ndim - 1];
    s->kk = w2->ndim == 4 ? mul64(w2->shape[1], w2->shape[2]) : 1; /* -1 on overflow, as every product here */
    s->o = mul64(a, b), s->in = mul64(c, d);
    s->k = s->kk < 0 || s->in < 0 ? -1 : mul64(s->kk, s->in);
    if (s->o < 0 || s->k < 0) return bad(what, t, "up", w2, "the Kronecker product is too large");
    return LOOM_OK;
}

loom_status loom_ad_term_dense_shape(const loom_ad_term *t, const char *what, loom_ad_dense_shape *out)
{
    loom_ad_dense_shape s = {0, 0, 0, 0};
    *out = s;
    if (t->kind == LOOM_AD_HADA) LOOM_TRY(hada(what, t, &s));
    else if (t->kind == LOOM_AD_KRON) LOOM_TRY(kron(what, t, &s));
    else return loom_fail(LOOM_E_INVALID, "%s (%s): only hada and kron terms have a ΔW to build", what,
                          loom_ad_kind_name(t->kind));
    const int64_t n = mul64(s.o, s.k);
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
        return loom_fail(LOOM_E_UNSUPPORTED, "%s (%s): ΔW [%lld, %lld] exceeds the address space", what,
                         loom_ad_kind_name(t->kind), (long long)s.o, (long long)s.k);
    *out = s;
    return LOOM_OK;
}
