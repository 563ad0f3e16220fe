/* plan.h — adapter sets → per-module plans (kernels/adapter_plan.h) for one request
 * (adapters.md §6, §8 step 7; issue 4 items 3–5).
 *
 * An adapter set is what one image gets: adapters in prompt order, each with A1111's
 * text-encoder and UNet multipliers. A request has one or more sets (one per batch item, equal
 * items sharing one). For every key-table row that any set touches, the builder makes one
 * loom_ad_group per set (an empty group for a set that does not touch it), with:
 *   - s·m folded into each term's scale (m = te or unet by the module's part, §3.3);
 *   - factors in the backend layout (conv OIHW → OHWI), Tucker cores folded into the downs
 *     (§6.3, §6.4), LoKr's W1/W2 multiplied out (§6.5), full's diff as a DENSE term;
 *   - IA³ as in/out scale vectors 1 + m·w (§6.6), DoRA as A1111's W + m(ρ⊙V − W) with ρ from the
 *     running weight (§2.9, §6.7, axis by dora_scale's shape), both at their position in the set
 *     (§3.5, §6.11): the products of later transforms are folded into each term and the base.
 * Modules with a zero multiplier are left out. Nothing here touches the base weights: DoRA and
 * IA³ read them (through `base`) to build vectors, in scratch that is freed before returning.
 *
 * The plans are host f32 (the CPU backend's memory); a GPU backend uploads them. */
#ifndef LOOM_ADAPTER_PLAN_BUILD_H
#define LOOM_ADAPTER_PLAN_BUILD_H

#include "adapter.h"
#include "adapter_plan.h"
#include "keymap.h"

typedef struct loom_adapter_use {
    const loom_adapter *adapter; /* parsed against the same key table as the build (its rows) */
    float te, unet;              /* A1111's multipliers (§3.4) */
} loom_adapter_use;

typedef struct loom_adapter_set {
    int n;
    const loom_adapter_use *uses; /* in prompt order (A1111 applies networks in that order, §3.5) */
} loom_adapter_set;

/* The base weight of row `row` of the table as the model holds it: f32 host, linear [O, I],
 * conv OHWI [O, kh, kw, I]. Called only for modules whose adapters read W (DoRA). */
typedef loom_status (*loom_adapter_base_fn)(void *user, int row, loom_tensor *w);

typedef struct loom_adapter_plans loom_adapter_plans;

loom_status loom_adapter_plans_build(const loom_keymap_table *map, const loom_adapter_set *sets, int n_sets,
                                     loom_adapter_base_fn base, void *user, loom_adapter_plans **out);
void loom_adapter_plans_free(loom_adapter_plans *p);

int loom_adapter_plans_n_sets(const loom_adapter_plans *p);
/* A number no other plans built by this process share (0 for NULL): caches keyed on plans use it,
 * since freed plans' memory can come back at the same address (host/model/unet_kv.h). */
uint64_t loom_adapter_plans_serial(const loom_adapter_plans *p);
/* The groups of row `row`, one per set, or NULL when no set touches the row. */
const loom_ad_group *loom_adapter_plans_row(const loom_adapter_plans *p, int row);

#endif
