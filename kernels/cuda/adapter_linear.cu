/* adapter_linear.cu — linear with live adapters on the GPU (ops.h linear_adapted,
 * kernels/adapter_plan.h; issue 5 item 2).
 *
 * The plain linear's checks under this op's name (the CPU op's messages, this backend's f16 or bf16
 * device tensors), then the module's size limits and the device plan's checks
 * (adapter_check.cu), then the shared driver (adapter_common.cu) with the linear seen as a 1×1
 * conv over each sample's rows. A NULL or empty plan is the backend's plain linear. */
#include "adapter_common.cuh"
#include "nvtx.h"

extern "C" loom_status loom_cuda_linear_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                                const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan)
{
    LOOM_NVTX_RANGE("cuda/linear_adapted");
    static const char op[] = "linear_adapted";
    if (!plan) return loom_cuda_ad_plain(0, x, w, bias, residual, y, nullptr);
    LOOM_TRY(loom_cuda_check_linear(op, x, w, bias, residual, y, nullptr));
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
