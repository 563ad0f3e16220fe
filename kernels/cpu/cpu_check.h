/* cpu_check.h — argument checks shared by the CPU ops (kernels/cpu/<op>.c).
 *
 * Each check returns LOOM_OK or fails with LOOM_E_INVALID and a one-line
 * message that starts with the op's name, e.g.
 *   "conv2d: x: the CPU backend computes in f32; got f16"
 *   "layer_norm: y is [2, 77, 768] but should be [2, 77, 320]".
 * The CPU backend is the reference: it takes f32, host, contiguous tensors
 * only, so every op can index with plain row-major arithmetic. */
#ifndef LOOM_CPU_CHECK_H
#define LOOM_CPU_CHECK_H

#include "loom_base.h"

/* A required operand: non-NULL, f32, on the host, contiguous, sane shape
 * (0..LOOM_MAX_DIMS dims, no negative extent, data set when numel > 0). */
loom_status loom_cpu_check_tensor(const char *op, const char *name, const loom_tensor *t);

/* t has between min_dims and max_dims dims. */
loom_status loom_cpu_check_ndim(const char *op, const char *name, const loom_tensor *t, int min_dims,
                                int max_dims);

/* t has exactly `shape` (ndim dims); the message shows both shapes. */
loom_status loom_cpu_check_shape(const char *op, const char *name, const loom_tensor *t, int ndim,
                                 const int64_t *shape);

/* An optional per-channel vector (bias, gamma, beta): NULL is fine,
 * otherwise a checked tensor of shape [n]. */
loom_status loom_cpu_check_vector(const char *op, const char *name, const loom_tensor *t, int64_t n);

/* The output `y` must not share memory with input `x`. With allow_same, the
 * exact same buffer (y->data == x->data, same element count) is accepted:
 * elementwise ops that read element i before writing it are safe in place. */
loom_status loom_cpu_check_alias(const char *op, const char *yname, const loom_tensor *y, const char *xname,
                                 const loom_tensor *x, int allow_same);

/* Every value fits a BLAS integer (Debian's OpenBLAS uses 32-bit int). */
loom_status loom_cpu_check_blas_dims(const char *op, int64_t m, int64_t n, int64_t k);

/* Product of all dims but the last (1 for 0- or 1-dim tensors). */
int64_t loom_cpu_rows(const loom_tensor *t);
/* The last dim (1 for a scalar). */
int64_t loom_cpu_last_dim(const loom_tensor *t);

#endif
