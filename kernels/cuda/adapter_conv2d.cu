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

static loom_status check_conv(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                              const loom_tensor *residual, const loom_tensor *y, const loom_conv2d_params *p)
{
    if (!p) return loom_fail(LOOM_E_INVALID, "%s: params are missing (NULL)", op);
    if (p->stride_h < 1 || p->stride_w < 1)
        return loom_fail(LOOM_E_INVALID, "%s: stride %dx%d; strides must be >= 1", op, p->stride_h, p->stride_w);
    if (p->pad_h < 0 || p->pad_w < 0)
        return loom_fail(LOOM_E_INVALID, "%s: padding %dx%d; padding must be >= 0", op, p->pad_h, p->pad_w);
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "w", w));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (x->ndim != 4) return loom_fail(LOOM_E_INVALID, "%s: x has %d dims, want 4 (NHWC)", op, x->ndim);
    if (w->ndim != 4) return loom_fail(LOOM_E_INVALID, "%s: w has %d dims, want 4 (OHWI)", op, w->ndim);
    const int64_t nb = x->shape[0], h = x->shape[1], wd = x->shape[2], in = x->shape[3];
    const int64_t o = w->shape[0], kh = w->shape[1], kw = w->shape[2];
    char xs[96], ws[96];
    if (w->shape[3] != in)
        return loom_fail(LOOM_E_INVALID, "%s: x is %s but w expects %lld input channels", op,
                         loom_shape_str(x, xs, sizeof xs), (long long)w->shape[3]);
    const int64_t hp = h + 2 * (int64_t)p->pad_h, wp = wd + 2 * (int64_t)p->pad_w;
    if (kh < 1 || kw < 1 || hp < kh || wp < kw)
        return loom_fail(LOOM_E_INVALID, "%s: kernel %s does not fit x %s padded by %dx%d", op,
                         loom_shape_str(w, ws, sizeof ws), loom_shape_str(x, xs, sizeof xs), p->pad_h, p->pad_w);
    const int64_t yshape[4] = {nb, (hp - kh) / p->stride_h + 1, (wp - kw) / p->stride_w + 1, o};
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, 4, yshape));
    if (bias) {
        LOOM_TRY(loom_cuda_check_tensor(op, "bias", bias));
        LOOM_TRY(loom_cuda_check_shape(op, "bias", bias, 1, &o));
    }
    if (residual) {
        LOOM_TRY(loom_cuda_check_tensor(op, "residual", residual));
        LOOM_TRY(loom_cuda_check_shape(op, "residual", residual, 4, yshape));
    }
    LOOM_TRY(loom_cuda_check_same_dtype(op, "w", w, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "bias", bias, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "residual", residual, "x", x));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "x", x, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "w", w, 0));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "bias", bias, 0));
    return loom_cuda_check_alias(op, "y", y, "residual", residual, 1); /* y == residual: accumulate */
}

extern "C" loom_status loom_cuda_conv2d_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                                const loom_tensor *residual, loom_tensor *y,
                                                const loom_conv2d_params *p, const loom_ad_plan *plan)
{
    LOOM_NVTX_RANGE("cuda/conv2d_adapted");
    static const char op[] = "conv2d_adapted";
    if (!plan) return loom_cuda_ad_plain(1, x, w, bias, residual, y, p);
    LOOM_TRY(check_conv(op, x, w, bias, residual, y, p));
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
