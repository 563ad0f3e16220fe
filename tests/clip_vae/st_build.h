/* st_build.h — build small safetensors files in memory for the CLIP/VAE
 * tests: variants of a fixture with renamed, dropped or replaced tensors
 * (older key layouts, broken files), opened with loom_tfile_open_memory.
 * The tensors' bytes are copied unchanged from the source fixture, so the
 * reference outputs of the fixture still apply. */
#ifndef LOOM_TEST_ST_BUILD_H
#define LOOM_TEST_ST_BUILD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor_file.h"

typedef struct st_build {
    json_t *header;
    uint8_t *data;
    size_t len, cap;
    int failed;
} st_build;

/* New name for a source tensor (written into buf), or NULL to drop it. */
typedef const char *(*st_rename_fn)(void *ctx, const char *name, char *buf, size_t n);

void st_init(st_build *b);
/* Adds one tensor (bytes as stored, little-endian, row-major). */
void st_add(st_build *b, const char *name, loom_dtype dtype, int ndim, const int64_t *shape, const void *bytes);
/* Adds every tensor of src (a safetensors file), renamed by fn (NULL: keep names). */
void st_copy(st_build *b, const loom_tfile *src, st_rename_fn fn, void *ctx);
/* Copies every tensor of src except `key`. */
void st_copy_without(st_build *b, const loom_tfile *src, const char *key);
/* The file image (malloc'd; *size set), or NULL on failure; b is reset. */
uint8_t *st_finish(st_build *b, size_t *size);

/* st_finish + loom_tfile_open_memory under `name`; *image keeps the bytes (free after closing). */
loom_tfile *st_open(st_build *b, const char *name, uint8_t **image);
/* A broken copy of src for the error tests: `key` removed and, when ndim > 0,
 * re-added as zeros of `dtype` and `shape`; opened under `name` (see st_open). */
loom_tfile *st_open_replaced(const loom_tfile *src, const char *key, loom_dtype dtype, int ndim, const int64_t *shape,
                             const char *name, uint8_t **image);

#endif
