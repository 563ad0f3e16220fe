/* test_cuda_args.c — the CUDA linears and convs (own, adapted, vendor) refuse bad calls with the
 * same one-line messages, before touching the GPU (loom_cuda_check_linear / _conv run on the
 * host), so this
 * runs on machines without one. Tensors are descriptors with fake device addresses: a check that
 * let a call through would fault, which the test would report. Also the adapted ops' checks of a
 * LoHa/LoKr term's precomputed ΔW (`dense`, adapter_plan.h) and loom_cuda_ad_term_delta's own
 * argument checks (adapter_dense.h), host code too. Skipped with LOOM_CUDA=OFF. */
#include <stdint.h>
#include <string.h>

#include "adapter_dense.h"
#include "ops.h"
#ifdef LOOM_HAVE_CUDA
#include "cuda_ops.h" /* loom_cuda_check_conv, called directly below */
#endif
#include "testlib.h"

static loom_tensor dev(uintptr_t addr, loom_dtype dt, int nd, int64_t a, int64_t b, int64_t c)
{
    const int64_t s[3] = {a, b, c};
    loom_tensor t = loom_tensor_view((void *)addr, dt, nd, s);
    t.device = LOOM_CUDA;
    return t;
}

#define EXPECT(call, want)                                                                               \
    do {                                                                                                 \
        loom_clear_error();                                                                              \
        loom_status s_ = (call);                                                                         \
        const char *m_ = loom_last_error();                                                              \
        T_CHECK(s_ == LOOM_E_INVALID, "%s: %s returned %d", name, #call, (int)s_);                      \
        T_CHECK(strstr(m_, want) != NULL, "%s: message \"%s\" lacks \"%s\"", name, m_, want);           \
        T_CHECK(strchr(m_, '\n') == NULL, "%s: message has a newline", name);                          \
    } while (0)

typedef loom_status (*linear_fn)(const loom_tensor *, const loom_tensor *, const loom_tensor *, const loom_tensor *,
                                 loom_tensor *);

static loom_status adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *b, const loom_tensor *r,
                           loom_tensor *y)
{
    static const int group_of[2] = {-1, -1};
    static const loom_ad_group none = {{0}, {0}, {0}, 0, NULL};
    const loom_ad_plan plan = {2, group_of, 1, &none};
    return loom_ops_cuda.linear_adapted(x, w, b, r, y, &plan);
}

static void check(const char *name, linear_fn f)
{
    loom_tensor x = dev(0x100000, LOOM_F16, 3, 2, 8, 16), w = dev(0x200000, LOOM_F16, 2, 4, 16, 0);
    loom_tensor y = dev(0x300000, LOOM_F16, 3, 2, 8, 4), bias = dev(0x400000, LOOM_F16, 1, 4, 0, 0);
    loom_tensor wk = dev(0x200000, LOOM_F16, 2, 4, 15, 0), yf = dev(0x300000, LOOM_F32, 3, 2, 8, 4);
    loom_tensor ybad = dev(0x300000, LOOM_F16, 3, 2, 8, 5), yover = dev(0x100010, LOOM_F16, 3, 2, 8, 4);
    loom_tensor bbad = dev(0x400000, LOOM_F16, 1, 5, 0, 0);
    EXPECT(f(&x, &wk, NULL, NULL, &y), "expects 15 input features");
    EXPECT(f(&x, &w, NULL, NULL, &yf), "take f16");
    /* f16 or bf16, but one of them a call: mixing is refused, naming the operand */
    loom_tensor wb = w, yb = y, bb = bias, xb = x;
    wb.dtype = yb.dtype = bb.dtype = xb.dtype = LOOM_BF16;
    EXPECT(f(&x, &wb, NULL, NULL, &y), "w is bf16 but x is f16; one call takes one 16-bit dtype");
    EXPECT(f(&xb, &wb, NULL, NULL, &y), "y is f16 but x is bf16; one call takes one 16-bit dtype");
    EXPECT(f(&xb, &wb, &bias, NULL, &yb), "bias is f16 but x is bf16");
    EXPECT(f(&x, &w, NULL, &yb, &y), "residual is bf16 but x is f16");
    EXPECT(f(&x, &w, NULL, NULL, &ybad), "y is [2, 8, 5] but should be [2, 8, 4]");
    EXPECT(f(&x, &w, &bbad, NULL, &y), "bias is [5] but should be [4]");
    EXPECT(f(&x, &w, &bias, NULL, &yover), "y overlaps x");
    x.device = LOOM_HOST;
    EXPECT(f(&x, &w, NULL, NULL, &y), "not on the CUDA device");
}

