/* plan_device.c — host adapter plans → device copies (plan_device.h).
 *
 * Three passes over the host groups: count (rows touched, terms, tensor slots), lay out (every
 * present tensor checked and given an arena offset, shared factors of a row once), fill (f32 →
 * f16 or bf16 conversion of the factors into one host staging buffer, one upload). Then the LoHa/LoKr ΔWs: each
 * HADA/KRON term's dense f32 ΔW laid out in a second device allocation (terms of a row with the
 * same factors share one) and built there from the uploaded factors (adapter_dense.h). Device
 * tensor pointers are set only once their memory exists, and any failure frees the whole object,
 * so a failed build leaves nothing half-made. */
#include "plan_device.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_dense.h"
#include "backend.h"

#define ARENA_ALIGN 256 /* cudaMalloc's own alignment: every tensor starts as if allocated alone */

struct loom_adapter_plans_device {
    int n_sets, n_rows;
    loom_ad_group **rows; /* [n_rows]: n_sets groups in `groups`, or NULL */
    loom_ad_group *groups;
    loom_ad_term *terms;
    size_t n_terms;
    void *arena;        /* factors and vectors */
    size_t arena_bytes;
    void *dense_arena;  /* the HADA/KRON terms' ΔWs (adapter_plan.h "Precomputed ΔW") */
    size_t dense_bytes;
};

typedef const loom_ad_group *(*row_fn)(const void *src, int row);

typedef struct entry { /* one host tensor to upload */
    const float *src;
    size_t numel, offset;
    loom_dtype dt; /* on the device: LOOM_F32 (vectors) or the factor dtype */
} entry;

typedef struct slot { /* a device tensor whose data is entry `e` */
    loom_tensor *dst;
    size_t e;
} slot;

typedef struct builder {
    row_fn get;
    const void *src;
    loom_dtype factor_dt; /* LOOM_F16 or LOOM_BF16 */
    entry *entries;
    slot *slots;
    size_t n_entries, n_slots, bytes;
} builder;

static const loom_ad_group *plans_row(const void *src, int row) { return loom_adapter_plans_row(src, row); }

static const loom_ad_group *array_row(const void *src, int row) { return row == 0 ? src : NULL; }

/* "row 3 group 1 term 0 down", for messages */
typedef struct where {
    int row, group, term;
    const char *name;
} where;

static loom_status fail_at(const where *w, const char *what)
{
    if (w->term >= 0)
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: row %d group %d term %d: %s %s", w->row, w->group,
                         w->term, w->name, what);
    return loom_fail(LOOM_E_INVALID, "adapter plan upload: row %d group %d: %s %s", w->row, w->group, w->name, what);
}

/* A present host tensor is f32, on the host, contiguous, with a sane shape (plan.c's output). */
static loom_status check_host(const where *w, const loom_tensor *t, size_t *numel)
{
    if (t->dtype != LOOM_F32 || t->device != LOOM_HOST) return fail_at(w, "is not an f32 host tensor (plan.h)");
    if (t->ndim < 0 || t->ndim > LOOM_MAX_DIMS) return fail_at(w, "has a bad number of dims");
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) return fail_at(w, "has a negative extent");
        if (t->shape[d] && n > SIZE_MAX / sizeof(float) / (uint64_t)t->shape[d]) return fail_at(w, "is too large");
        n *= (size_t)t->shape[d];
    }
    if (!loom_tensor_is_contiguous(t)) return fail_at(w, "is not contiguous");
    *numel = n;
    return LOOM_OK;
}

/* Lays out one tensor slot: src (host) → dst (device view, data set later). Entries from
 * row_first on belong to the current row and are searched for a shared factor. */
