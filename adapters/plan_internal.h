/* plan_internal.h — pieces of the plan builder (plan.h) shared by plan.c (sets → groups, the
 * stacking fold), plan_factors.c (module factors → term tensors in the backend layout) and
 * plan_dora.c (the running weight and DoRA's vectors). Internal to adapters/. */
#ifndef LOOM_PLAN_INTERNAL_H
#define LOOM_PLAN_INTERNAL_H

#include "plan.h"

/* Zeroed f32 storage owned by the plans object (freed with it), or NULL with LOOM_E_NOMEM set. */
float *loom_plan_alloc(loom_adapter_plans *p, int64_t n_floats);

/* The target's geometry in the backend layout: W [O, kh, kw, I] (kh = kw = 1 for a linear),
 * flattened [O, cols] with cols = K·I and column index pq·I + i (pq = p·kw + q). */
typedef struct loom_plan_geom {
    int64_t o, i, kh, kw, k, cols;
    int conv;
} loom_plan_geom;

void loom_plan_geom_of(const loom_keymap_row *r, loom_plan_geom *g);

/* A module's factors as a term (kind, down/up, down2/up2) in the backend layout, with Tucker
 * cores folded and LoKr's factors multiplied out; scale and vectors are left to the caller. */
loom_status loom_plan_term_factors(loom_adapter_plans *p, const loom_adapter_module *m, loom_ad_term *t);

/* The term's unscaled ΔW, dense [O, cols] in the backend layout (no scale, no vectors). */
loom_status loom_plan_term_dense(const loom_ad_term *t, const loom_plan_geom *g, float *out);

/* The base weight of `row` as a fresh malloc'd f32 [O, cols] in the backend layout, read through
 * the caller's callback and checked against the row's shape. */
loom_status loom_plan_base_f32(loom_adapter_base_fn base, void *user, const loom_keymap_table *map, int row,
                               float **out);

/* DoRA (adapters.md §2.9, §6.7) of module m at multiplier mult on the running weight w [O, cols]
 * (updated in place to A1111's W + m(g⊙V/‖V‖ − W) when `update`), with dw its unscaled dense ΔW
 * (overwritten with V = W + s·ΔW). Sets *out_axis (1: output rows, 0: input columns) and
 * vec: ρ = g/‖V‖ [O] or γ = g/‖V‖ [I]. Fails when dora_scale fits neither axis. */
loom_status loom_plan_dora(const loom_adapter_module *m, const loom_plan_geom *g, float mult, float *w, float *dw,
                           int update, int *out_axis, float *vec);

#endif
