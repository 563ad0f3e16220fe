/* test_cpu_table.c — loom_ops_cpu is complete (no NULL entry), and every
 * op rejects bad arguments with a one-line message naming the op and the
 * problem, before writing anything. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ops.h"
#include "testlib.h"

/* Every entry of loom_ops (ops.h). The assert below fails to compile when
 * ops.h gains an op, so this list (and the CPU table) cannot fall behind. */
#define LOOM_OPS_ENTRIES(X)                                                                              \
    X(linear) X(conv2d) X(group_norm) X(layer_norm) X(attention) X(geglu) X(unary) X(add) X(mul) X(concat) \
    X(upsample2x) X(timestep_embedding) X(softmax) X(attention_causal) X(linear_adapted) X(conv2d_adapted)
#define COUNT_ENTRY(e) +1
_Static_assert(sizeof(loom_ops) == offsetof(loom_ops, linear) + (0 LOOM_OPS_ENTRIES(COUNT_ENTRY)) * sizeof(void (*)(void)),
               "ops.h changed: update LOOM_OPS_ENTRIES");

static void test_table_complete(void)
{
    const loom_ops *t = &loom_ops_cpu;
    T_CHECK(t->name && strcmp(t->name, "cpu") == 0, "table name %s", t->name ? t->name : "(null)");
#define CHECK_ENTRY(e) T_CHECK(t->e != NULL, "loom_ops_cpu.%s is NULL", #e);
    LOOM_OPS_ENTRIES(CHECK_ENTRY)
#undef CHECK_ENTRY
}

