/* binary.c — y = a + b and y = a·b with b broadcast to a's shape (ops.h):
 * numpy rules aligned on trailing dims, so b may be [C] (per channel),
 * [N,1,1,C] (per sample and channel, the timestep embedding on NHWC maps),
 * a scalar, or a's own shape. In place allowed (y == a, or y == b when b
 * has a's shape). */
#include "cpu_check.h"
#include "cpu_ops.h"

typedef enum { BIN_ADD, BIN_MUL } bin_kind;

static void combine(float *y, const float *a, const float *b, int64_t n, int64_t b_step, bin_kind kind)
{
    if (kind == BIN_ADD)
        for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i * b_step];
    else
        for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i * b_step];
}

static loom_status binary(const char *op, bin_kind kind, const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    LOOM_TRY(loom_cpu_check_tensor(op, "a", a));
    LOOM_TRY(loom_cpu_check_tensor(op, "b", b));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, a->ndim, a->shape));
    /* Pad both shapes to 4 dims on the left; b's stride is 0 where it broadcasts. */
    int64_t as[LOOM_MAX_DIMS], bs[LOOM_MAX_DIMS], bstride[LOOM_MAX_DIMS];
    int same = b->ndim <= a->ndim;
    for (int i = 0; i < LOOM_MAX_DIMS; i++) {
        const int ai = i - (LOOM_MAX_DIMS - a->ndim), bi = i - (LOOM_MAX_DIMS - b->ndim);
        as[i] = ai >= 0 ? a->shape[ai] : 1;
        bs[i] = bi >= 0 ? b->shape[bi] : 1;
        if (bs[i] != as[i] && bs[i] != 1) same = 0;
    }
    if (!same) {
        char s1[96], s2[96];
        return loom_fail(LOOM_E_INVALID, "%s: b %s does not broadcast to a %s", op, loom_shape_str(b, s1, sizeof s1),
                         loom_shape_str(a, s2, sizeof s2));
    }
    const int b_full = loom_tensor_numel(b) == loom_tensor_numel(a);
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "a", a, 1));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "b", b, b_full));
    int64_t s = 1;
    for (int i = LOOM_MAX_DIMS - 1; i >= 0; i--) {
        bstride[i] = bs[i] == 1 ? 0 : s;
        s *= bs[i];
    }
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    if (loom_tensor_numel(a) == 0) return LOOM_OK;
    if (b_full) { /* same element count and broadcastable: the same shape up to 1s */
        combine(yd, ad, bd, loom_tensor_numel(a), 1, kind);
        return LOOM_OK;
    }
    /* Walk a's outer three dims; the innermost runs contiguously in a and y,
     * with b advancing by 0 or 1. */
    const int64_t inner = as[3];
    int64_t off = 0;
    for (int64_t i0 = 0; i0 < as[0]; i0++)
        for (int64_t i1 = 0; i1 < as[1]; i1++)
            for (int64_t i2 = 0; i2 < as[2]; i2++) {
                const float *brow = bd + i0 * bstride[0] + i1 * bstride[1] + i2 * bstride[2];
                combine(yd + off, ad + off, brow, inner, bstride[3], kind);
                off += inner;
            }
    return LOOM_OK;
}

loom_status loom_cpu_add(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    return binary("add", BIN_ADD, a, b, y);
}

loom_status loom_cpu_mul(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    return binary("mul", BIN_MUL, a, b, y);
}
