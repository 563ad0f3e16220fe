/* test_device_arena.c — kernels/device_arena.h without a GPU: the planner's guarantees on
 * random lifetimes (no two tensors alive at once share a byte, alignment, bounds between the
 * peak of live bytes and no reuse at all), and the record → plan → replay state machine over a
 * host-memory allocator that counts its calls (replays make none; escaping tensors, size
 * changes and nesting behave as device_arena.h says; live tensors never clobber each other). */
#include <stdlib.h>
#include <string.h>

#include "device_arena.h"
#include "testlib.h"

/* ---- the planner ------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static size_t up(size_t n, size_t a) { return (n ? n : 1) + (a - (n ? n : 1) % a) % a; }

static void check_plan(const loom_arena_block *b, int n, size_t align, const char *what)
{
    size_t *off = malloc((size_t)n * sizeof *off), total = 0;
    T_OK(loom_arena_plan(b, n, align, off, &total));
    size_t sum = 0, peak = 0;
    int overlaps = 0, misaligned = 0, outside = 0;
    for (int i = 0; i < n; i++) {
        sum += up(b[i].bytes, align);
        misaligned += off[i] % align != 0;
        outside += off[i] + up(b[i].bytes, align) > total;
        for (int j = i + 1; j < n; j++) {
            const int live_together = b[i].t0 < b[j].t1 && b[j].t0 < b[i].t1;
            const int share = off[i] < off[j] + up(b[j].bytes, align) && off[j] < off[i] + up(b[i].bytes, align);
            overlaps += live_together && share;
        }
    }
    for (int i = 0; i < n; i++) { /* live bytes just after block i starts */
        size_t live = 0;
        for (int j = 0; j < n; j++)
            if (b[j].t0 <= b[i].t0 && b[i].t0 < b[j].t1) live += up(b[j].bytes, align);
        if (live > peak) peak = live;
    }
    T_CHECK(overlaps == 0, "%s: %d pairs of tensors alive together share memory", what, overlaps);
    T_CHECK(misaligned == 0 && outside == 0, "%s: %d misaligned, %d outside the block", what, misaligned, outside);
    T_CHECK(total >= peak && total <= sum, "%s: block %zu outside [peak %zu, sum %zu]", what, total, peak, sum);
    free(off);
}

static void planner(void)
{
    /* a chain of equal tensors, each dying just after the next is born: two at a time at most,
     * and the greedy plan (first fit, largest first) uses exactly two slots */
    loom_arena_block chain[8];
    for (int i = 0; i < 8; i++) chain[i] = (loom_arena_block){1000, 2 * i, 2 * i + 3};
    check_plan(chain, 8, 256, "chain");
    size_t off[8], total = 0;
    T_OK(loom_arena_plan(chain, 8, 256, off, &total));
    T_CHECK(total == 2 * 1024, "chain: %zu bytes for two 1024-byte tensors alive at once", total);
    /* one after another, never together: one slot, the largest */
    loom_arena_block seq[5];
    for (int i = 0; i < 5; i++) seq[i] = (loom_arena_block){(size_t)(i + 1) * 300, i, i + 1};
    T_OK(loom_arena_plan(seq, 5, 256, off, &total));
    T_CHECK(total == 1536, "sequence: %zu bytes (want the largest, 1536)", total);
    for (int round = 0; round < 200; round++) { /* random lifetimes, sizes spanning 6 orders of magnitude */
        const int n = 1 + (int)rnd(120);
        loom_arena_block b[120];
        for (int i = 0; i < n; i++) {
            const int64_t t0 = rnd(400);
            b[i] = (loom_arena_block){(size_t)1 << rnd(20), t0, t0 + 1 + rnd(60)};
            if (rnd(8) == 0) b[i].bytes = rnd(3); /* 0, 1, 2 bytes */
        }
        check_plan(b, n, rnd(2) ? 256 : 64, "random");
    }
    loom_arena_block bad = {16, 5, 5};
    T_EXPECT_FAIL(loom_arena_plan(&bad, 1, 256, off, &total), "lifetime");
    T_EXPECT_FAIL(loom_arena_plan(chain, 8, 100, off, &total), "alignment");
    T_OK(loom_arena_plan(NULL, 0, 256, NULL, &total));
    T_CHECK(total == 0, "no blocks: %zu bytes", total);
}

/* ---- the state machine over a counting host allocator ------------------------------ */

typedef struct counting {
    int allocs, frees, live;
    size_t last_bytes;
} counting;

static loom_status h_alloc(void *user, size_t bytes, void **out)
{
    counting *c = user;
    *out = malloc(bytes ? bytes : 1);
    if (!*out) return loom_fail(LOOM_E_NOMEM, "host test allocator");
    c->allocs++, c->live++, c->last_bytes = bytes;
    return LOOM_OK;
}

static void h_free(void *user, void *p)
{
    counting *c = user;
    c->frees++, c->live--;
    free(p);
}

/* One "forward": t0 = 1000 B, t1 = 3000 B, free t0, t2 = 1000 B, (escape: e = 64 B), free t1, t2.
 * Fills each tensor with its own byte and checks nothing alive was overwritten. */