/* s must fail with LOOM_E_INVALID (or `code`) and a message containing `want`, on one line. */
#define EXPECT_FAIL(expr, want)                                                                              \
    do {                                                                                                     \
        loom_clear_error();                                                                                  \
        loom_status s_ = (expr);                                                                             \
        const char *m_ = loom_last_error();                                                                  \
        T_CHECK(s_ != LOOM_OK, "%s succeeded", #expr);                                                       \
        T_CHECK(strstr(m_, want) != NULL, "%s: message \"%s\" lacks \"%s\"", #expr, m_, want);               \
        T_CHECK(strchr(m_, '\n') == NULL, "%s: message has a newline", #expr);                               \
    } while (0)

static float buf_x[4096], buf_w[4096], buf_y[4096], buf_b[64];

static loom_tensor t4(float *d, int64_t a, int64_t b, int64_t c, int64_t e)
{
    const int64_t s[4] = {a, b, c, e};
    return loom_tensor_view(d, LOOM_F32, 4, s);
}

static loom_tensor t3(float *d, int64_t a, int64_t b, int64_t c)
{
    const int64_t s[3] = {a, b, c};
    return loom_tensor_view(d, LOOM_F32, 3, s);
}

static loom_tensor t2(float *d, int64_t a, int64_t b)
{
    const int64_t s[2] = {a, b};
    return loom_tensor_view(d, LOOM_F32, 2, s);
}

static loom_tensor t1(float *d, int64_t a) { return loom_tensor_view(d, LOOM_F32, 1, &a); }

static void test_common_checks(void)
{
    const loom_ops *o = &loom_ops_cpu;
    loom_tensor x = t2(buf_x, 4, 8), w = t2(buf_w, 3, 8), y = t2(buf_y, 4, 3);
    T_OK(o->linear(&x, &w, NULL, NULL, &y));

    loom_tensor xh = x;
    xh.dtype = LOOM_F16;
    EXPECT_FAIL(o->linear(&xh, &w, NULL, NULL, &y), "linear: x: the CPU backend computes in f32; got f16");
    loom_tensor wb = w;
    wb.dtype = LOOM_BF16;
    EXPECT_FAIL(o->linear(&x, &wb, NULL, NULL, &y), "linear: w: the CPU backend computes in f32; got bf16");
    loom_tensor xg = x;
    xg.device = LOOM_CUDA;
    EXPECT_FAIL(o->linear(&xg, &w, NULL, NULL, &y), "linear: x is on the GPU");
    EXPECT_FAIL(o->linear(NULL, &w, NULL, NULL, &y), "linear: x is missing");
    loom_tensor xt = x; /* a transposed view: strides (1, 4) */
    xt.shape[0] = 8, xt.shape[1] = 4, xt.stride[0] = 1, xt.stride[1] = 8;
    EXPECT_FAIL(o->softmax(&xt, &xt, 1.0f), "softmax: x [8, 4] is not contiguous");
    loom_tensor yb = t2(buf_y, 4, 4);
    EXPECT_FAIL(o->linear(&x, &w, NULL, NULL, &yb), "linear: y is [4, 4] but should be [4, 3]");
    loom_tensor w7 = t2(buf_w, 3, 7);
    EXPECT_FAIL(o->linear(&x, &w7, NULL, NULL, &y), "linear: x is [4, 8] but w [3, 7] expects 7 input features");
    loom_tensor b5 = t1(buf_b, 5);
    EXPECT_FAIL(o->linear(&x, &w, &b5, NULL, &y), "linear: bias is [5] but should be [3]");
    loom_tensor ya = t2(buf_x, 4, 3); /* y inside x's buffer */
    EXPECT_FAIL(o->linear(&x, &w, NULL, NULL, &ya), "linear: y overlaps x in memory");

    /* a failing call writes nothing */
    for (int i = 0; i < 12; i++) buf_y[i] = 7.0f;
    EXPECT_FAIL(o->linear(&x, &w, &b5, NULL, &y), "bias");
    int untouched = 1;
    for (int i = 0; i < 12; i++) untouched &= buf_y[i] == 7.0f;
    T_CHECK(untouched, "a failed linear wrote its output");
}

static void test_op_checks(void)
{
    const loom_ops *o = &loom_ops_cpu;
    loom_conv2d_params p = {1, 1, 1, 1};
    loom_tensor x = t4(buf_x, 1, 4, 4, 8), w = t4(buf_w, 6, 3, 3, 4), y = t4(buf_y, 1, 4, 4, 6);
    EXPECT_FAIL(o->conv2d(&x, &w, NULL, NULL, &y, &p), "conv2d: x is [1, 4, 4, 8] but w expects 4 input channels");
    loom_tensor w8 = t4(buf_w, 6, 3, 3, 8), ys = t4(buf_y, 1, 2, 2, 6);
    T_OK(o->conv2d(&x, &w8, NULL, NULL, &y, &p));
    EXPECT_FAIL(o->conv2d(&x, &w8, NULL, NULL, &ys, &p), "conv2d: y is [1, 2, 2, 6] but should be [1, 4, 4, 6]");
    loom_conv2d_params bad = {0, 1, 0, 0};
    EXPECT_FAIL(o->conv2d(&x, &w8, NULL, NULL, &y, &bad), "conv2d: stride 0x1");
    EXPECT_FAIL(o->conv2d(&x, &w8, NULL, NULL, &y, NULL), "conv2d: params are missing");
    loom_tensor w_big = t4(buf_w, 1, 7, 7, 8);
    loom_conv2d_params p0 = {1, 1, 0, 0};
    EXPECT_FAIL(o->conv2d(&x, &w_big, NULL, NULL, &y, &p0), "does not fit x [1, 4, 4, 8]");

    loom_tensor g = t4(buf_x, 1, 2, 2, 10), gy = t4(buf_y, 1, 2, 2, 10);
    EXPECT_FAIL(o->group_norm(&g, NULL, NULL, &gy, 4, 1e-5f, 0), "group_norm: 4 groups do not divide the 10 channels");
    EXPECT_FAIL(o->group_norm(&g, NULL, NULL, &gy, 5, -1.0f, 0), "group_norm: eps -1 must be finite and >= 0");
    T_OK(o->group_norm(&g, NULL, NULL, &g, 5, 1e-5f, 1)); /* in place */
    loom_tensor gm = t1(buf_b, 9);
    EXPECT_FAIL(o->layer_norm(&g, &gm, NULL, &gy, 1e-5f), "layer_norm: gamma is [9] but should be [10]");

    loom_tensor q = t3(buf_x, 1, 5, 12), k = t3(buf_w, 1, 7, 12), v = t3(buf_w + 100, 1, 7, 12), ao = t3(buf_y, 1, 5, 12);
    T_OK(o->attention(&q, &k, &v, &ao, 3, 0.0f));
    EXPECT_FAIL(o->attention(&q, &k, &v, &ao, 5, 0.0f), "attention: 5 heads do not divide q [1, 5, 12]");
    loom_tensor k0 = t3(buf_w, 1, 0, 12), v0 = t3(buf_w, 1, 0, 12);
    EXPECT_FAIL(o->attention(&q, &k0, &v0, &ao, 3, 0.0f), "attention: k [1, 0, 12] has no keys");
    loom_tensor kb = t3(buf_w, 2, 7, 12);
    EXPECT_FAIL(o->attention(&q, &kb, &v, &ao, 3, 0.0f), "attention: q is [1, 5, 12] but k is [2, 7, 12]");
    T_OK(o->attention_causal(&q, &k, &v, &ao, 3, 0.0f));
    EXPECT_FAIL(o->attention_causal(&q, &k, &v, &ao, 5, 0.0f), "attention_causal: 5 heads do not divide q [1, 5, 12]");

    loom_tensor gx = t2(buf_x, 3, 7), gy2 = t2(buf_y, 3, 3);
    EXPECT_FAIL(o->geglu(&gx, &gy2), "geglu: x is [3, 7]; its last dim must be even");
    EXPECT_FAIL(o->unary(&gx, &gx, LOOM_ACT_COUNT), "unary: unknown activation");

    loom_tensor a = t3(buf_x, 2, 3, 4), b = t2(buf_w, 2, 4), by = t3(buf_y, 2, 3, 4);
    EXPECT_FAIL(o->add(&a, &b, &by), "add: b [2, 4] does not broadcast to a [2, 3, 4]");
    loom_tensor b1 = t3(buf_w, 2, 1, 4);
    T_OK(o->mul(&a, &b1, &by));
    loom_tensor bya = t3(buf_w, 2, 3, 4); /* y over a broadcast b */
    EXPECT_FAIL(o->add(&a, &b1, &bya), "add: y overlaps b in memory");
    loom_tensor cb = t3(buf_w, 2, 4, 4), cy = t3(buf_y, 2, 3, 8);
    EXPECT_FAIL(o->concat(&a, &cb, &cy), "concat: a [2, 3, 4] and b [2, 4, 4] differ outside the last dim");
    loom_tensor ux = t4(buf_x, 1, 2, 3, 4), uy = t4(buf_y, 1, 4, 5, 4);
    EXPECT_FAIL(o->upsample2x(&ux, &uy), "upsample2x: y is [1, 4, 5, 4] but should be [1, 4, 6, 4]");

    loom_tensor t = t1(buf_x, 3), ty = t2(buf_y, 3, 2);
    loom_timestep_params tp = {2, 10000.0f, 1, 1.0f}; /* half − shift = 0: diffusers divides by zero */
    EXPECT_FAIL(o->timestep_embedding(&t, &ty, &tp), "timestep_embedding: dim/2 - freq_shift = 0 must be > 0");
    EXPECT_FAIL(o->timestep_embedding(&t, &ty, NULL), "timestep_embedding: params are missing");
    EXPECT_FAIL(o->softmax(&gx, &gx, INFINITY), "softmax: scale inf must be finite");
}

int main(void)
{
    test_table_complete();
    test_common_checks();
    test_op_checks();
    return t_finish("test_cpu_table");
}
