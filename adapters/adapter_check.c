/* adapter_check.c — factor shape validation (adapter_check.h). Every dimension comes from the
 * file, so products are overflow-checked before they are compared. */
#include "adapter_check.h"

#include <string.h>

#define F(role) (&m->f[LOOM_AR_##role])
#define HAS(role) (m->f[LOOM_AR_##role].data != NULL)

typedef struct ctx {
    const char *path, *key;
    const loom_keymap_row *row;
} ctx;

static int64_t mul(int64_t a, int64_t b)
{
    return a > 0 && b > 0 && a <= INT64_MAX / b ? a * b : -1;
}

static loom_status bad(const ctx *c, const char *what, const loom_adapter_factor *f)
{
    char buf[64];
    loom_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = f ? f->ndim : 0;
    for (int i = 0; f && i < f->ndim; i++) t.shape[i] = f->shape[i];
    const loom_keymap_row *r = c->row;
    return loom_fail(LOOM_E_FORMAT, "%s: %s: %s%s%s does not fit %s [%lld, %lld, %lld, %lld]", c->path, c->key, what,
                     f ? " " : "", f ? loom_shape_str(&t, buf, sizeof buf) : "", r->weight, (long long)r->shape[0],
                     (long long)r->shape[1], (long long)r->shape[2], (long long)r->shape[3]);
}

static loom_status rank_mismatch(const ctx *c, const char *a, int64_t ra, const char *b, int64_t rb)
{
    return loom_fail(LOOM_E_FORMAT, "%s: %s: rank mismatch: %s has %lld, %s has %lld", c->path, c->key, a,
                     (long long)ra, b, (long long)rb);
}

/* Kernel elements of a 4-D factor [*, *, kh, kw] (1 for 2-D). */
static int64_t kernel(const loom_adapter_factor *f)
{
    return f->ndim == 4 ? mul(f->shape[2], f->shape[3]) : 1;
}

/* A matrix factor [rows, numel/rows] (2-D, or 4-D flattened: §7 item 16). */
static int64_t cols_of(const loom_adapter_factor *f)
{
    return f->ndim >= 2 && f->shape[0] > 0 ? f->numel / f->shape[0] : -1;
}

/* §2.1 LoRA / LoCon, plain or Tucker. */
static loom_status check_lora(const ctx *c, loom_adapter_module *m)
{
    const loom_keymap_row *r = c->row;
    loom_adapter_factor *d = F(DOWN), *u = F(UP);
    int64_t rank = d->shape[0], cols = loom_keymap_cols(r);
    if (u->ndim < 2 || d->ndim < 2) return bad(c, "1-D LoRA factor", u->ndim < 2 ? u : d);
    if (u->shape[1] != rank || cols_of(u) != rank) return rank_mismatch(c, "down", rank, "up", u->shape[1]);
    if (u->shape[0] != r->shape[0]) return bad(c, "up", u);
    if (HAS(MID)) { /* down [r, I, 1, 1], mid [r, r, kh, kw], up [O, r, 1, 1] */
        loom_adapter_factor *t = F(MID);
        if (t->ndim != 4 || t->shape[2] != r->shape[2] || t->shape[3] != r->shape[3]) return bad(c, "mid", t);
        if (t->shape[0] != rank || t->shape[1] != rank) return rank_mismatch(c, "down", rank, "mid", t->shape[0]);
        if (d->shape[1] != r->shape[1] || cols_of(d) != r->shape[1]) return bad(c, "down", d);
    } else if (d->shape[1] != r->shape[1] || cols_of(d) != cols) {
        return bad(c, "down", d);
    }
    m->rank = rank;
    return LOOM_OK;
}