static loom_tensor dev4(uintptr_t addr, loom_dtype dt, int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t s[4] = {a, b, c, d};
    loom_tensor t = loom_tensor_view((void *)addr, dt, 4, s);
    t.device = LOOM_CUDA;
    return t;
}

typedef loom_status (*conv_fn)(const loom_tensor *, const loom_tensor *, const loom_tensor *, const loom_tensor *,
                               loom_tensor *, const loom_conv2d_params *);

static loom_status conv_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *b, const loom_tensor *r,
                                loom_tensor *y, const loom_conv2d_params *p)
{
    static const int group_of[2] = {-1, -1};
    static const loom_ad_group none = {{0}, {0}, {0}, 0, NULL};
    const loom_ad_plan plan = {2, group_of, 1, &none};
    return loom_ops_cuda.conv2d_adapted(x, w, b, r, y, p, &plan);
}

/* x [2, 8, 8, 16] NHWC, w [4, 3, 3, 16] OHWI, pad 1 → y [2, 8, 8, 4]; stride 2 → [2, 4, 4, 4]. */
static void check_conv(const char *name, conv_fn f)
{
    const loom_conv2d_params pad1 = {1, 1, 1, 1}, s2 = {2, 2, 1, 1}, bad_stride = {0, 1, 1, 1}, bad_pad = {1, 1, -1, 0};
    loom_tensor x = dev4(0x100000, LOOM_F16, 2, 8, 8, 16), w = dev4(0x200000, LOOM_F16, 4, 3, 3, 16);
    loom_tensor y = dev4(0x300000, LOOM_F16, 2, 8, 8, 4), ys2 = dev4(0x300000, LOOM_F16, 2, 4, 4, 4);
    loom_tensor bias = dev(0x400000, LOOM_F16, 1, 4, 0, 0), bbad = dev(0x400000, LOOM_F16, 1, 5, 0, 0);
    loom_tensor wi = dev4(0x200000, LOOM_F16, 4, 3, 3, 15), wbig = dev4(0x200000, LOOM_F16, 4, 11, 11, 16);
    loom_tensor yover = dev4(0x100010, LOOM_F16, 2, 8, 8, 4), wb = w, x3 = dev(0x100000, LOOM_F16, 3, 2, 64, 16);
    wb.dtype = LOOM_BF16;
    if (!strcmp(name, "check")) { /* the shared check itself accepts well-formed calls */
#ifdef LOOM_HAVE_CUDA
        T_OK(loom_cuda_check_conv("conv2d", &x, &w, &bias, &y, &y, &pad1));
        T_OK(loom_cuda_check_conv("conv2d", &x, &w, NULL, NULL, &ys2, &s2));
#endif
        return;
    }
    EXPECT(f(&x, &w, NULL, NULL, &y, NULL), "params are missing");
    EXPECT(f(&x, &w, NULL, NULL, &y, &bad_stride), "strides must be >= 1");
    EXPECT(f(&x, &w, NULL, NULL, &y, &bad_pad), "padding must be >= 0");
    EXPECT(f(&x3, &w, NULL, NULL, &y, &pad1), "x has 3 dims, want 4 (NHWC)");
    EXPECT(f(&x, &wi, NULL, NULL, &y, &pad1), "x is [2, 8, 8, 16] but w expects 15 input channels");
    EXPECT(f(&x, &wbig, NULL, NULL, &y, &pad1), "does not fit x [2, 8, 8, 16] padded by 1x1");
    EXPECT(f(&x, &w, NULL, NULL, &y, &s2), "y is [2, 8, 8, 4] but should be [2, 4, 4, 4]");
    EXPECT(f(&x, &w, &bias, NULL, &ys2, &pad1), "y is [2, 4, 4, 4] but should be [2, 8, 8, 4]");
    EXPECT(f(&x, &w, &bbad, NULL, &y, &pad1), "bias is [5] but should be [4]");
    EXPECT(f(&x, &wb, NULL, NULL, &y, &pad1), "w is bf16 but x is f16");
    EXPECT(f(&x, &w, NULL, NULL, &yover, &pad1), "y overlaps x");
}

/* A HADA term on the module of check(): x [2, 8, 16], W [4, 16], so ΔW is [4, 16]. */
static loom_ad_term hada_term(void)
{
    loom_ad_term t;
    memset(&t, 0, sizeof t);
    t.kind = LOOM_AD_HADA, t.scale = 1.0f;
    t.down = dev(0x500000, LOOM_F16, 2, 1, 16, 0), t.up = dev(0x510000, LOOM_F16, 2, 4, 1, 0);
    t.down2 = dev(0x520000, LOOM_F16, 2, 1, 16, 0), t.up2 = dev(0x530000, LOOM_F16, 2, 4, 1, 0);
    t.dense = dev(0x540000, LOOM_F32, 2, 4, 16, 0);
    return t;
}

