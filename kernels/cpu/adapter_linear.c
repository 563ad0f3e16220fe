/* adapter_linear.c — linear with live adapters (ops.h linear_adapted, adapter_plan.h).
 *
 * The plain linear's checks under this op's name, then the plan's (adapter_check.c), then the
 * shared driver (adapter_common.c) with the linear seen as a 1×1 conv over each sample's rows. */
#include "adapter_common.h"
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

loom_status loom_cpu_linear_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                    const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan)
{
    static const char op[] = "linear_adapted";
    if (!plan) return loom_cpu_linear(x, w, bias, residual, y);
    LOOM_TRY(loom_cpu_linear_check(op, x, w, bias, residual, y));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0], rows = loom_cpu_rows(x);

    /* samples as the plain linear splits them (ops.h): the leading dim of a 3–4-dim x, else 1 */
    const int64_t batch = x->ndim >= 3 ? x->shape[0] : 1, per = batch ? rows / batch : 0;
    LOOM_TRY(loom_cpu_check_blas_dims(op, per, n, k));
    const loom_cpu_ad_module m = {
        .op = op, .is_conv = 0, .o = n, .kh = 1, .kw = 1, .in = k, .ih = per, .iw = 1, .oh = per, .ow = 1,
        .batch = batch, .x = x, .weight = w, .bias = bias, .residual = residual, .y = y,
    };
    LOOM_TRY(loom_cpu_ad_check_plan(&m, plan));
    if (loom_ad_plan_is_empty(plan)) return loom_cpu_linear(x, w, bias, residual, y);
    return loom_cpu_ad_run(&m, plan);
}