/* One Hadamard half of §2.2: a [O, r] @ b [r, cols], or Tucker t [r, r, kh, kw], a [r, O], b [r, I]. */
static loom_status check_hada_half(const ctx *c, const loom_adapter_factor *a, const loom_adapter_factor *b,
                                   const loom_adapter_factor *t, const char *an, const char *bn)
{
    const loom_keymap_row *r = c->row;
    if (a->ndim != 2 || b->ndim < 2) return bad(c, a->ndim != 2 ? an : bn, a->ndim != 2 ? a : b);
    if (t) {
        if (t->ndim != 4 || t->shape[2] != r->shape[2] || t->shape[3] != r->shape[3]) return bad(c, "tucker core", t);
        if (t->shape[0] != a->shape[0]) return rank_mismatch(c, "core", t->shape[0], an, a->shape[0]);
        if (t->shape[1] != b->shape[0]) return rank_mismatch(c, "core", t->shape[1], bn, b->shape[0]);
        if (a->shape[1] != r->shape[0]) return bad(c, an, a);
        if (b->ndim != 2 || b->shape[1] != r->shape[1]) return bad(c, bn, b);
        return LOOM_OK;
    }
    if (a->shape[1] != b->shape[0]) return rank_mismatch(c, an, a->shape[1], bn, b->shape[0]);
    if (a->shape[0] != r->shape[0]) return bad(c, an, a);
    /* LyCORIS stores a non-Tucker conv w_b flat, [r, I·kh·kw] (§2.2); [r, I, kh, kw] also occurs */
    if (cols_of(b) != loom_keymap_cols(r) || (b->ndim == 4 && b->shape[1] != r->shape[1])) return bad(c, bn, b);
    return LOOM_OK;
}

static loom_status check_loha(const ctx *c, loom_adapter_module *m)
{
    if (HAS(HADA_T1) != HAS(HADA_T2))
        return loom_fail(LOOM_E_FORMAT, "%s: %s: module has only one of hada_t1 / hada_t2", c->path, c->key);
    LOOM_TRY(check_hada_half(c, F(HADA_W1_A), F(HADA_W1_B), HAS(HADA_T1) ? F(HADA_T1) : NULL, "hada_w1_a", "hada_w1_b"));
    LOOM_TRY(check_hada_half(c, F(HADA_W2_A), F(HADA_W2_B), HAS(HADA_T2) ? F(HADA_T2) : NULL, "hada_w2_a", "hada_w2_b"));
    m->rank = F(HADA_W1_B)->shape[0]; /* §3.1 */
    return LOOM_OK;
}

void loom_adapter_lokr_dims(const loom_adapter_module *m, loom_lokr_dims *d)
{
    memset(d, 0, sizeof *d);
    if (HAS(LOKR_W1)) d->a = F(LOKR_W1)->shape[0], d->c = cols_of(F(LOKR_W1));
    else d->a = F(LOKR_W1_A)->shape[0], d->c = F(LOKR_W1_B)->ndim == 2 ? F(LOKR_W1_B)->shape[1] : -1;
    if (HAS(LOKR_W2)) { /* [b, d] or [b, d, kh, kw] */
        d->b = F(LOKR_W2)->shape[0], d->dk = cols_of(F(LOKR_W2));
    } else if (HAS(LOKR_T2)) { /* §2.3 tucker: t2 [r, r, kh, kw], w2_a [r, b], w2_b [r, d] */
        d->b = F(LOKR_W2_A)->shape[1], d->dk = mul(F(LOKR_W2_B)->shape[1], kernel(F(LOKR_T2)));
    } else { /* w2_a [b, r] @ w2_b [r, d·kh·kw] (or 4-D [r, d, kh, kw]) */
        d->b = F(LOKR_W2_A)->shape[0], d->dk = cols_of(F(LOKR_W2_B));
    }
}

