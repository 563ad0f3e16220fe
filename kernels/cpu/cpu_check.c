/* cpu_check.c — see cpu_check.h. */
#include "cpu_check.h"

#include <limits.h>

loom_status loom_cpu_check_tensor(const char *op, const char *name, const loom_tensor *t)
{
    if (!t) return loom_fail(LOOM_E_INVALID, "%s: %s is missing (NULL)", op, name);
    if (t->dtype != LOOM_F32)
        return loom_fail(LOOM_E_INVALID, "%s: %s: the CPU backend computes in f32; got %s", op, name,
                         loom_dtype_name(t->dtype));
    if (t->device != LOOM_HOST)
        return loom_fail(LOOM_E_INVALID, "%s: %s is on the GPU; the CPU backend needs host tensors", op, name);
    if (t->ndim < 0 || t->ndim > LOOM_MAX_DIMS)
        return loom_fail(LOOM_E_INVALID, "%s: %s has %d dims (at most %d)", op, name, t->ndim, LOOM_MAX_DIMS);
    /* Bound the element count so later size arithmetic cannot overflow:
     * 2^40 elements is far beyond any SD tensor but keeps ·4 bytes and the
     * products of two dims well inside int64. */
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0)
            return loom_fail(LOOM_E_INVALID, "%s: %s has a negative extent in dim %d", op, name, i);
        if (t->shape[i] > 0 && numel > (INT64_C(1) << 40) / t->shape[i])
            return loom_fail(LOOM_E_INVALID, "%s: %s has more than 2^40 elements", op, name);
        numel *= t->shape[i];
    }
    if (!loom_tensor_is_contiguous(t)) {
        char b[96];
        return loom_fail(LOOM_E_INVALID, "%s: %s %s is not contiguous; the CPU backend needs row-major tensors",
                         op, name, loom_shape_str(t, b, sizeof b));
    }
    if (numel > 0 && !t->data) return loom_fail(LOOM_E_INVALID, "%s: %s has no data (NULL)", op, name);
    return LOOM_OK;
}

loom_status loom_cpu_check_ndim(const char *op, const char *name, const loom_tensor *t, int min_dims,
                                int max_dims)
{
    if (t->ndim >= min_dims && t->ndim <= max_dims) return LOOM_OK;
    char b[96];
    if (min_dims == max_dims)
        return loom_fail(LOOM_E_INVALID, "%s: %s is %s; expected %d dims", op, name, loom_shape_str(t, b, sizeof b),
                         min_dims);
    return loom_fail(LOOM_E_INVALID, "%s: %s is %s; expected %d to %d dims", op, name,
                     loom_shape_str(t, b, sizeof b), min_dims, max_dims);
}

loom_status loom_cpu_check_shape(const char *op, const char *name, const loom_tensor *t, int ndim,
                                 const int64_t *shape)
{
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (same) return LOOM_OK;
    loom_tensor want;
    want.ndim = ndim;
    for (int i = 0; i < ndim; i++) want.shape[i] = shape[i];
    char have_s[96], want_s[96];
    return loom_fail(LOOM_E_INVALID, "%s: %s is %s but should be %s", op, name,
                     loom_shape_str(t, have_s, sizeof have_s), loom_shape_str(&want, want_s, sizeof want_s));
}

loom_status loom_cpu_check_vector(const char *op, const char *name, const loom_tensor *t, int64_t n)
{
    if (!t) return LOOM_OK;
    LOOM_TRY(loom_cpu_check_tensor(op, name, t));
    return loom_cpu_check_shape(op, name, t, 1, &n);
}

loom_status loom_cpu_check_alias(const char *op, const char *yname, const loom_tensor *y, const char *xname,
                                 const loom_tensor *x, int allow_same)
{
    if (!x || !y || !x->data || !y->data) return LOOM_OK;
    int64_t ny = loom_tensor_numel(y), nx = loom_tensor_numel(x);
    if (ny == 0 || nx == 0) return LOOM_OK;
    /* Compare addresses as integers: relational operators on pointers into
     * different objects are undefined in C. */
    uintptr_t y0 = (uintptr_t)y->data, y1 = y0 + (uintptr_t)ny * sizeof(float);
    uintptr_t x0 = (uintptr_t)x->data, x1 = x0 + (uintptr_t)nx * sizeof(float);
    if (y1 <= x0 || x1 <= y0) return LOOM_OK;
    if (allow_same && y0 == x0 && ny == nx) return LOOM_OK;
    return loom_fail(LOOM_E_INVALID, "%s: %s overlaps %s in memory%s", op, yname, xname,
                     allow_same ? " (only exactly in place is allowed)" : "; it must be a separate buffer");
}

loom_status loom_cpu_check_blas_dims(const char *op, int64_t m, int64_t n, int64_t k)
{
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: a GEMM dimension (%lld x %lld x %lld) exceeds the BLAS int range",
                         op, (long long)m, (long long)n, (long long)k);
    return LOOM_OK;
}

int64_t loom_cpu_rows(const loom_tensor *t)
{
    int64_t r = 1;
    for (int i = 0; i + 1 < t->ndim; i++) r *= t->shape[i];
    return r;
}

int64_t loom_cpu_last_dim(const loom_tensor *t) { return t->ndim > 0 ? t->shape[t->ndim - 1] : 1; }
