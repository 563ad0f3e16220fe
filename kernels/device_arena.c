/* device_arena.c — see device_arena.h. */
#include "device_arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct loom_arena_space {
    loom_arena_allocator a;
    void *block;
    size_t cap;
    int n_arenas;
};

typedef struct rec { /* one allocation of a recorded call */
    size_t bytes;
    int64_t t0, t1;  /* t1 < 0: still alive (escapes if so at end) */
} rec;

typedef struct live { /* an allocator-backed allocation made in scope, not yet freed */
    void *p;
    int rec; /* its record (recording), or -1 */
} live;

struct loom_device_arena {
    char name[32];
    loom_arena_space *space;
    int in_scope, recording, need_record, diverged;
    int64_t clock;       /* allocations and frees seen in this call */
    rec *recs;           /* the recorded call (then: the plan's sizes) */
    int n_recs, cap_recs;
    size_t *offset;      /* [n_plan]: SIZE_MAX for an escaping allocation */
    int n_plan, cursor;
    live *lives;
    int n_lives, cap_lives;
    size_t cur_live, peak_live, sum_bytes, planned;
    int n_plans, n_replays;
    loom_device_arena *next; /* every arena, for frees after a scope */
};

static _Thread_local loom_device_arena *g_current;
static loom_device_arena *g_arenas; /* list of all arenas (frees of escaped tensors find theirs) */

/* ---- planner ---------------------------------------------------------------- */

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

typedef struct by_size {
    size_t bytes;
    int64_t t0;
    int i;
} by_size;

static int cmp_size(const void *pa, const void *pb)
{
    const by_size *a = pa, *b = pb;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    if (a->t0 != b->t0) return a->t0 < b->t0 ? -1 : 1;
    return a->i - b->i;
}

typedef struct span {
    size_t lo, hi;
} span;