/* §2.3: ΔW = W1 ⊗ W2 with O = a·b and I·kh·kw = c·(d·kh·kw). */
static loom_status check_lokr(const ctx *c, loom_adapter_module *m)
{
    const loom_keymap_row *r = c->row;
    if (HAS(LOKR_W1) && F(LOKR_W1)->ndim != 2) return bad(c, "lokr_w1", F(LOKR_W1));
    if (!HAS(LOKR_W1)) {
        loom_adapter_factor *a = F(LOKR_W1_A), *b = F(LOKR_W1_B);
        if (a->ndim != 2 || b->ndim != 2) return bad(c, "lokr_w1_a/b", a->ndim != 2 ? a : b);
        if (a->shape[1] != b->shape[0]) return rank_mismatch(c, "lokr_w1_a", a->shape[1], "lokr_w1_b", b->shape[0]);
    }
    if (!HAS(LOKR_W2)) {
        loom_adapter_factor *a = F(LOKR_W2_A), *b = F(LOKR_W2_B);
        if (a->ndim != 2 || b->ndim < 2) return bad(c, "lokr_w2_a/b", a->ndim != 2 ? a : b);
        if (HAS(LOKR_T2)) {
            loom_adapter_factor *t = F(LOKR_T2);
            if (t->ndim != 4 || b->ndim != 2 || t->shape[2] != r->shape[2] || t->shape[3] != r->shape[3])
                return bad(c, "lokr_t2", t);
            if (t->shape[0] != a->shape[0]) return rank_mismatch(c, "lokr_t2", t->shape[0], "lokr_w2_a", a->shape[0]);
            if (t->shape[1] != b->shape[0]) return rank_mismatch(c, "lokr_t2", t->shape[1], "lokr_w2_b", b->shape[0]);
        } else if (a->shape[1] != b->shape[0]) {
            return rank_mismatch(c, "lokr_w2_a", a->shape[1], "lokr_w2_b", b->shape[0]);
        }
    } else if (HAS(LOKR_T2)) {
        return loom_fail(LOOM_E_FORMAT, "%s: %s: lokr_t2 with a whole lokr_w2", c->path, c->key);
    }
    loom_lokr_dims d;
    loom_adapter_lokr_dims(m, &d);
    int64_t k = r->shape[2] * r->shape[3];
    if (mul(d.a, d.b) != r->shape[0] || mul(d.c, d.dk) != loom_keymap_cols(r) || d.dk % k)
        return bad(c, "Kronecker factors", NULL);
    /* §3.1: A1111's dim is lokr_w2_b's rows, else lokr_w1_b's, else undefined (s = 1) */
    m->rank = HAS(LOKR_W2_B) ? F(LOKR_W2_B)->shape[0] : HAS(LOKR_W1_B) ? F(LOKR_W1_B)->shape[0] : 0;
    return LOOM_OK;
}

loom_status loom_adapter_check_shapes(const char *path, const char *key, loom_adapter_module *m)
{
    ctx c = {path, key, m->target};
    const loom_keymap_row *r = m->target;
    int64_t o = r->shape[0], cols = loom_keymap_cols(r);
    switch (m->kind) {
    case LOOM_ADAPTER_LORA: LOOM_TRY(check_lora(&c, m)); break;
    case LOOM_ADAPTER_LOHA: LOOM_TRY(check_loha(&c, m)); break;
    case LOOM_ADAPTER_LOKR: LOOM_TRY(check_lokr(&c, m)); break;
    case LOOM_ADAPTER_IA3: /* §2.4: [O] / [1, O, 1, 1], or [I] / [1, I, 1, 1] on the input side */
        if (F(IA3_WEIGHT)->numel != (m->on_input ? r->shape[1] : o)) return bad(&c, "weight", F(IA3_WEIGHT));
        break;
    case LOOM_ADAPTER_FULL: /* §2.5: diff has the weight's shape, diff_b the bias's */
        if (F(DIFF)->shape[0] != o || F(DIFF)->numel != mul(o, cols)) return bad(&c, "diff", F(DIFF));
        if (HAS(DIFF_B) && F(DIFF_B)->numel != o) return bad(&c, "diff_b", F(DIFF_B));
        break;
    default: /* norm targets have no rows in the tables yet; the caller refuses GLoRA / OFT */
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: %s: %s module on a weight", path, key, loom_adapter_kind_name(m->kind));
    }
    /* §2.9: the magnitude runs along the output rows [O] or the input columns [I], by shape */
    if (HAS(DORA) && F(DORA)->numel != o && F(DORA)->numel != r->shape[1]) return bad(&c, "dora_scale", F(DORA));
    return LOOM_OK;
}
