/* adapter_linear.cu — linear with live adapters on the GPU (ops.h linear_adapted,
 * kernels/adapter_plan.h; issue 5 item 2).
 *
 * The plain linear's checks under this op's name (the CPU op's messages, this backend's f16
 * device tensors), then the module's size limits and the device plan's checks
 * (adapter_check.cu), then the shared driver (adapter_common.cu) with the linear seen as a 1×1
 * conv over each sample's rows. A NULL or empty plan is the backend's plain linear. */
#include "adapter_common.cuh"
#include "nvtx.h"

static loom_status check_linear(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                const loom_tensor *residual, const loom_tensor *y)
{
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "w", w));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (x->ndim < 2 || x->ndim > 4) return loom_fail(LOOM_E_INVALID, "%s: x has %d dims, want 2 to 4", op, x->ndim);
    if (w->ndim != 2) return loom_fail(LOOM_E_INVALID, "%s: w has %d dims, want 2", op, w->ndim);
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    if (w->shape[1] != k) {
        char xs[96], ws[96];
        return loom_fail(LOOM_E_INVALID, "%s: x is %s but w %s expects %lld input features", op,
                         loom_shape_str(x, xs, sizeof xs), loom_shape_str(w, ws, sizeof ws), (long long)w->shape[1]);
    }
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = n;
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, x->ndim, yshape));
    if (bias) {
        LOOM_TRY(loom_cuda_check_tensor(op, "bias", bias));
        LOOM_TRY(loom_cuda_check_shape(op, "bias", bias, 1, &n));
    }
    if (residual) {
        LOOM_TRY(loom_cuda_check_tensor(op, "residual", residual));
        LOOM_TRY(loom_cuda_check_shape(op, "residual", residual, x->ndim, yshape));
    }
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "w", w, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "bias", bias, 0));
    return loom_cuda_check_alias(op, "y", y, "residual", residual, 1); /* y == residual: accumulate */
}

extern "C" loom_status loom_cuda_linear_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                                const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan)
{
    LOOM_NVTX_RANGE("cuda/linear_adapted");
    static const char op[] = "linear_adapted";
    if (!plan) return loom_cuda_ad_plain(0, x, w, bias, residual, y, nullptr);
    LOOM_TRY(check_linear(op, x, w, bias, residual, y));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    int64_t rows = 1;
    for (int i = 0; i < x->ndim - 1; i++) rows *= x->shape[i]; /* ≤ numel(x) of a real buffer */

    /* samples as the plain linear splits them (ops.h): the leading dim of a 3–4-dim x, else 1 */
    const int64_t batch = x->ndim >= 3 ? x->shape[0] : 1, per = batch ? rows / batch : 0;
    loom_cuda_ad_module m;
    m.op = op, m.is_conv = 0;
    m.o = n, m.kh = 1, m.kw = 1, m.in = k, m.ih = per, m.iw = 1, m.oh = per, m.ow = 1;
    m.p.stride_h = m.p.stride_w = 1, m.p.pad_h = m.p.pad_w = 0;
    m.batch = batch, m.x = x, m.weight = w, m.bias = bias, m.residual = residual, m.y = y;
    LOOM_TRY(loom_cuda_ad_check_module(&m));
    LOOM_TRY(loom_cuda_ad_check_plan(&m, plan));
    if (loom_ad_plan_is_empty(plan)) return loom_cuda_ad_plain(0, x, w, bias, residual, y, nullptr);
    return loom_cuda_ad_run(&m, plan);
}
