/* adapter_conv2d.cu — NHWC conv2d with live adapters on the GPU (ops.h conv2d_adapted,
 * kernels/adapter_plan.h; issue 5 item 2).
 *
 * The plain conv2d's checks under this op's name (the CPU op's messages, this backend's f16 or
 * bf16 device tensors, one dtype a call), then the module's size limits and the device plan's checks
 * (adapter_check.cu), then the shared driver (adapter_common.cu). Low-rank downs run as
 * implicit-GEMM convs with the module's kernel, stride and padding and ups as 1×1 convs after
 * them (adapters.md §6.2; Tucker cores are already folded into the downs, §6.3). A NULL or empty
 * plan is the backend's plain conv2d. */
#include "adapter_common.cuh"
#include "nvtx.h"

extern "C" loom_status loom_cuda_conv2d_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                                const loom_tensor *residual, loom_tensor *y,
                                                const loom_conv2d_params *p, const loom_ad_plan *plan)
{
    LOOM_NVTX_RANGE("cuda/conv2d_adapted");
    static const char op[] = "conv2d_adapted";
    if (!plan) return loom_cuda_ad_plain(1, x, w, bias, residual, y, p);
    LOOM_TRY(loom_cuda_check_conv(op, x, w, bias, residual, y, p));
    loom_cuda_ad_module m;
    m.op = op, m.is_conv = 1;
    m.o = w->shape[0], m.kh = w->shape[1], m.kw = w->shape[2], m.in = x->shape[3];
    m.ih = x->shape[1], m.iw = x->shape[2], m.oh = y->shape[1], m.ow = y->shape[2];
    m.p = *p;
    m.batch = x->shape[0], m.x = x, m.weight = w, m.bias = bias, m.residual = residual, m.y = y;
    LOOM_TRY(loom_cuda_ad_check_module(&m));
    LOOM_TRY(loom_cuda_ad_check_plan(&m, plan));
    if (loom_ad_plan_is_empty(plan)) return loom_cuda_ad_plain(1, x, w, bias, residual, y, p);
    return loom_cuda_ad_run(&m, plan);
}
