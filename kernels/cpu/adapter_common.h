/* adapter_common.h — the module-independent part of linear_adapted and conv2d_adapted
 * (adapter_linear.c, adapter_conv2d.c): plan validation and the per-sample driver.
 *
 * A linear module is treated as a 1×1 "conv" over the rows of a sample: every weight it sees is
 * [n, kh·kw·I] with kh = kw = 1, so one driver serves both. The caller validates the plain
 * op's arguments first (the same checks as linear.c / conv2d.c) and fills the module. */
#ifndef LOOM_CPU_ADAPTER_COMMON_H
#define LOOM_CPU_ADAPTER_COMMON_H

#include "ops.h"

typedef struct loom_cpu_ad_module {
    const char *op;      /* "linear_adapted" / "conv2d_adapted", the prefix of every message */
    int is_conv;
    int64_t o, kh, kw, in; /* W [O, kh, kw, I]; kh = kw = 1 for linear ([O, I]) */
    int64_t ih, iw;      /* conv: a sample's input height and width; linear: rows per sample, 1 */
    int64_t oh, ow;      /* conv: output height and width; linear: rows per sample, 1 */
    loom_conv2d_params p; /* conv only */
    int64_t batch;       /* samples: x's leading dim (1 for a 2-D linear x) */
    /* the op's arguments; bias and residual may be NULL, residual may be y (accumulate) */
    const loom_tensor *x, *weight, *bias, *residual;
    loom_tensor *y;
} loom_cpu_ad_module;

/* The plan fits the module: batch, group indices, every vector's length and every factor's
 * shape for its kind (adapter_plan.h), f32 host contiguous, no factor overlapping y, and the
 * GEMMs it implies within BLAS range. One-line LOOM_E_INVALID naming m->op otherwise. */
loom_status loom_cpu_ad_check_plan(const loom_cpu_ad_module *m, const loom_ad_plan *plan);

/* How a checked term runs on this module: factored, as a down op of rank *rank then an up GEMM
 * (LOWRANK; HADA in its Khatri–Rao form while that is cheaper, adapters.md §6.4), or as one op
 * with a dense ΔW (*rank = 0: DENSE, KRON, and HADA of high rank). Fails only if r1·r2 overflows. */
loom_status loom_cpu_ad_term_rank(const loom_cpu_ad_module *m, const loom_ad_term *t, int64_t *rank);

/* Runs a checked, non-NULL plan. Samples with no group or an empty group get exactly the plain
 * op's result; each sample's result depends only on its own input and group (batch-invariant,
 * bit for bit). */
loom_status loom_cpu_ad_run(const loom_cpu_ad_module *m, const loom_ad_plan *plan);

#endif
