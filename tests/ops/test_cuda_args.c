/* test_cuda_args.c — the CUDA linears (own, adapted, vendor) refuse bad calls with the same
 * one-line messages, before touching the GPU (loom_cuda_check_linear runs on the host), so this
 * runs on machines without one. Tensors are descriptors with fake device addresses: a check that
 * let a call through would fault, which the test would report. Skipped with LOOM_CUDA=OFF. */
#include <stdint.h>
#include <string.h>

#include "ops.h"
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
    EXPECT(f(&x, &w, NULL, NULL, &ybad), "y is [2, 8, 5] but should be [2, 8, 4]");
    EXPECT(f(&x, &w, &bbad, NULL, &y), "bias is [5] but should be [4]");
    EXPECT(f(&x, &w, &bias, NULL, &yover), "y overlaps x");
    x.device = LOOM_HOST;
    EXPECT(f(&x, &w, NULL, NULL, &y), "not on the CUDA device");
}

int main(void)
{
    if (!loom_ops_cuda.linear || !loom_ops_cuda_vendor.linear || !loom_ops_cuda.linear_adapted)
        t_skip("built without the CUDA backend (LOOM_CUDA=OFF)");
    check("cuda.linear", loom_ops_cuda.linear);
    check("cuda_vendor.linear", loom_ops_cuda_vendor.linear);
    check("cuda.linear_adapted", adapted);
    return t_finish("test_cuda_args");
}
