/* device_arena.h — planned activation arenas (issue 5 item 4: "activations from a planned arena
 * with the peak reported").
 *
 * A model entry point (UNet step, CLIP, VAE) brackets its forward pass with begin/end. Its
 * activations are allocated and freed in the same order on every call with the same shapes, so:
 *   1. the first call RECORDS: each allocation comes from the space's allocator (the stream-
 *      ordered pool for the device) and its size and lifetime (allocation and free positions in
 *      the call's sequence of allocations and frees) are noted;
 *   2. end() PLANS: every tensor gets an offset in one block so that tensors alive at the same
 *      time never overlap (greedy by size, largest first: the plan of TFLite/ONNX Runtime's
 *      arena planners); the block is the space's, shared by every arena in it, grown to the
 *      largest plan — models never run at the same time on the one stream, so the UNet, CLIP and
 *      VAE share one block, sized by the largest of them;
 *   3. later calls REPLAY: the i-th allocation gets block + offset[i] when its size is the
 *      recorded one — no allocator call, no sync, the same addresses every step (what CUDA graph
 *      capture needs later). The first mismatch (new resolution or batch) makes the rest of the
 *      call use the allocator and the next call record again.
 * A tensor still alive at end() (one that escapes the call) is never planned: it keeps coming
 * from the allocator. Frees of block memory are no-ops; the block is reused by the next call in
 * stream order (all work is on the default stream, backend.h).
 *
 * One thread drives one arena at a time (scopes do not nest; the current arena is per thread).
 * Stats report the plan's size (the arena's peak) against the peak of live bytes it could not
 * go below, and the number of allocations per call. */
#ifndef LOOM_DEVICE_ARENA_H
#define LOOM_DEVICE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

#define LOOM_ARENA_ALIGN 256 /* cudaMalloc's alignment: every tensor starts as if allocated alone */

/* ---- the planner (pure; tests/unit/test_device_arena.c) -------------------
 * Block i needs bytes[i] (rounded up to `align`) from position t0 to t1 (t0 < t1: alive on
 * [t0, t1)). offset[i] gets its place; *total the block size needed. Two blocks whose lifetimes
 * overlap never share a byte. */
typedef struct loom_arena_block {
    size_t bytes;
    int64_t t0, t1;
} loom_arena_block;
loom_status loom_arena_plan(const loom_arena_block *b, int n, size_t align, size_t *offset, size_t *total);

/* ---- spaces and arenas --------------------------------------------------- */
typedef struct loom_arena_space loom_arena_space;
typedef struct loom_device_arena loom_device_arena;

typedef struct loom_arena_allocator {
    loom_status (*alloc)(void *user, size_t bytes, void **out);
    void (*free)(void *user, void *p);
    void (*trim)(void *user); /* may be NULL: give cached memory back after a plan */
    void *user;
} loom_arena_allocator;

/* The process's device space: the allocator is backend.h's loom_device_alloc/free (the stream-
 * ordered pool), trimmed after each plan so the recording pass's memory is not held twice. */
loom_arena_space *loom_arena_space_device(void);
/* A space over another allocator (tests use host memory). */
loom_status loom_arena_space_create(const loom_arena_allocator *a, loom_arena_space **out);
/* Frees the shared block; every arena of the space must be freed first. NULL is fine. */
void loom_arena_space_free(loom_arena_space *s);

/* `name` ("unet", "vae decode") names the arena in messages and reports. space NULL: the device. */
loom_status loom_device_arena_create(const char *name, loom_arena_space *space, loom_device_arena **out);
void loom_device_arena_free(loom_device_arena *a); /* NULL is fine */

loom_status loom_device_arena_begin(loom_device_arena *a);
/* Ends the scope (and plans after a recording call). Call it on the error path too. */
loom_status loom_device_arena_end(loom_device_arena *a);

/* Device memory for a tensor: from the arena in scope on this thread, else loom_device_alloc. */
loom_status loom_device_act_alloc(size_t bytes, void **out);
void loom_device_act_free(void *p); /* NULL is fine */

typedef struct loom_device_arena_stats {
    const char *name;
    size_t planned_bytes;   /* the plan's block size: the arena's peak (0 before a plan) */
    size_t peak_live_bytes; /* the most bytes alive at once in the recorded call (lower bound) */
    size_t sum_bytes;       /* every allocation of the call added up (no reuse at all) */
    int n_allocs;           /* allocations per call (in the plan) */
    int n_plans, n_replays; /* plans made; calls served from a plan without a mismatch */
    size_t space_bytes;     /* the shared block's size: the largest plan in the space */
} loom_device_arena_stats;
void loom_device_arena_get_stats(const loom_device_arena *a, loom_device_arena_stats *st);

#endif
