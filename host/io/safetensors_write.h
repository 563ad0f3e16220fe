/* safetensors_write.h — writing the safetensors container (addons.md §5.8),
 * streamed: the header is built from declarations, then each tensor's bytes
 * are pulled from a callback chunk by chunk, so a 2.1 GB checkpoint never
 * sits in memory. Output goes through atomic_write.h: on any failure nothing
 * is left at `path`.
 *
 * Layout as the reference writer (huggingface/safetensors) makes it: u64
 * little-endian header length, the JSON header padded with spaces to a
 * multiple of 8 (so the data area starts 8-aligned), then the tensors back to
 * back with no gaps (readers reject holes), ordered by element size, largest
 * first, so every tensor starts aligned to its own element size. Within one
 * element size the declaration order is kept. Data bytes are written as the
 * callback gives them: little-endian, row-major. */
#ifndef LOOM_SAFETENSORS_WRITE_H
#define LOOM_SAFETENSORS_WRITE_H

#include "loom_base.h"
#include "tensor_file.h" /* LOOM_TF_MAX_DIMS, loom_tf_meta */

typedef struct loom_st_decl {
    const char *name;
    loom_dtype dtype;
    int ndim;                        /* 0 (a scalar) .. LOOM_TF_MAX_DIMS */
    int64_t shape[LOOM_TF_MAX_DIMS];
} loom_st_decl;

/* Fill `buf` with bytes [offset, offset + len) of tensor `index`'s data
 * (index into the caller's declarations). offset and len are multiples of the
 * element size; chunks of one tensor come in order. */
typedef loom_status (*loom_st_fill_fn)(void *ctx, int index, uint64_t offset, void *buf, size_t len);

/* Writes `n` declared tensors and `n_meta` __metadata__ string pairs (none:
 * no __metadata__ entry). Names must be unique, non-empty and not
 * "__metadata__"; strings must be UTF-8. A fill error is passed on (its
 * message wrapped with the path). */
loom_status loom_safetensors_write(const char *path, const loom_st_decl *decl, int n, const loom_tf_meta *meta,
                                   int n_meta, loom_st_fill_fn fill, void *ctx);

/* The same for small tensors already in host memory (any strides: a
 * permuted view such as NHWC seen as NCHW is written in its logical order). */
loom_status loom_safetensors_write_tensors(const char *path, const char *const *names, const loom_tensor *tensors,
                                           int n, const loom_tf_meta *meta, int n_meta);

#endif
