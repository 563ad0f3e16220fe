/* arena.c — see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct loom_arena_chunk {
    loom_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void loom_arena_init(loom_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->used_total = 0;
}

void *loom_arena_alloc(loom_arena *a, size_t n)
{
    if (n > SIZE_MAX - 64) return NULL;
    n = (n + 15) & ~(size_t)15;
    loom_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        c = malloc(sizeof *c + sz);
        if (!c) return NULL;
        c->size = sz;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

char *loom_arena_strndup(loom_arena *a, const char *s, size_t n)
{
    char *p = loom_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *loom_arena_strdup(loom_arena *a, const char *s) { return loom_arena_strndup(a, s, strlen(s)); }

void loom_arena_free(loom_arena *a)
{
    loom_arena_chunk *c = a->head;
    while (c) {
        loom_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used_total = 0;
}
