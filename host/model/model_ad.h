/* model_ad.h — live adapters at a model's linear and conv calls (issue 4 item 3).
 *
 * Every adapter-targetable module of a loaded model carries a slot: its row in the model's fitted
 * key table plus one (0 = no row; zero-initialised structs are therefore "no adapters"). A forward
 * pass gets a loom_model_ad naming the request's plans (adapters/plan.h) and which adapter set
 * each sample of this call uses; loom_model_linear / loom_model_conv2d then run the plain op or
 * the op's adapted form with that module's groups. */
#ifndef LOOM_MODEL_AD_H
#define LOOM_MODEL_AD_H

#include "keymap.h"
#include "ops.h"
#include "plan.h"
#include "plan_device.h"
#include "weights.h"

typedef struct loom_model_ad {
    const loom_keymap_table *map;    /* the model's fitted table: plans are indexed by its rows */
    const loom_adapter_plans *plans; /* NULL: no adapters */
    int batch;                       /* samples of this forward */
    const int *set_of;               /* [batch]: the set each sample uses, < 0: none */
    const loom_adapter_plans_device *dplans; /* the same plans on the GPU (CUDA backend), else NULL */
} loom_model_ad;

/* The slot of the module whose weight is `weight_key` (row + 1), 0 when the table has none. */
int loom_model_ad_slot(const loom_keymap_table *map, const char *weight_key);

/* y = linear(x, w, bias, residual) with the adapters of `slot` for this call's samples.
 * x [B, S, K] (B = ad->batch); a module held as a linear but stored as a 1×1 conv (SD1's
 * proj_in/proj_out) runs the plan as a 1×1 conv over the S tokens. ad may be NULL. */
loom_status loom_model_linear(const loom_ops *ops, const loom_model_ad *ad, int slot, const loom_tensor *x,
                              const loom_tensor *w, const loom_tensor *bias, const loom_tensor *residual,
                              loom_tensor *y);
loom_status loom_model_conv2d(const loom_ops *ops, const loom_model_ad *ad, int slot, const loom_tensor *x,
                              const loom_tensor *w, const loom_tensor *bias, const loom_tensor *residual,
                              loom_tensor *y, const loom_conv2d_params *p);

#endif