static int cmp_span(const void *pa, const void *pb)
{
    const span *a = pa, *b = pb;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

loom_status loom_arena_plan(const loom_arena_block *b, int n, size_t align, size_t *offset, size_t *total)
{
    *total = 0;
    if (n <= 0) return LOOM_OK;
    if (!align || (align & (align - 1))) return loom_fail(LOOM_E_INVALID, "arena plan: alignment %zu", align);
    by_size *order = malloc((size_t)n * sizeof *order);
    span *busy = malloc((size_t)n * sizeof *busy);
    char *placed = calloc((size_t)n, 1);
    if (!order || !busy || !placed) {
        free(order), free(busy), free(placed);
        return loom_fail(LOOM_E_NOMEM, "arena plan: out of memory for %d blocks", n);
    }
    for (int i = 0; i < n; i++) {
        if (b[i].t1 <= b[i].t0 || b[i].bytes > SIZE_MAX / 2) {
            free(order), free(busy), free(placed);
            return loom_fail(LOOM_E_INVALID, "arena plan: block %d has lifetime [%lld, %lld) and %zu bytes", i,
                             (long long)b[i].t0, (long long)b[i].t1, b[i].bytes);
        }
        order[i] = (by_size){round_up(b[i].bytes ? b[i].bytes : 1, align), b[i].t0, i};
    }
    qsort(order, (size_t)n, sizeof *order, cmp_size);
    size_t top = 0;
    for (int k = 0; k < n; k++) {
        const int i = order[k].i;
        const size_t need = order[k].bytes;
        int nb = 0; /* placed blocks alive at the same time as i, by offset */
        for (int j = 0; j < n; j++)
            if (placed[j] && b[j].t0 < b[i].t1 && b[i].t0 < b[j].t1)
                busy[nb++] = (span){offset[j], offset[j] + round_up(b[j].bytes ? b[j].bytes : 1, align)};
        qsort(busy, (size_t)nb, sizeof *busy, cmp_span);
        size_t at = 0; /* the lowest gap that fits */
        for (int j = 0; j < nb; j++) {
            if (busy[j].lo >= at + need) break;
            if (busy[j].hi > at) at = busy[j].hi;
        }
        offset[i] = at;
        placed[i] = 1;
        if (at + need > top) top = at + need;
    }
    free(order), free(busy), free(placed);
    *total = top;
    return LOOM_OK;
}

/* ---- spaces -------------------------------------------------------------------- */

static loom_status dev_alloc(void *user, size_t bytes, void **out)
{
    (void)user;
    return loom_device_alloc(bytes, out);
}
static void dev_free(void *user, void *p)
{
    (void)user;
    (void)loom_device_free(p); /* a failing free means the context is already broken */
}
static void dev_trim(void *user)
{
    (void)user;
    (void)loom_device_trim();
}

static loom_arena_space g_device_space = {{dev_alloc, dev_free, dev_trim, NULL}, NULL, 0, 0};

loom_arena_space *loom_arena_space_device(void) { return &g_device_space; }

loom_status loom_arena_space_create(const loom_arena_allocator *a, loom_arena_space **out)
{
    *out = NULL;
    if (!a || !a->alloc || !a->free) return loom_fail(LOOM_E_INVALID, "arena space: no allocator");
    loom_arena_space *s = calloc(1, sizeof *s);
    if (!s) return loom_fail(LOOM_E_NOMEM, "arena space: out of memory");
    s->a = *a;
    *out = s;
    return LOOM_OK;
}

void loom_arena_space_free(loom_arena_space *s)
{
    if (!s) return;
    if (s->block) s->a.free(s->a.user, s->block);
    s->block = NULL, s->cap = 0;
    if (s != &g_device_space) free(s);
}

/* ---- arenas -------------------------------------------------------------------- */

loom_status loom_device_arena_create(const char *name, loom_arena_space *space, loom_device_arena **out)
{
    *out = NULL;
    loom_device_arena *a = calloc(1, sizeof *a);
    if (!a) return loom_fail(LOOM_E_NOMEM, "arena %s: out of memory", name);
    snprintf(a->name, sizeof a->name, "%s", name ? name : "?");
    a->space = space ? space : &g_device_space;
    a->space->n_arenas++;
    a->need_record = 1;
    a->next = g_arenas;
    g_arenas = a;
    *out = a;
    return LOOM_OK;
}

static void drop_lives(loom_device_arena *a)
{
    for (int i = 0; i < a->n_lives; i++) a->space->a.free(a->space->a.user, a->lives[i].p);
    a->n_lives = 0;
}

void loom_device_arena_free(loom_device_arena *a)
{
    if (!a) return;
    if (g_current == a) g_current = NULL;
    for (loom_device_arena **p = &g_arenas; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    drop_lives(a);
    a->space->n_arenas--;
    free(a->recs), free(a->offset), free(a->lives), free(a);
}

loom_status loom_device_arena_begin(loom_device_arena *a)
{
    if (g_current)
        return loom_fail(LOOM_E_INVALID, "arena %s: begun inside arena %s (scopes do not nest)", a->name,
                         g_current->name);
    a->in_scope = 1, a->clock = 0, a->cursor = 0, a->diverged = 0;
    a->recording = a->need_record;
    if (a->recording) a->n_recs = 0, a->cur_live = 0, a->peak_live = 0, a->sum_bytes = 0;
    g_current = a;
    return LOOM_OK;
}

static loom_status grow(void **p, int *cap, int want, size_t elem)
{
    if (want <= *cap) return LOOM_OK;
    const int n = *cap ? 2 * *cap : 256;
    void *q = realloc(*p, (size_t)(n > want ? n : want) * elem);
    if (!q) return loom_fail(LOOM_E_NOMEM, "arena: out of host memory");
    *p = q, *cap = n > want ? n : want;
    return LOOM_OK;
}

static loom_status plan_now(loom_device_arena *a)
{
    loom_arena_block *b = malloc((size_t)(a->n_recs ? a->n_recs : 1) * sizeof *b);
    size_t *off = malloc((size_t)(a->n_recs ? a->n_recs : 1) * sizeof *off);
    int *idx = malloc((size_t)(a->n_recs ? a->n_recs : 1) * sizeof *idx);
    if (!b || !off || !idx) {
        free(b), free(off), free(idx);
        return loom_fail(LOOM_E_NOMEM, "arena %s: out of host memory planning %d tensors", a->name, a->n_recs);
    }
    int n = 0;
    for (int i = 0; i < a->n_recs; i++)
        if (a->recs[i].t1 >= 0) idx[n] = i, b[n++] = (loom_arena_block){a->recs[i].bytes, a->recs[i].t0, a->recs[i].t1};
    size_t total = 0, *planned_off = malloc((size_t)(n ? n : 1) * sizeof *planned_off);
    loom_status s = planned_off ? loom_arena_plan(b, n, LOOM_ARENA_ALIGN, planned_off, &total)
                                : loom_fail(LOOM_E_NOMEM, "arena %s: out of host memory", a->name);
    if (s == LOOM_OK) {
        for (int i = 0; i < a->n_recs; i++) off[i] = SIZE_MAX; /* escaping: the allocator */
        for (int k = 0; k < n; k++) off[idx[k]] = planned_off[k];
        loom_arena_space *sp = a->space;
        if (sp->a.trim) sp->a.trim(sp->a.user); /* the recording's pool memory, before the block grows */
        if (total > sp->cap) {
            if (sp->block) sp->a.free(sp->a.user, sp->block);
            sp->block = NULL, sp->cap = 0;
            s = sp->a.alloc(sp->a.user, total, &sp->block);
            if (s == LOOM_OK) sp->cap = total;
            else s = loom_fail_wrap(s, "arena %s: planned block of %zu bytes", a->name, total);
        }
    }
    free(b), free(idx), free(planned_off);
    if (s != LOOM_OK) {
        free(off);
        return s;
    }
    free(a->offset);
    a->offset = off, a->n_plan = a->n_recs, a->planned = total, a->n_plans++;
    return LOOM_OK;
}

loom_status loom_device_arena_end(loom_device_arena *a)
{
    if (g_current != a || !a->in_scope) return loom_fail(LOOM_E_INVALID, "arena %s: end without begin", a->name);
    g_current = NULL, a->in_scope = 0;
    for (int i = 0; i < a->n_lives; i++) a->lives[i].rec = -1; /* escaped: freed later through the allocator */
    if (a->recording) {
        a->need_record = 1; /* unless the plan below is made */
        loom_status s = plan_now(a);
        if (s != LOOM_OK) return s;
        a->need_record = 0;
        return LOOM_OK;
    }
    if (a->diverged || a->cursor != a->n_plan) a->need_record = 1;
    else a->n_replays++;
    return LOOM_OK;
}

static loom_status fallback(loom_device_arena *a, size_t bytes, int rec_i, void **out)
{
    LOOM_TRY(grow((void **)&a->lives, &a->cap_lives, a->n_lives + 1, sizeof *a->lives));
    LOOM_TRY(a->space->a.alloc(a->space->a.user, bytes, out));
    a->lives[a->n_lives++] = (live){*out, rec_i};
    return LOOM_OK;
}

loom_status loom_device_act_alloc(size_t bytes, void **out)
{
    loom_device_arena *a = g_current;
    *out = NULL;
    if (!a) return loom_device_alloc(bytes, out);
    if (a->recording) {
        LOOM_TRY(grow((void **)&a->recs, &a->cap_recs, a->n_recs + 1, sizeof *a->recs));
        LOOM_TRY(fallback(a, bytes, a->n_recs, out));
        a->recs[a->n_recs++] = (rec){bytes, a->clock++, -1};
        const size_t r = round_up(bytes ? bytes : 1, LOOM_ARENA_ALIGN);
        a->cur_live += r, a->sum_bytes += r;
        if (a->cur_live > a->peak_live) a->peak_live = a->cur_live;
        return LOOM_OK;
    }
    const int i = a->cursor++;
    if (!a->diverged && (i >= a->n_plan || a->recs[i].bytes != bytes)) a->diverged = 1;
    if (a->diverged || a->offset[i] == SIZE_MAX) return fallback(a, bytes, -1, out);
    *out = (unsigned char *)a->space->block + a->offset[i];
    return LOOM_OK;
}

/* 1 when p was found (and handled) in arena a. */
static int free_in(loom_device_arena *a, void *p)
{
    const unsigned char *base = a->space->block;
    if (base && (const unsigned char *)p >= base && (const unsigned char *)p < base + a->space->cap)
        return 1; /* planned memory: never freed alone, reused in stream order */
    for (int i = 0; i < a->n_lives; i++) {
        if (a->lives[i].p != p) continue;
        const int r = a->lives[i].rec;
        if (r >= 0 && a->in_scope) {
            a->recs[r].t1 = a->clock++;
            a->cur_live -= round_up(a->recs[r].bytes ? a->recs[r].bytes : 1, LOOM_ARENA_ALIGN);
        }
        a->lives[i] = a->lives[--a->n_lives];
        a->space->a.free(a->space->a.user, p);
        return 1;
    }
    return 0;
}

void loom_device_act_free(void *p)
{
    if (!p) return;
    if (g_current && free_in(g_current, p)) return;
    for (loom_device_arena *a = g_arenas; a; a = a->next)
        if (a != g_current && free_in(a, p)) return;
    (void)loom_device_free(p); /* void API: a failing free means the context is already broken */
}

void loom_device_arena_get_stats(const loom_device_arena *a, loom_device_arena_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!a) return;
    st->name = a->name;
    st->planned_bytes = a->n_plans ? a->planned : 0;
    st->peak_live_bytes = a->peak_live;
    st->sum_bytes = a->sum_bytes;
    st->n_allocs = a->n_plans ? a->n_plan : a->n_recs;
    st->n_plans = a->n_plans;
    st->n_replays = a->n_replays;
    st->space_bytes = a->space->cap;
}
