/* arena.h — bump allocator for many small objects freed together (a file's
 * tensor directory, a pickle's value tree, a request's scratch). */
#ifndef LOOM_ARENA_H
#define LOOM_ARENA_H

#include <stddef.h>

typedef struct loom_arena_chunk loom_arena_chunk;

typedef struct loom_arena {
    loom_arena_chunk *head;
    size_t chunk_size;  /* default size of a new chunk */
    size_t used_total;  /* bytes handed out, for reports */
} loom_arena;

/* chunk_size 0 picks 64 KiB. No allocation happens until the first alloc. */
void loom_arena_init(loom_arena *a, size_t chunk_size);
/* 16-byte aligned, zeroed; NULL when out of memory. */
void *loom_arena_alloc(loom_arena *a, size_t n);
char *loom_arena_strdup(loom_arena *a, const char *s);
char *loom_arena_strndup(loom_arena *a, const char *s, size_t n);
void loom_arena_free(loom_arena *a);

#endif