static void call(loom_device_arena *a, size_t first, int escape, void **escaped, void **ptrs)
{
    void *t0, *t1, *t2;
    T_OK(loom_device_arena_begin(a));
    T_OK(loom_device_act_alloc(first, &t0));
    T_OK(loom_device_act_alloc(3000, &t1));
    memset(t0, 0xA0, first), memset(t1, 0xA1, 3000);
    loom_device_act_free(t0);
    T_OK(loom_device_act_alloc(1000, &t2));
    memset(t2, 0xA2, 1000);
    if (escape) T_OK(loom_device_act_alloc(64, escaped));
    int ok = 1;
    for (int i = 0; i < 3000; i++) ok &= ((unsigned char *)t1)[i] == 0xA1;
    T_CHECK(ok, "a live tensor was overwritten by another one");
    loom_device_act_free(t1);
    loom_device_act_free(t2);
    T_OK(loom_device_arena_end(a));
    if (ptrs) ptrs[0] = t0, ptrs[1] = t1, ptrs[2] = t2;
}

static void state_machine(void)
{
    counting c = {0};
    const loom_arena_allocator al = {h_alloc, h_free, NULL, &c};
    loom_arena_space *sp;
    loom_device_arena *a, *b;
    T_OK(loom_arena_space_create(&al, &sp));
    T_OK(loom_device_arena_create("test", sp, &a));
    T_OK(loom_device_arena_create("other", sp, &b));

    call(a, 1000, 0, NULL, NULL); /* records: three allocator calls, then the block */
    loom_device_arena_stats st;
    loom_device_arena_get_stats(a, &st);
    T_CHECK(st.n_plans == 1 && st.n_allocs == 3, "after recording: %d plans, %d allocations", st.n_plans, st.n_allocs);
    T_CHECK(c.allocs == 4 && c.live == 1, "recording: %d allocator calls, %d live (want 3 + the block, 1)", c.allocs,
            c.live);
    T_CHECK(st.peak_live_bytes == 1024 + 3072 && st.planned_bytes >= st.peak_live_bytes &&
                st.planned_bytes < st.sum_bytes,
            "plan %zu bytes, peak live %zu, sum %zu", st.planned_bytes, st.peak_live_bytes, st.sum_bytes);

    void *p[3], *q[3];
    call(a, 1000, 0, NULL, p); /* replays: no allocator call, the same addresses every time */
    call(a, 1000, 0, NULL, q);
    loom_device_arena_get_stats(a, &st);
    T_CHECK(c.allocs == 4, "replay called the allocator (%d calls)", c.allocs);
    T_CHECK(st.n_replays == 2, "%d replays", st.n_replays);
    T_CHECK(memcmp(p, q, sizeof p) == 0, "replays gave different addresses");

    call(a, 2000, 0, NULL, NULL); /* a new size: the allocator serves the rest, the next call records */
    T_CHECK(c.allocs > 4, "a mismatched size was served from the plan");
    const int before = c.allocs;
    call(a, 2000, 0, NULL, NULL);
    loom_device_arena_get_stats(a, &st);
    T_CHECK(st.n_plans == 2 && c.allocs > before, "no new plan after a size change (%d plans)", st.n_plans);
    call(a, 2000, 0, NULL, NULL);
    loom_device_arena_get_stats(a, &st);
    T_CHECK(st.n_replays == 3, "the new plan is not replayed (%d replays)", st.n_replays);

    void *e = NULL; /* a tensor that outlives its call is never planned */
    call(a, 1000, 1, &e, NULL); /* diverges (size 1000 ≠ 2000): records next time */
    loom_device_act_free(e);
    call(a, 1000, 1, &e, NULL); /* records with the escape */
    const int live_before = c.live;
    loom_device_act_free(e);
    T_CHECK(c.live == live_before - 1, "an escaped tensor was not freed through the allocator");
    call(a, 1000, 1, &e, NULL); /* replay: e from the allocator, the rest from the block */
    T_CHECK(c.live == live_before, "replay with an escape: %d live allocations (want %d)", c.live, live_before);
    loom_device_act_free(e);

    call(b, 1000, 0, NULL, NULL); /* a second arena in the space shares the block */
    loom_device_arena_get_stats(b, &st);
    T_CHECK(st.n_plans == 1 && st.space_bytes >= st.planned_bytes, "second arena: %d plans, space %zu < plan %zu",
            st.n_plans, st.space_bytes, st.planned_bytes);

    T_OK(loom_device_arena_begin(a));
    T_EXPECT_FAIL(loom_device_arena_begin(b), "nest");
    T_OK(loom_device_arena_end(a));
    T_EXPECT_FAIL(loom_device_arena_end(a), "without begin");
    loom_device_act_free(NULL);

    loom_device_arena_free(a);
    loom_device_arena_free(b);
    loom_arena_space_free(sp);
    T_CHECK(c.live == 0, "%d host allocations leaked", c.live);
}

int main(void)
{
    planner();
    state_machine();
    return t_finish("test_device_arena");
}
