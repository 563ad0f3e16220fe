/* plan.c — adapter sets → per-row groups of live-adapter terms (plan.h, kernels/adapter_plan.h).
 *
 * Modules are gathered per key-table row, in set order and, within a set, in prompt order. Each
 * (row, set) is then walked the way A1111 applies networks (adapters.md §3.5, §6.11): an additive
 * module appends a term; an output transform (IA³-out, DoRA-out) multiplies the base's and every
 * earlier term's out_scale, an input transform (IA³-in, DoRA-in) their in_scale. Applying the
 * transforms eagerly to what precedes them is the fold adapter_plan.h describes: each term ends up
 * with the product of the transforms after it. Factors live in storage owned by the plans object;
 * a module's factors are built once per row and shared by every set that uses it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

struct loom_adapter_plans {
    int n_sets, n_rows;
    uint64_t serial;       /* loom_adapter_plans_serial */
    loom_ad_group **rows;  /* [n_rows]: n_sets groups, or NULL for a row no set touches */
    void **blocks;         /* every allocation the groups point into */
    size_t n_blocks, cap_blocks;
};

typedef struct entry {     /* one module of one set on one row, multiplier resolved */
    const loom_adapter_module *m;
    float mult;
    int set;
} entry;

typedef struct row_ctx {
    loom_adapter_plans *p;
    const loom_keymap_table *map;
    int row;
    loom_plan_geom g;
    loom_adapter_base_fn base;
    void *user;
    const loom_adapter_module **cached_m; /* modules whose factors are built on this row */
    loom_ad_term *cached_t;
    int n_cached;
} row_ctx;

static void *own(loom_adapter_plans *p, size_t bytes)
{
    if (p->n_blocks == p->cap_blocks) {
        size_t cap = p->cap_blocks ? 2 * p->cap_blocks : 64;
        void **b = realloc(p->blocks, cap * sizeof *b);
        if (!b) {
            loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
            return NULL;
        }
        p->blocks = b, p->cap_blocks = cap;
    }
    void *d = calloc(1, bytes ? bytes : 1);
    if (!d) {
        loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory for %zu bytes", bytes);
        return NULL;
    }
    p->blocks[p->n_blocks++] = d;
    return d;
}

float *loom_plan_alloc(loom_adapter_plans *p, int64_t n_floats)
{
    if (n_floats < 0 || (uint64_t)n_floats > SIZE_MAX / sizeof(float)) {
        loom_fail(LOOM_E_NOMEM, "adapter plan: tensor of %lld values is too large", (long long)n_floats);
        return NULL;
    }
    return own(p, (size_t)n_floats * sizeof(float));
}

void loom_adapter_plans_free(loom_adapter_plans *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_blocks; i++) free(p->blocks[i]);
    free(p->blocks);
    free(p->rows);
    free(p);
}

uint64_t loom_adapter_plans_serial(const loom_adapter_plans *p) { return p ? p->serial : 0; }

int loom_adapter_plans_n_sets(const loom_adapter_plans *p)
{
    return p ? p->n_sets : 0;
}

const loom_ad_group *loom_adapter_plans_row(const loom_adapter_plans *p, int row)
{
    return p && row >= 0 && row < p->n_rows ? p->rows[row] : NULL;
}

/* §3.3: the text-encoder multiplier for lora_te* stems (and text_encoder* diffusers names), the
 * UNet one otherwise. */
static float multiplier_of(const loom_adapter_module *m, const loom_adapter_use *u)
{
    int te = m->part == LOOM_AP_TE || m->part == LOOM_AP_TE1 || m->part == LOOM_AP_TE2 ||
             !strncmp(m->target->kohya, "lora_te", 7);
    return te ? u->te : u->unet;
}

/* The row index of the module's target; the adapter must have been parsed against `map`. */
static loom_status row_of(const loom_keymap_table *map, const loom_adapter_module *m, int *row)
{
    uintptr_t t = (uintptr_t)m->target, b = (uintptr_t)map->rows, sz = sizeof *map->rows;
    if (!m->target || t < b || (t - b) % sz || (t - b) / sz >= (uintptr_t)map->n_rows)
        return loom_fail(LOOM_E_INVALID, "adapter plan: module %s targets a row of another key table",
                         m->target ? m->target->kohya : "(none)");
    *row = (int)((t - b) / sz);
    return LOOM_OK;
}

