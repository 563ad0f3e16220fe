/* tensor_alloc.h — owning allocations for activations and converted weights.
 * A loom_tensor is a view; these give it memory. Host memory is 64-byte
 * aligned (BLAS-friendly); device memory goes through kernels/backend.h
 * (loom_device_alloc — an error naming the reason without a usable GPU). */
#ifndef LOOM_TENSOR_ALLOC_H
#define LOOM_TENSOR_ALLOC_H

#include "loom_base.h"

/* Contiguous, uninitialised. Fails with LOOM_E_NOMEM naming the shape. */
loom_status loom_tensor_alloc(loom_device dev, loom_dtype dtype, int ndim, const int64_t *shape, loom_tensor *out);
/* As loom_tensor_alloc, filled with zeros. */
loom_status loom_tensor_zeros(loom_device dev, loom_dtype dtype, int ndim, const int64_t *shape, loom_tensor *out);
void loom_tensor_free(loom_tensor *t); /* NULL data is fine; sets data to NULL */
/* Same shape as `like`, new memory. */
loom_status loom_tensor_alloc_like(const loom_tensor *like, loom_tensor *out);

#endif
