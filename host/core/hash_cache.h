/* hash_cache.h — SHA-256 of model files, remembered between runs.
 *
 * A1111 writes "Model hash" (first 10 hex of the file's SHA-256, addons.md
 * §6.3) into every image and caches it (cache.json) because hashing 2–7 GB
 * takes seconds. loom keeps the same kind of cache in
 * $XDG_CACHE_HOME/loom/hashes.json (else ~/.cache/loom/hashes.json), keyed by
 * the absolute path and valid while size and mtime are unchanged. A cache
 * that cannot be read or written is ignored (logged at debug level): the hash
 * is then computed every time, never guessed. */
#ifndef LOOM_HASH_CACHE_H
#define LOOM_HASH_CACHE_H

#include "loom_base.h"

/* The full SHA-256 of the file as 64 lowercase hex digits (+ NUL). */
loom_status loom_file_sha256_cached(const char *path, char hex[65]);

#endif