/* t ⊙= v, an all-ones vector being allocated on first use (empty means ones, adapter_plan.h). */
static loom_status scale_vec(loom_adapter_plans *p, loom_tensor *t, const float *v, int64_t n)
{
    if (!t->data) {
        float *d = loom_plan_alloc(p, n);
        if (!d) return LOOM_E_NOMEM;
        memcpy(d, v, (size_t)n * sizeof *d);
        *t = loom_tensor_view(d, LOOM_F32, 1, &n);
        return LOOM_OK;
    }
    float *d = t->data;
    for (int64_t j = 0; j < n; j++) d[j] *= v[j];
    return LOOM_OK;
}

/* A transform at the current position: it scales the base and every term before it (§6.11). */
static loom_status transform(loom_adapter_plans *p, loom_ad_group *grp, loom_ad_term *terms, int n_terms, int out_side,
                             const float *v, int64_t n)
{
    LOOM_TRY(scale_vec(p, out_side ? &grp->out_scale : &grp->in_scale, v, n));
    for (int j = 0; j < n_terms; j++) LOOM_TRY(scale_vec(p, out_side ? &terms[j].out_scale : &terms[j].in_scale, v, n));
    return LOOM_OK;
}

/* Empty means all ones: a vector the transforms left at exactly 1 is dropped. */
static void drop_ones(loom_tensor *t)
{
    const float *d = t->data;
    int64_t n = d ? t->shape[0] : 0;
    for (int64_t j = 0; j < n; j++)
        if (d[j] != 1.0f) return;
    memset(t, 0, sizeof *t);
}

static loom_status term_factors(row_ctx *rc, const loom_adapter_module *m, loom_ad_term *t)
{
    for (int j = 0; j < rc->n_cached; j++)
        if (rc->cached_m[j] == m) {
            *t = rc->cached_t[j];
            return LOOM_OK;
        }
    LOOM_TRY(loom_plan_term_factors(rc->p, m, t));
    rc->cached_m[rc->n_cached] = m;
    rc->cached_t[rc->n_cached++] = *t;
    return LOOM_OK;
}

typedef struct scratch {
    float *w;    /* running weight W_{k−1} [O, cols], while a later DoRA needs it */
    float *dw;   /* a module's dense ΔW [O, cols] */
    float *v;    /* a per-channel vector, max(O, I) */
} scratch;

/* §2.4 / §6.6: IA³ at multiplier m is W ⊙ (1 + m·w) along the output rows or the input columns;
 * the bias is not scaled. */
static loom_status add_ia3(row_ctx *rc, loom_ad_group *grp, loom_ad_term *terms, int n_terms, const entry *e,
                           scratch *s, int track)
{
    const loom_adapter_module *m = e->m;
    const loom_plan_geom *g = &rc->g;
    if (m->f[LOOM_AR_DORA].data)
        return loom_fail(LOOM_E_UNSUPPORTED, "adapter plan: %s: IA³ module with dora_scale", m->target->kohya);
    int64_t n = m->on_input ? g->i : g->o;
    const float *w = m->f[LOOM_AR_IA3_WEIGHT].data;
    for (int64_t j = 0; j < n; j++) s->v[j] = 1.0f + e->mult * w[j];
    LOOM_TRY(transform(rc->p, grp, terms, n_terms, !m->on_input, s->v, n));
    for (int64_t o = 0; track && o < g->o; o++) /* the running weight, for a later DoRA */
        for (int64_t pq = 0; pq < g->k; pq++) {
            float *x = s->w + o * g->cols + pq * g->i;
            for (int64_t i = 0; i < g->i; i++) x[i] *= s->v[m->on_input ? i : o];
        }
    return LOOM_OK;
}

/* §2.9 / §6.7, A1111's W + m(ρ⊙V − W):
 *   output axis: W_k = (1 − m + mρ) ⊙_rows W_run + (m·ρ·s) ⊙_rows ΔW → transform, then a term
 *                with scale s and out_scale m·ρ;
 *   input axis:  W_k = W_run ⊙_cols (1 − m + mγ) + m·s·ΔW ⊙_cols γ → transform, then a term with
 *                scale m·s and in_scale γ. */
