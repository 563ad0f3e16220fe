/* model_ad.c — plain or adapted linear/conv per module and call (model_ad.h). */
#include "model_ad.h"

#include <string.h>

int loom_model_ad_slot(const loom_keymap_table *map, const char *weight_key)
{
    if (!map) return 0;
    for (int i = 0; i < map->n_rows; i++) /* a few hundred rows, once per module at load */
        if (!strcmp(map->rows[i].weight, weight_key)) return i + 1;
    return 0;
}

/* The plan of `slot` for this call, or 0 when the plain op does. */
static int plan_for(const loom_model_ad *ad, int slot, int64_t batch, loom_ad_plan *plan)
{
    if (!ad || !ad->plans || slot <= 0 || !ad->map || slot > ad->map->n_rows) return 0;
    /* the device copy when the ops run on the GPU (its groups index like the host's) */
    const loom_ad_group *g = ad->dplans ? loom_adapter_plans_device_row(ad->dplans, slot - 1)
                                        : loom_adapter_plans_row(ad->plans, slot - 1);
    if (!g) return 0;
    *plan = (loom_ad_plan){(int)batch, ad->set_of, loom_adapter_plans_n_sets(ad->plans), g};
    return !loom_ad_plan_is_empty(plan);
}

static loom_status batch_check(const loom_model_ad *ad, int64_t batch)
{
    if (ad->batch != batch)
        return loom_fail(LOOM_E_INVALID, "adapters: the call has %lld samples but %d adapter-set entries",
                         (long long)batch, ad->batch);
    return LOOM_OK;
}

#define OP(ops, name, ...) ((ops)->name ? (ops)->name(__VA_ARGS__) : loom_op_missing((ops), #name))

loom_status loom_model_linear(const loom_ops *ops, const loom_model_ad *ad, int slot, const loom_tensor *x,
                              const loom_tensor *w, const loom_tensor *bias, const loom_tensor *residual,
                              loom_tensor *y)
{
    const int64_t batch = x->ndim >= 3 ? x->shape[0] : 1;
    loom_ad_plan plan;
    if (!plan_for(ad, slot, batch, &plan)) return OP(ops, linear, x, w, bias, residual, y);
    LOOM_TRY(batch_check(ad, batch));
    const loom_keymap_row *row = &ad->map->rows[slot - 1];
    if (row->ndim == 2) return OP(ops, linear_adapted, x, w, bias, residual, y, &plan);
    /* a 1×1 conv held as [O, I]: tokens [B, S, C] are an S×1 image, w is OHWI [O, 1, 1, I] */
    if (x->ndim != 3 || row->shape[2] != 1 || row->shape[3] != 1 || row->stride != 1)
        return loom_fail(LOOM_E_INVALID, "adapters: %s is a %lldx%lld conv but runs as a linear", row->weight,
                         (long long)row->shape[2], (long long)row->shape[3]);
    const int64_t xs[4] = {x->shape[0], x->shape[1], 1, x->shape[2]}, ys[4] = {y->shape[0], y->shape[1], 1,
                                                                              y->shape[2]};
    const int64_t ws[4] = {w->shape[0], 1, 1, w->shape[1]};
    loom_tensor x4 = loom_tensor_view(x->data, x->dtype, 4, xs), y4 = loom_tensor_view(y->data, y->dtype, 4, ys);
    loom_tensor w4 = loom_tensor_view(w->data, w->dtype, 4, ws), r4;
    x4.device = x->device, y4.device = y->device, w4.device = w->device;
    if (residual) {
        r4 = loom_tensor_view(residual->data, residual->dtype, 4, ys);
        r4.device = residual->device;
    }
    static const loom_conv2d_params plain = {1, 1, 0, 0};
    return OP(ops, conv2d_adapted, &x4, &w4, bias, residual ? &r4 : NULL, &y4, &plain, &plan);
}

loom_status loom_model_conv2d(const loom_ops *ops, const loom_model_ad *ad, int slot, const loom_tensor *x,
                              const loom_tensor *w, const loom_tensor *bias, const loom_tensor *residual,
                              loom_tensor *y, const loom_conv2d_params *p)
{
    loom_ad_plan plan;
    if (!plan_for(ad, slot, x->shape[0], &plan)) return OP(ops, conv2d, x, w, bias, residual, y, p);
    LOOM_TRY(batch_check(ad, x->shape[0]));
    return OP(ops, conv2d_adapted, x, w, bias, residual, y, p, &plan);
}