static loom_status adapted_term(const loom_ad_term *t)
{
    static const int group_of[2] = {-1, -1}; /* the plan checks every group, used or not */
    const loom_tensor x = dev(0x100000, LOOM_F16, 3, 2, 8, 16), w = dev(0x200000, LOOM_F16, 2, 4, 16, 0);
    loom_tensor y = dev(0x300000, LOOM_F16, 3, 2, 8, 4);
    const loom_ad_group g = {{0}, {0}, {0}, 1, t};
    const loom_ad_plan plan = {2, group_of, 1, &g};
    return loom_ops_cuda.linear_adapted(&x, &w, NULL, NULL, &y, &plan);
}

/* A bad `dense` is refused by the op's plan check (nothing runs); loom_cuda_ad_term_delta refuses
 * bad factors and buffers before launching. */
static void check_dense(void)
{
    const char *name = "cuda.linear_adapted dense";
    loom_ad_term t = hada_term();
    t.dense.dtype = LOOM_F16;
    EXPECT(adapted_term(&t), "linear_adapted: group 0 term 0 (hada): dense: a device plan holds dense deltas as f32 "
                             "on the CUDA device; got f16 on the CUDA device");
    t = hada_term(), t.dense.device = LOOM_HOST;
    EXPECT(adapted_term(&t), "group 0 term 0 (hada): dense: a device plan holds dense deltas as f32 on the CUDA "
                             "device; got f32 on the host");
    t = hada_term(), t.dense = dev(0x540000, LOOM_F32, 2, 4, 15, 0);
    EXPECT(adapted_term(&t), "linear_adapted: group 0 term 0 (hada): dense is [4, 15] but should be [4, 16]");
    t = hada_term(), t.dense = dev(0x540000, LOOM_F32, 3, 4, 16, 1);
    EXPECT(adapted_term(&t), "group 0 term 0 (hada): dense is [4, 16, 1] but should be [4, 16]");
    t = hada_term(), t.dense.data = (void *)0x300000; /* y's memory */
    EXPECT(adapted_term(&t), "linear_adapted: y overlaps group 0 term 0 (hada): dense");
    t = hada_term(), t.kind = LOOM_AD_LOWRANK, t.down2 = t.up2 = (loom_tensor){0};
    EXPECT(adapted_term(&t), "linear_adapted: group 0 term 0 (lowrank): dense must be empty for this kind");

    name = "loom_cuda_ad_term_delta";
    t = hada_term();
    loom_tensor dw = t.dense;
    dw.dtype = LOOM_F16;
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &dw), "row 3 (hada): the dense ΔW should be a contiguous f32 tensor");
    dw = dev(0x540000, LOOM_F32, 2, 4, 15, 0);
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &dw), "row 3 (hada): the dense ΔW is [4, 15] but should be [4, 16]");
    dw = t.dense, dw.data = (void *)0x520010; /* inside down2 */
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &dw), "row 3 (hada): the dense ΔW overlaps down2");
    t.up.device = LOOM_HOST;
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &t.dense),
           "row 3 (hada): up should be a contiguous f16 tensor on the CUDA device; got f16 on the host");
    t = hada_term(), t.up2 = dev(0x530000, LOOM_F16, 2, 5, 1, 0);
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &t.dense), "row 3 (hada): up2 is [5, 1]: its rows should be up's");
    t = hada_term(), t.kind = LOOM_AD_LOWRANK;
    EXPECT(loom_cuda_ad_term_delta(&t, "row 3", &t.dense), "row 3 (lowrank): only hada and kron terms have a ΔW");
}

int main(void)
{
    if (!loom_ops_cuda.linear || !loom_ops_cuda_vendor.linear || !loom_ops_cuda.linear_adapted)
        t_skip("built without the CUDA backend (LOOM_CUDA=OFF)");
    check("cuda.linear", loom_ops_cuda.linear);
    check("cuda_vendor.linear", loom_ops_cuda_vendor.linear);
    check("cuda.linear_adapted", adapted);
    check_conv("check", NULL);
    check_conv("cuda.conv2d", loom_ops_cuda.conv2d);
    check_conv("cuda_vendor.conv2d", loom_ops_cuda_vendor.conv2d);
    check_conv("cuda.conv2d_adapted", conv_adapted);
    check_dense();
    return t_finish("test_cuda_args");
}