static loom_status add_dora(row_ctx *rc, loom_ad_group *grp, loom_ad_term *terms, int n_terms, const entry *e,
                            scratch *s, int track)
{
    const loom_plan_geom *g = &rc->g;
    loom_ad_term *t = &terms[n_terms];
    float m = e->mult;
    int axis;
    LOOM_TRY(loom_plan_term_dense(t, g, s->dw));
    LOOM_TRY(loom_plan_dora(e->m, g, m, s->w, s->dw, track, &axis, s->v));
    int64_t n = axis ? g->o : g->i;
    float *own_vec = loom_plan_alloc(rc->p, n);
    if (!own_vec) return LOOM_E_NOMEM;
    for (int64_t j = 0; j < n; j++) {
        own_vec[j] = axis ? m * s->v[j] : s->v[j];
        s->v[j] = 1.0f - m + m * s->v[j];
    }
    LOOM_TRY(transform(rc->p, grp, terms, n_terms, axis, s->v, n));
    if (axis) t->out_scale = loom_tensor_view(own_vec, LOOM_F32, 1, &n), t->scale = e->m->scale;
    else t->in_scale = loom_tensor_view(own_vec, LOOM_F32, 1, &n), t->scale = m * e->m->scale;
    return LOOM_OK;
}

/* One set's modules on this row, in prompt order → *grp. */
static loom_status build_group(row_ctx *rc, const entry *e, int n, loom_ad_group *grp)
{
    const loom_plan_geom *g = &rc->g;
    int last_dora = -1, n_add = 0;
    for (int k = 0; k < n; k++) {
        if (e[k].m->f[LOOM_AR_DORA].data) last_dora = k;
        n_add += e[k].m->kind != LOOM_ADAPTER_IA3;
    }
    loom_ad_term *terms = n_add ? own(rc->p, (size_t)n_add * sizeof *terms) : NULL;
    if (n_add && !terms) return LOOM_E_NOMEM;
    int64_t nv = g->o > g->i ? g->o : g->i;
    scratch s = {NULL, NULL, malloc((size_t)nv * sizeof(float))};
    loom_status st = s.v ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
    if (!st && last_dora >= 0) { /* only modules with DoRA read the base weight (plan.h) */
        st = loom_plan_base_f32(rc->base, rc->user, rc->map, rc->row, &s.w);
        s.dw = st ? NULL : malloc((size_t)(g->o * g->cols) * sizeof *s.dw);
        if (!st && !s.dw) st = loom_fail(LOOM_E_NOMEM, "adapter plan: %s: out of memory", rc->map->rows[rc->row].kohya);
    }
    int nt = 0;
    for (int k = 0; k < n && !st; k++) {
        const loom_adapter_module *m = e[k].m;
        int track = k < last_dora; /* a later DoRA reads the running weight W_k */
        if (m->kind == LOOM_ADAPTER_IA3) {
            st = add_ia3(rc, grp, terms, nt, &e[k], &s, track);
            continue;
        }
        loom_ad_term *t = &terms[nt];
        st = term_factors(rc, m, t);
        if (!st && m->f[LOOM_AR_DORA].data) {
            st = add_dora(rc, grp, terms, nt, &e[k], &s, track);
        } else if (!st) {
            t->scale = m->scale * e[k].mult; /* §3.2: s·m */
            if (track && !(st = loom_plan_term_dense(t, g, s.dw)))
                for (int64_t j = 0; j < g->o * g->cols; j++) s.w[j] += t->scale * s.dw[j];
        }
        const float *db = m->f[LOOM_AR_DIFF_B].data;
        if (!st && m->kind == LOOM_ADAPTER_FULL && db) { /* §3.2: m·diff_b, no s; no transform scales it */
            if (!grp->bias_add.data) {
                float *b = loom_plan_alloc(rc->p, g->o);
                if (!b) st = LOOM_E_NOMEM;
                else grp->bias_add = loom_tensor_view(b, LOOM_F32, 1, &g->o);
            }
            for (int64_t j = 0; !st && j < g->o; j++) ((float *)grp->bias_add.data)[j] += e[k].mult * db[j];
        }
        if (!st) nt++;
    }
    free(s.w), free(s.dw), free(s.v);
    if (st) return st;
    drop_ones(&grp->in_scale), drop_ones(&grp->out_scale);
    for (int j = 0; j < nt; j++) drop_ones(&terms[j].in_scale), drop_ones(&terms[j].out_scale);
    grp->terms = nt ? terms : NULL;
    grp->n_terms = nt;
    return LOOM_OK;
}

