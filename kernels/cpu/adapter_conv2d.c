/* adapter_conv2d.c — NHWC conv2d with live adapters (ops.h conv2d_adapted, adapter_plan.h).
 *
 * The plain conv2d's checks under this op's name, then the plan's (adapter_check.c), then the
 * shared driver (adapter_common.c). Low-rank downs run as convs with the module's kernel, stride
 * and padding and ups as 1×1 convs after them (adapters.md §6.2; Tucker cores are already folded
 * into the downs by the plan builder, §6.3). */
#include "adapter_common.h"
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

loom_status loom_cpu_conv2d_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                    const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p,
                                    const loom_ad_plan *plan)
{
    static const char op[] = "conv2d_adapted";
    if (!plan) return loom_cpu_conv2d(x, w, bias, residual, y, p);
    LOOM_TRY(loom_cpu_conv2d_check(op, x, w, bias, residual, y, p));
    const int64_t nb = x->shape[0], h = x->shape[1], wd = x->shape[2], in = x->shape[3];
    const int64_t o = w->shape[0], kh = w->shape[1], kw = w->shape[2], ho = y->shape[1], wo = y->shape[2];
    LOOM_TRY(loom_cpu_check_blas_dims(op, ho * wo, o, kh * kw * in));

    const loom_cpu_ad_module m = {
        .op = op, .is_conv = 1, .o = o, .kh = kh, .kw = kw, .in = in, .ih = h, .iw = wd, .oh = ho, .ow = wo,
        .p = *p, .batch = nb, .x = x, .weight = w, .bias = bias, .residual = residual, .y = y,
    };
    LOOM_TRY(loom_cpu_ad_check_plan(&m, plan));
    if (loom_ad_plan_is_empty(plan)) return loom_cpu_conv2d(x, w, bias, residual, y, p);
    return loom_cpu_ad_run(&m, plan);
}
