/* registry.c — the adapter cache of registry.h. A few dozen adapters at most are live at a time,
 * so entries sit in a plain array and every lookup is a linear scan; entries are allocated one
 * by one so the loom_adapter pointers handed out stay put when the array grows. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

typedef struct reg_entry {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    loom_adapter a;
    size_t bytes;
    int refs;
    int stale;          /* its file changed on disk: never handed out again, dropped when unheld */
    uint64_t last_used; /* registry tick of the last acquire or release */
} reg_entry;

struct loom_adapter_registry {
    size_t max_bytes;
    loom_adapter_load_fn load;
    void *user;
    reg_entry **v;
    int n, cap;
    uint64_t tick;
    loom_adapter_registry_stats stats;
};

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t loom_adapter_bytes(const loom_adapter *a)
{
    size_t total = 0;
    for (int i = 0; i < a->n_modules; i++)
        for (int r = 0; r < LOOM_AR_COUNT; r++) {
            const loom_adapter_factor *f = &a->modules[i].f[r];
            /* numel was checked against SIZE_MAX / sizeof(float) when the factor was copied */
            if (f->data) total = add_sat(total, (size_t)f->numel * sizeof(float));
        }
    return total;
}

loom_status loom_adapter_registry_create(size_t max_bytes, loom_adapter_load_fn load, void *user,
                                         loom_adapter_registry **out)
{
    *out = NULL;
    if (!load) return loom_fail(LOOM_E_INVALID, "adapter registry: no loader");
    loom_adapter_registry *r = calloc(1, sizeof *r);
    if (!r) return loom_fail(LOOM_E_NOMEM, "adapter registry: out of memory");
    r->max_bytes = max_bytes;
    r->load = load;
    r->user = user;
    *out = r;
    return LOOM_OK;
}

static void entry_free(reg_entry *e)
{
    loom_adapter_free(&e->a);
    free(e->path);
    free(e);
}

static void drop(loom_adapter_registry *r, int i)
{
    reg_entry *e = r->v[i];
    r->stats.bytes -= e->bytes;
    r->stats.entries--;
    r->stats.evictions++;
    entry_free(e);
    r->v[i] = r->v[--r->n];
}

void loom_adapter_registry_destroy(loom_adapter_registry *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) entry_free(r->v[i]);
    free(r->v);
    free(r);
}

/* Least recently used first, held entries never (registry.h). */
static void evict_over_bound(loom_adapter_registry *r)
{
    while (r->stats.bytes > r->max_bytes) {
        int victim = -1;
        for (int i = 0; i < r->n; i++)
            if (r->v[i]->refs == 0 && (victim < 0 || r->v[i]->last_used < r->v[victim]->last_used)) victim = i;
        if (victim < 0) return; /* everything left is in use */
        drop(r, victim);
    }
}

static loom_status add_entry(loom_adapter_registry *r, const loom_adapter_file_id *id, loom_adapter *a,
                             reg_entry **out)
{
    if (r->n == r->cap) {
        if (r->cap > (1 << 20)) return loom_fail(LOOM_E_NOMEM, "adapter registry: too many entries");
        int cap = r->cap ? 2 * r->cap : 8;
        reg_entry **v = realloc(r->v, (size_t)cap * sizeof *v);
        if (!v) return loom_fail(LOOM_E_NOMEM, "adapter registry: out of memory");
        r->v = v;
        r->cap = cap;
    }
    reg_entry *e = calloc(1, sizeof *e);
    size_t len = strlen(id->path);
    char *path = e ? malloc(len + 1) : NULL;
    if (!path) {
        free(e);
        return loom_fail(LOOM_E_NOMEM, "%s: out of memory", id->path);
    }
    memcpy(path, id->path, len + 1);
    e->path = path;
    e->size = id->size;
    e->mtime_ns = id->mtime_ns;
    e->a = *a; /* the entry owns the factors from here on */
    memset(a, 0, sizeof *a);
    e->bytes = loom_adapter_bytes(&e->a);
    r->v[r->n++] = e;
    r->stats.bytes = add_sat(r->stats.bytes, e->bytes);
    r->stats.entries++;
    *out = e;
    return LOOM_OK;
}

loom_status loom_adapter_registry_acquire(loom_adapter_registry *r, const loom_adapter_file_id *id,
                                          const loom_adapter **out)
{
    *out = NULL;
    if (!id || !id->path) return loom_fail(LOOM_E_INVALID, "adapter registry: no file given");
    for (int i = 0; i < r->n; i++) {
        reg_entry *e = r->v[i];
        if (e->stale || strcmp(e->path, id->path) != 0) continue;
        if (e->size == id->size && e->mtime_ns == id->mtime_ns) {
            e->refs++;
            e->last_used = ++r->tick;
            r->stats.hits++;
            *out = &e->a;
            return LOOM_OK;
        }
        /* The file was rewritten: its old parse must not be served again. Jobs still holding it
         * keep it until they release it. */
        e->stale = 1;
        if (e->refs == 0) drop(r, i--);
    }
    r->stats.misses++;
    loom_adapter a;
    memset(&a, 0, sizeof a);
    loom_status st = r->load(r->user, id->path, &a);
    if (st) {
        loom_adapter_free(&a); /* a loader should leave it empty; be safe if it did not */
        r->stats.load_failures++;
        return st;
    }
    reg_entry *e = NULL;
    st = add_entry(r, id, &a, &e);
    if (st) {
        loom_adapter_free(&a);
        return st;
    }
    e->refs = 1;
    e->last_used = ++r->tick;
    evict_over_bound(r);
    *out = &e->a;
    return LOOM_OK;
}

void loom_adapter_registry_release(loom_adapter_registry *r, const loom_adapter *a)
{
    if (!r || !a) return;
    for (int i = 0; i < r->n; i++) {
        reg_entry *e = r->v[i];
        if (&e->a != a) continue;
        if (e->refs > 0) e->refs--;
        e->last_used = ++r->tick;
        if (e->refs == 0 && e->stale) drop(r, i);
        evict_over_bound(r);
        return;
    }
}

loom_adapter_registry_stats loom_adapter_registry_get_stats(const loom_adapter_registry *r)
{
    return r->stats;
}
