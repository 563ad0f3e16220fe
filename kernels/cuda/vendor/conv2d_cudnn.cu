/* conv2d_cudnn.cu — vendor baseline for loom_ops.conv2d (ops.h) with cuDNN:
 * x NHWC, w OHWI (cuDNN's NHWC filter layout, "KRSC"), y NHWC, f16 or bf16
 * storage (x's dtype) with fp32 compute (cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16
 * configurations: 16-bit tensors, a float convolution descriptor) and
 * tensor-op math allowed.
 *
 * Descriptors and the algorithm are made once per shape and cached (style.md:
 * no per-call descriptor rebuilds). The legacy convolution API is used: it is
 * deprecated in cuDNN 9 in favour of the graph API but still routes to the
 * same engines, and needs no cudnn-frontend. bias + residual are prefilled
 * into y and the convolution adds with beta = 1 (vendor.h).
 * Not yet run on a GPU. */
#include <cstring>

#include "nvtx.h"
#include "vendor.h"

namespace {

struct conv_key {
    int n, h, w, c, o, kh, kw, sh, sw, ph, pw;
    int bf16; /* the tensors' type: bf16, else f16 */
};

struct conv_plan {
    conv_key key;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws_bytes;
    int used;
};

/* SD1.x at one resolution has a few dozen distinct conv shapes; when more
 * appear (several resolutions) the oldest slot is reused round-robin. */
constexpr int kPlans = 128;
conv_plan g_plans[kPlans];
int g_next;

/* Algorithms whose scratch exceeds this are skipped (the heuristic lists
 * several; one of the implicit-GEMM ones needs none). */
constexpr size_t kMaxWorkspace = size_t(256) << 20;

void destroy_plan(conv_plan *p)
{
    if (!p->used) return;
    (void)cudnnDestroyTensorDescriptor(p->xd);
    (void)cudnnDestroyTensorDescriptor(p->yd);
    (void)cudnnDestroyFilterDescriptor(p->wd);
    (void)cudnnDestroyConvolutionDescriptor(p->cd);
    memset(p, 0, sizeof *p);
}

loom_status make_plan(cudnnHandle_t h, const conv_key &k, conv_plan *p)
{
    destroy_plan(p);
    p->key = k;
    p->used = 1; /* from here on destroy_plan cleans up whatever was created */
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xd));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->yd));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->wd));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->cd));
    const cudnnDataType_t io = k.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NHWC, io, k.n, k.c, k.h, k.w));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->wd, io, CUDNN_TENSOR_NHWC, k.o, k.c, k.kh, k.kw));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->cd, k.ph, k.pw, k.sh, k.sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, CUDNN_TENSOR_OP_MATH));
    int on, oc, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &on, &oc, &oh, &ow));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NHWC, io, on, oc, oh, ow));
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p->xd, p->wd, p->cd, p->yd,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    for (int i = 0; i < found; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace) {
            /* the heuristic's entry says which math mode it was rated for */
            CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, perf[i].mathType));
            p->algo = perf[i].algo;
            p->ws_bytes = perf[i].memory;
            return LOOM_OK;
        }
    return loom_fail(LOOM_E_UNSUPPORTED, "conv2d: cuDNN has no algorithm for x [%d, %d, %d, %d], w [%d, %d, %d, %d] "
                     "within %zu MiB of workspace", k.n, k.h, k.w, k.c, k.o, k.kh, k.kw, k.c, kMaxWorkspace >> 20);
}

loom_status find_plan(const conv_key &k, conv_plan **out)
{
    for (int i = 0; i < kPlans; i++)
        if (g_plans[i].used && memcmp(&g_plans[i].key, &k, sizeof k) == 0) {
            *out = &g_plans[i];
            return LOOM_OK;
        }
    cudnnHandle_t h;
    LOOM_TRY(loom_vendor_cudnn(&h));
    conv_plan *p = &g_plans[g_next];
    g_next = (g_next + 1) % kPlans;
    loom_status s = make_plan(h, k, p);
    if (s != LOOM_OK) {
        destroy_plan(p);
        return s;
    }
    *out = p;
    return LOOM_OK;
}

} // namespace

loom_status loom_vendor_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p)
{
    LOOM_NVTX_RANGE("vendor/conv2d");
    static const char op[] = "conv2d";
    LOOM_TRY(loom_cuda_check_conv(op, x, w, bias, residual, y, p));
    const int64_t rows = y->shape[0] * y->shape[1] * y->shape[2], n = y->shape[3]; /* y as [N·Ho·Wo, O] */
    if (loom_tensor_numel(y) == 0) return LOOM_OK;
    if (x->shape[3] == 0) /* no input channels: y = bias + residual */
        return loom_vendor_prefill(x->dtype, y->data, bias ? bias->data : nullptr, residual ? residual->data : nullptr,
                                   rows, n);

    const conv_key key = {(int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)w->shape[0],
                          (int)w->shape[1], (int)w->shape[2], p->stride_h, p->stride_w, p->pad_h, p->pad_w,
                          x->dtype == LOOM_BF16};
    conv_plan *plan;
    LOOM_TRY(find_plan(key, &plan));
    const int pre = bias || residual;
    if (pre)
        LOOM_TRY(loom_vendor_prefill(x->dtype, y->data, bias ? bias->data : nullptr,
                                     residual ? residual->data : nullptr, rows, n));
    void *ws = nullptr;
    if (plan->ws_bytes) LOOM_TRY(loom_vendor_workspace(plan->ws_bytes, &ws));
    cudnnHandle_t h;
    LOOM_TRY(loom_vendor_cudnn(&h));
    const float alpha = 1.0f, beta = pre ? 1.0f : 0.0f; /* float scalars: the compute type is float */
    CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, plan->xd, x->data, plan->wd, w->data, plan->cd, plan->algo, ws,
                                        plan->ws_bytes, &beta, plan->yd, y->data));
    return LOOM_OK;
}
