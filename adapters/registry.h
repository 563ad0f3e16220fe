/* registry.h — parsed adapters cached by file identity, with a memory bound (issue 4 item 6:
 * "swapping sets between jobs reloads nothing that is cached").
 *
 * adapters/ never opens files: the host passes each file's identity (path, size, mtime, as it
 * stat()ed it) and a loader callback that parses a file into a loom_adapter on a miss
 * (host/adapter_files.h has the one loom uses). A changed size or mtime is a different key, so
 * a file rewritten on disk is parsed again; the stale entry goes as soon as nobody holds it.
 *
 * Memory: the bound counts the bytes of factor data (f32) of the cached adapters. After a load
 * the least-recently-used entries that nobody holds are evicted until the total is within the
 * bound. Entries in use are never evicted, so the total may exceed the bound while they are
 * held; an over-large adapter is kept while in use and dropped on its last release.
 *
 * Not thread-safe: the caller serializes (one job scheduler thread acquires and releases). */
#ifndef LOOM_ADAPTER_REGISTRY_H
#define LOOM_ADAPTER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "loom_base.h"

typedef struct loom_adapter_file_id {
    const char *path;
    uint64_t size;
    int64_t mtime_ns; /* modification time, nanoseconds since the epoch */
} loom_adapter_file_id;

/* Parses the file at `path` into *out (emptied on failure); the message names the file. */
typedef loom_status (*loom_adapter_load_fn)(void *user, const char *path, loom_adapter *out);

typedef struct loom_adapter_registry_stats {
    uint64_t hits, misses;  /* acquires served from the cache / that called the loader */
    uint64_t load_failures; /* misses whose loader failed (nothing was cached) */
    uint64_t evictions;     /* entries dropped for the bound or because their file changed */
    size_t bytes;           /* factor bytes now cached */
    int entries;            /* adapters now cached (held or not) */
} loom_adapter_registry_stats;

typedef struct loom_adapter_registry loom_adapter_registry;

/* max_bytes: the bound on cached factor bytes (0: cache nothing that is not in use). */
loom_status loom_adapter_registry_create(size_t max_bytes, loom_adapter_load_fn load, void *user,
                                         loom_adapter_registry **out);
/* Frees every entry, held or not: pointers from acquire are invalid afterwards. */
void loom_adapter_registry_destroy(loom_adapter_registry *r);

/* The adapter of file `id`, parsed now or taken from the cache; held until released. On a
 * loader failure the registry is unchanged (apart from the counters) and the error is the
 * loader's. */
loom_status loom_adapter_registry_acquire(loom_adapter_registry *r, const loom_adapter_file_id *id,
                                          const loom_adapter **out);
/* Gives back one acquire of `a` (a pointer that acquire returned). */
void loom_adapter_registry_release(loom_adapter_registry *r, const loom_adapter *a);

loom_adapter_registry_stats loom_adapter_registry_get_stats(const loom_adapter_registry *r);

/* Factor bytes of a parsed adapter: what it counts against the bound. */
size_t loom_adapter_bytes(const loom_adapter *a);

#endif