static loom_status lay_out(builder *b, const where *w, const loom_tensor *src, loom_tensor *dst, loom_dtype dt,
                           size_t row_first)
{
    memset(dst, 0, sizeof *dst);
    if (!src->data) return LOOM_OK; /* empty: all ones / zeros (adapter_plan.h) */
    size_t numel = 0;
    LOOM_TRY(check_host(w, src, &numel));
    *dst = loom_tensor_view(NULL, dt, src->ndim, src->shape);
    dst->device = LOOM_CUDA;
    size_t e = row_first;
    while (e < b->n_entries &&
           !(b->entries[e].src == src->data && b->entries[e].numel == numel && b->entries[e].dt == dt))
        e++;
    if (e == b->n_entries) {
        const size_t esz = loom_dtype_size(dt), raw = numel ? numel * esz : 1; /* numel·4 fits (check_host) */
        if (raw > SIZE_MAX - ARENA_ALIGN) return fail_at(w, "is too large");
        const size_t padded = (raw + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
        if (b->bytes > SIZE_MAX - padded) return fail_at(w, "does not fit the address space with the rest");
        b->entries[b->n_entries++] = (entry){src->data, numel, b->bytes, dt};
        b->bytes += padded;
    }
    b->slots[b->n_slots++] = (slot){dst, e};
    return LOOM_OK;
}

static loom_status lay_out_term(builder *b, where *w, const loom_ad_term *t, loom_ad_term *d, size_t row_first)
{
    *d = *t;
    const loom_tensor *src[6] = {&t->down, &t->up, &t->down2, &t->up2, &t->in_scale, &t->out_scale};
    loom_tensor *dst[6] = {&d->down, &d->up, &d->down2, &d->up2, &d->in_scale, &d->out_scale};
    static const char *const names[6] = {"down", "up", "down2", "up2", "in_scale", "out_scale"};
    for (int k = 0; k < 6; k++) {
        w->name = names[k];
        LOOM_TRY(lay_out(b, w, src[k], dst[k], k < 4 ? b->factor_dt : LOOM_F32, row_first));
    }
    memset(&d->dense, 0, sizeof d->dense); /* a host plan's is never used: build_dense makes the device's */
    return LOOM_OK;
}

void loom_adapter_plans_device_free(loom_adapter_plans_device *p)
{
    if (!p) return;
    if (p->arena || p->dense_arena) {
        (void)loom_device_sync(); /* queued ops (and ΔW builds) may still read the factors */
        (void)loom_device_free(p->arena);
        (void)loom_device_free(p->dense_arena);
    }
    free(p->rows);
    free(p->groups);
    free(p->terms);
    free(p);
}

/* Pass 1: rows touched, terms and slots; malformed group arrays fail here. */
static loom_status count(const builder *b, int n_rows, int n_sets, size_t *n_touched, size_t *n_terms,
                         size_t *n_slots)
{
    *n_touched = *n_terms = *n_slots = 0;
    for (int r = 0; r < n_rows; r++) {
        const loom_ad_group *g = b->get(b->src, r);
        if (!g) continue;
        ++*n_touched;
        for (int s = 0; s < n_sets; s++) {
            if (g[s].n_terms < 0 || (g[s].n_terms > 0 && !g[s].terms))
                return loom_fail(LOOM_E_INVALID, "adapter plan upload: row %d group %d has %d terms but no term array",
                                 r, s, g[s].n_terms);
            if ((size_t)g[s].n_terms > SIZE_MAX / 16 - *n_terms)
                return loom_fail(LOOM_E_INVALID, "adapter plan upload: too many terms");
            *n_terms += (size_t)g[s].n_terms;
        }
    }
    if (*n_touched && (size_t)n_sets > SIZE_MAX / 16 / *n_touched)
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: too many groups");
    /* groups and terms are each < SIZE_MAX/16, so 3·groups + 6·terms < SIZE_MAX */
    *n_slots = *n_touched * (size_t)n_sets * 3 + *n_terms * 6;
    return LOOM_OK;
}

/* Pass 2: device groups/terms with every tensor laid out. */
static loom_status lay_out_all(builder *b, loom_adapter_plans_device *p)
{
    size_t gi = 0, ti = 0;
    for (int r = 0; r < p->n_rows; r++) {
        const loom_ad_group *g = b->get(b->src, r);
        if (!g) continue;
        const size_t row_first = b->n_entries;
        p->rows[r] = &p->groups[gi];
        for (int s = 0; s < p->n_sets; s++, gi++) {
            loom_ad_group *d = &p->groups[gi];
            *d = g[s];
            where w = {r, s, -1, "in_scale"};
            LOOM_TRY(lay_out(b, &w, &g[s].in_scale, &d->in_scale, LOOM_F32, row_first));
            w.name = "out_scale";
            LOOM_TRY(lay_out(b, &w, &g[s].out_scale, &d->out_scale, LOOM_F32, row_first));
            w.name = "bias_add";
            LOOM_TRY(lay_out(b, &w, &g[s].bias_add, &d->bias_add, LOOM_F32, row_first));
            d->terms = g[s].n_terms ? &p->terms[ti] : NULL;
            for (int k = 0; k < g[s].n_terms; k++, ti++) {
                w.term = k;
                LOOM_TRY(lay_out_term(b, &w, &g[s].terms[k], &p->terms[ti], row_first));
            }
        }
    }
    return LOOM_OK;
}

/* Pass 3: staging → device, then the pointers. */
static loom_status upload(builder *b, loom_adapter_plans_device *p)
{
    if (!b->bytes) return LOOM_OK;
    unsigned char *stage = calloc(1, b->bytes);
    if (!stage) return loom_fail(LOOM_E_NOMEM, "adapter plan upload: no host memory for %zu bytes of staging", b->bytes);
    for (size_t j = 0; j < b->n_entries; j++) {
        const entry *e = &b->entries[j];
        if (e->dt == LOOM_F16) { /* round to nearest even, as torch's casts */
            uint16_t *h = (uint16_t *)(stage + e->offset);
            for (size_t i = 0; i < e->numel; i++) h[i] = loom_f32_to_f16(e->src[i]);
        } else if (e->dt == LOOM_BF16) {
            uint16_t *h = (uint16_t *)(stage + e->offset);
            for (size_t i = 0; i < e->numel; i++) h[i] = loom_f32_to_bf16(e->src[i]);
        } else if (e->numel) {
            memcpy(stage + e->offset, e->src, e->numel * sizeof(float));
        }
    }
    loom_status st = loom_device_alloc(b->bytes, &p->arena);
    if (st == LOOM_OK) st = loom_device_upload(p->arena, stage, b->bytes);
    free(stage);
    if (st != LOOM_OK) return st;
    p->arena_bytes = b->bytes;
    for (size_t j = 0; j < b->n_slots; j++) b->slots[j].dst->data = (unsigned char *)p->arena + b->entries[b->slots[j].e].offset;
    return LOOM_OK;
}

/* ---- the LoHa/LoKr ΔWs ---------------------------------------------------------------------- */

typedef struct dense_slot {
    size_t offset; /* in the dense arena */
    int own;       /* 1: this term builds it; 0: an earlier term of the row with the same factors did */
} dense_slot;

static int builds_dense(const loom_ad_term *t) { return t->kind == LOOM_AD_HADA || t->kind == LOOM_AD_KRON; }

/* An earlier term of row groups g (sets 0 .. s, terms before k in set s) with t's kind and
 * factors (the same device memory: lay_out stores a factor a row shares once), or NULL. */
static const loom_ad_term *same_factors(const loom_ad_group *g, int s, int k, const loom_ad_term *t)
{
    for (int s2 = 0; s2 <= s; s2++)
        for (int k2 = 0; k2 < (s2 < s ? g[s2].n_terms : k); k2++) {
            const loom_ad_term *u = &g[s2].terms[k2];
            if (u->kind == t->kind && u->down.data == t->down.data && u->up.data == t->up.data &&
                u->down2.data == t->down2.data && u->up2.data == t->up2.data)
                return u;
        }
    return NULL;
}

/* Pass 4 (after the upload): every HADA/KRON term gets its ΔW [O, K] f32 in one more device
 * allocation, built from its factors; a ΔW a row's terms share is built once. */
static loom_status build_dense(loom_adapter_plans_device *p)
{
    dense_slot *place = calloc(p->n_terms + 1, sizeof *place);
    if (!place) return loom_fail(LOOM_E_NOMEM, "adapter plan upload: out of host memory");
    loom_status st = LOOM_OK;
    size_t bytes = 0;
    char what[96];
    for (int r = 0; st == LOOM_OK && r < p->n_rows; r++) { /* lay out: shapes and offsets */
        const loom_ad_group *g = p->rows[r];
        for (int s = 0; g && st == LOOM_OK && s < p->n_sets; s++)
            for (int k = 0; st == LOOM_OK && k < g[s].n_terms; k++) {
                const size_t i = (size_t)(&g[s].terms[k] - p->terms); /* the group's terms are in p->terms */
                loom_ad_term *t = &p->terms[i];
                if (!builds_dense(t)) continue;
                const loom_ad_term *u = same_factors(g, s, k, t);
                snprintf(what, sizeof what, "adapter plan upload: row %d group %d term %d", r, s, k);
                loom_ad_dense_shape ds;
                st = loom_ad_term_dense_shape(t, what, &ds);
                if (st != LOOM_OK) break;
                const int64_t shape[2] = {ds.o, ds.k};
                t->dense = loom_tensor_view(NULL, LOOM_F32, 2, shape);
                t->dense.device = LOOM_CUDA;
                if (u) {
                    place[i] = (dense_slot){place[u - p->terms].offset, 0};
                    continue;
                }
                const size_t raw = ds.o && ds.k ? (size_t)(ds.o * ds.k) * sizeof(float) : 1; /* fits (dense_shape) */
                const size_t padded =
                    raw > SIZE_MAX - ARENA_ALIGN ? 0 : (raw + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
                if (!padded || bytes > SIZE_MAX - padded)
                    st = loom_fail(LOOM_E_NOMEM, "%s: the dense deltas do not fit the address space", what);
                else
                    place[i] = (dense_slot){bytes, 1}, bytes += padded;
            }
    }
    const loom_status at = st == LOOM_OK && bytes ? loom_device_alloc(bytes, &p->dense_arena) : LOOM_OK;
    if (at == LOOM_E_NOMEM) {
        /* 4·O·K bytes a module (twice its f16 weight): when the GPU cannot hold them all, the ops
         * build each ΔW per call into their scratch as before — slower, never a failed request */
        for (size_t i = 0; i < p->n_terms; i++) memset(&p->terms[i].dense, 0, sizeof p->terms[i].dense);
        free(place);
        return LOOM_OK;
    }
    if (at != LOOM_OK) st = loom_fail_wrap(at, "adapter plan upload: the LoHa/LoKr deltas (%zu bytes)", bytes);
    if (st == LOOM_OK && bytes) {
        p->dense_bytes = bytes;
        for (size_t i = 0; i < p->n_terms; i++) /* every laid-out term, owner or sharer */
            if (builds_dense(&p->terms[i])) p->terms[i].dense.data = (unsigned char *)p->dense_arena + place[i].offset;
        for (int r = 0; st == LOOM_OK && r < p->n_rows; r++) { /* build each ΔW once */
            const loom_ad_group *g = p->rows[r];
            for (int s = 0; g && st == LOOM_OK && s < p->n_sets; s++)
                for (int k = 0; st == LOOM_OK && k < g[s].n_terms; k++) {
                    const loom_ad_term *t = &g[s].terms[k];
                    if (!builds_dense(t) || !place[t - p->terms].own) continue;
                    snprintf(what, sizeof what, "adapter plan upload: row %d group %d term %d", r, s, k);
                    st = loom_cuda_ad_term_delta(t, what, &t->dense);
                }
        }
        if (st == LOOM_OK) st = loom_device_sync(); /* a fault in the builds surfaces here, not in a later op */
    }
    free(place);
    return st;
}

static loom_status build(row_fn get, const void *src, int n_rows, int n_sets, loom_dtype dt,
                         loom_adapter_plans_device **out)
{
    *out = NULL;
    if (n_rows < 0 || n_sets < 0)
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: %d rows of %d sets", n_rows, n_sets);
    if (dt != LOOM_F16 && dt != LOOM_BF16)
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: factors as %s; the CUDA ops take f16 or bf16",
                         loom_dtype_name(dt));
    builder b = {get, src, dt, NULL, NULL, 0, 0, 0};
    size_t n_touched = 0, n_terms = 0, n_slots = 0;
    LOOM_TRY(count(&b, n_rows, n_sets, &n_touched, &n_terms, &n_slots));
    loom_adapter_plans_device *p = calloc(1, sizeof *p);
    if (p) {
        p->n_sets = n_sets, p->n_rows = n_rows;
        p->rows = calloc(n_rows ? (size_t)n_rows : 1, sizeof *p->rows);
        p->groups = calloc(n_touched * (size_t)n_sets + 1, sizeof *p->groups);
        p->terms = calloc(n_terms + 1, sizeof *p->terms);
        p->n_terms = n_terms;
    }
    b.entries = calloc(n_slots + 1, sizeof *b.entries); /* at most one entry per slot */
    b.slots = calloc(n_slots + 1, sizeof *b.slots);
    loom_status st = p && p->rows && p->groups && p->terms && b.entries && b.slots
                         ? LOOM_OK
                         : loom_fail(LOOM_E_NOMEM, "adapter plan upload: out of host memory");
    if (st == LOOM_OK) st = lay_out_all(&b, p);
    if (st == LOOM_OK) st = upload(&b, p);
    if (st == LOOM_OK) st = build_dense(p);
    free(b.entries);
    free(b.slots);
    if (st != LOOM_OK) {
        loom_adapter_plans_device_free(p);
        return st;
    }
    *out = p;
    return LOOM_OK;
}

loom_status loom_adapter_plans_device_build_dtype(const loom_adapter_plans *host, int n_rows, loom_dtype dtype,
                                                  loom_adapter_plans_device **out)
{
    if (!host) {
        *out = NULL;
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: no host plans");
    }
    return build(plans_row, host, n_rows, loom_adapter_plans_n_sets(host), dtype, out);
}

loom_status loom_adapter_plans_device_build(const loom_adapter_plans *host, int n_rows,
                                            loom_adapter_plans_device **out)
{
    return loom_adapter_plans_device_build_dtype(host, n_rows, LOOM_F16, out);
}

loom_status loom_ad_groups_to_device_dtype(const loom_ad_group *host, int n, loom_dtype dtype,
                                           loom_adapter_plans_device **out)
{
    if (n > 0 && !host) {
        *out = NULL;
        return loom_fail(LOOM_E_INVALID, "adapter plan upload: %d groups but no group array", n);
    }
    return build(array_row, host, 1, n, dtype, out);
}

loom_status loom_ad_groups_to_device(const loom_ad_group *host, int n, loom_adapter_plans_device **out)
{
    return loom_ad_groups_to_device_dtype(host, n, LOOM_F16, out);
}

int loom_adapter_plans_device_n_sets(const loom_adapter_plans_device *p) { return p ? p->n_sets : 0; }

const loom_ad_group *loom_adapter_plans_device_row(const loom_adapter_plans_device *p, int row)
{
    return p && row >= 0 && row < p->n_rows ? p->rows[row] : NULL;
}

size_t loom_adapter_plans_device_bytes(const loom_adapter_plans_device *p)
{
    return p ? p->arena_bytes + p->dense_bytes : 0; /* two live allocations: the sum fits */
}
