/* args.cu — argument checks shared by every CUDA op, own and vendor
 * (cuda_ops.h). */
#include <climits>
#include <cstdint>

extern "C" {
#include "cuda_ops.h"
}

loom_status loom_cuda_check_tensor(const char *op, const char *name, const loom_tensor *t)
{
    if (!t) return loom_fail(LOOM_E_INVALID, "%s: %s is missing", op, name);
    if (t->dtype != LOOM_F16 && t->dtype != LOOM_BF16)
        return loom_fail(LOOM_E_INVALID, "%s: %s: the CUDA ops take f16 or bf16; got %s", op, name,
                         loom_dtype_name(t->dtype));
    if (t->device != LOOM_CUDA) return loom_fail(LOOM_E_INVALID, "%s: %s is not on the CUDA device", op, name);
    if (t->ndim < 0 || t->ndim > LOOM_MAX_DIMS) return loom_fail(LOOM_E_INVALID, "%s: %s has %d dims", op, name, t->ndim);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0) return loom_fail(LOOM_E_INVALID, "%s: %s has a negative extent", op, name);
    if (!loom_tensor_is_contiguous(t)) return loom_fail(LOOM_E_INVALID, "%s: %s is not contiguous", op, name);
    if (!t->data && loom_tensor_numel(t) > 0) return loom_fail(LOOM_E_INVALID, "%s: %s has no data", op, name);
    return LOOM_OK;
}

loom_status loom_cuda_check_same_dtype(const char *op, const char *name, const loom_tensor *t, const char *ref_name,
                                       const loom_tensor *ref)
{
    if (!t || !ref || t->dtype == ref->dtype) return LOOM_OK;
    return loom_fail(LOOM_E_INVALID, "%s: %s is %s but %s is %s; one call takes one 16-bit dtype", op, name,
                     loom_dtype_name(t->dtype), ref_name, loom_dtype_name(ref->dtype));
}

loom_status loom_cuda_check_shape(const char *op, const char *name, const loom_tensor *t, int ndim,
                                    const int64_t *shape)
{
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (ok) return LOOM_OK;
    char got[96], want[96];
    loom_tensor w = loom_tensor_view(nullptr, t->dtype, ndim, shape);
    return loom_fail(LOOM_E_INVALID, "%s: %s is %s but should be %s", op, name, loom_shape_str(t, got, sizeof got),
                     loom_shape_str(&w, want, sizeof want));
}

loom_status loom_cuda_check_int(const char *op, const char *what, int64_t v)
{
    if (v < 0 || v > INT_MAX)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: %s = %lld exceeds the int range of the CUDA ops", op, what,
                         (long long)v);
    return LOOM_OK;
}

loom_status loom_cuda_check_alias(const char *op, const char *yname, const loom_tensor *y, const char *xname,
                                    const loom_tensor *x, int allow_same)
{
    if (!x || !y || !x->data || !y->data) return LOOM_OK;
    const uintptr_t y0 = (uintptr_t)y->data, y1 = y0 + loom_tensor_nbytes(y);
    const uintptr_t x0 = (uintptr_t)x->data, x1 = x0 + loom_tensor_nbytes(x);
    if (y0 >= x1 || x0 >= y1) return LOOM_OK;
    if (allow_same && y0 == x0 && y1 == x1) return LOOM_OK;
    return loom_fail(LOOM_E_INVALID, "%s: %s overlaps %s", op, yname, xname);
}

loom_status loom_cuda_check_linear(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                   const loom_tensor *residual, const loom_tensor *y, int64_t *m_out)
{
    LOOM_TRY(loom_cuda_check_tensor(op, "x", x));
    LOOM_TRY(loom_cuda_check_tensor(op, "w", w));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    if (x->ndim < 2 || x->ndim > 4) return loom_fail(LOOM_E_INVALID, "%s: x has %d dims, want 2 to 4", op, x->ndim);
    if (w->ndim != 2) return loom_fail(LOOM_E_INVALID, "%s: w has %d dims, want 2", op, w->ndim);
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    int64_t m = 1;
    for (int i = 0; i < x->ndim - 1; i++) {
        LOOM_TRY(loom_cuda_check_int(op, "a leading dim of x", x->shape[i]));
        m *= x->shape[i];
        LOOM_TRY(loom_cuda_check_int(op, "M", m)); /* checked as it grows: no int64 overflow */
    }
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
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "residual", residual, 1)); /* y == residual: accumulate */
    LOOM_TRY(loom_cuda_check_int(op, "N", n));
    LOOM_TRY(loom_cuda_check_int(op, "K", k));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "w", w, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "bias", bias, "x", x));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "residual", residual, "x", x));
    if (m_out) *m_out = m;
    return LOOM_OK;
}

loom_status loom_cuda_check_conv(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
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
    for (int i = 0; i < 4; i++) {
        LOOM_TRY(loom_cuda_check_int(op, "an x extent", x->shape[i]));
        LOOM_TRY(loom_cuda_check_int(op, "a w extent", w->shape[i]));
    }
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