/* Every set's group on one row; e holds the row's entries in set order. */
static loom_status build_row(loom_adapter_plans *p, const loom_keymap_table *map, int row, const entry *e, int n,
                             loom_adapter_base_fn base, void *user)
{
    row_ctx rc = {p, map, row, {0}, base, user, malloc((size_t)n * sizeof *rc.cached_m),
                  malloc((size_t)n * sizeof *rc.cached_t), 0};
    loom_plan_geom_of(&map->rows[row], &rc.g);
    loom_ad_group *groups = own(p, (size_t)p->n_sets * sizeof *groups);
    loom_status st = groups && rc.cached_m && rc.cached_t ? LOOM_OK
                     : loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
    for (int k = 0, end; !st && k < n; k = end) {
        for (end = k; end < n && e[end].set == e[k].set; end++) {}
        st = build_group(&rc, e + k, end - k, &groups[e[k].set]);
    }
    free(rc.cached_m), free(rc.cached_t);
    if (!st) p->rows[row] = groups;
    return st;
}

static loom_status check_set(const loom_adapter_set *s, int i)
{
    if (s->n < 0 || (s->n && !s->uses)) return loom_fail(LOOM_E_INVALID, "adapter plan: set %d has no adapter list", i);
    for (int u = 0; u < s->n; u++) {
        const loom_adapter_use *use = &s->uses[u];
        if (!use->adapter || (use->adapter->n_modules && !use->adapter->modules))
            return loom_fail(LOOM_E_INVALID, "adapter plan: set %d, adapter %d: no parsed adapter", i, u);
        if (!isfinite(use->te) || !isfinite(use->unet))
            return loom_fail(LOOM_E_INVALID, "adapter plan: set %d, adapter %d: multiplier is not a finite number", i,
                             u);
    }
    return LOOM_OK;
}

/* Every (module, set) with a non-zero multiplier, grouped by row (counting sort), set order kept. */
static loom_status gather(const loom_keymap_table *map, const loom_adapter_set *sets, int n_sets, int *first,
                          entry **out)
{
    int *count = calloc((size_t)map->n_rows + 1, sizeof *count);
    if (!count) return loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 0; s < n_sets; s++) {
            loom_status st = check_set(&sets[s], s);
            for (int u = 0; !st && u < sets[s].n; u++) {
                const loom_adapter *a = sets[s].uses[u].adapter;
                for (int i = 0; !st && i < a->n_modules; i++) {
                    const loom_adapter_module *m = &a->modules[i];
                    int row = 0;
                    st = row_of(map, m, &row);
                    float mult = st ? 0.0f : multiplier_of(m, &sets[s].uses[u]);
                    if (st || mult == 0.0f) continue; /* plan.h: a zero multiplier leaves the module out */
                    if (pass == 0) count[row]++;
                    else (*out)[first[row] + count[row]++] = (entry){m, mult, s};
                }
            }
            if (st) {
                free(count);
                return st;
            }
        }
        if (pass == 0) {
            first[0] = 0;
            for (int r = 0; r < map->n_rows; r++) first[r + 1] = first[r] + count[r], count[r] = 0;
            *out = malloc((size_t)(first[map->n_rows] ? first[map->n_rows] : 1) * sizeof **out);
            if (!*out) {
                free(count);
                return loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
            }
        }
    }
    free(count);
    return LOOM_OK;
}

loom_status loom_adapter_plans_build(const loom_keymap_table *map, const loom_adapter_set *sets, int n_sets,
                                     loom_adapter_base_fn base, void *user, loom_adapter_plans **out)
{
    if (!out) return loom_fail(LOOM_E_INVALID, "adapter plan: no output");
    *out = NULL;
    if (!map || map->n_rows < 0 || (map->n_rows && !map->rows) || n_sets < 0 || (n_sets && !sets))
        return loom_fail(LOOM_E_INVALID, "adapter plan: no key table or adapter sets");
    static uint64_t next_serial; /* plans are built by the request's thread, one at a time */
    loom_adapter_plans *p = calloc(1, sizeof *p);
    if (p) p->serial = ++next_serial;
    int *first = calloc((size_t)map->n_rows + 1, sizeof *first);
    entry *e = NULL;
    loom_status st = p && first ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
    if (!st) {
        p->n_sets = n_sets, p->n_rows = map->n_rows;
        p->rows = calloc((size_t)(map->n_rows ? map->n_rows : 1), sizeof *p->rows);
        st = p->rows ? gather(map, sets, n_sets, first, &e) : loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory");
    }
    for (int r = 0; !st && r < map->n_rows; r++)
        if (first[r + 1] > first[r]) st = build_row(p, map, r, e + first[r], first[r + 1] - first[r], base, user);
    free(first), free(e);
    if (st) {
        loom_adapter_plans_free(p);
        return st;
    }
    *out = p;
    return LOOM_OK;
}
