/* linear.c — y[..., N] = x[..., K]·w[N,K]ᵀ + bias[N] + residual[..., N] (ops.h). */
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

loom_status loom_cpu_linear_check(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, const loom_tensor *y)
{
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "w", w));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 2, 4));
    LOOM_TRY(loom_cpu_check_ndim(op, "w", w, 2, 2));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0];
    if (w->shape[1] != k) {
        char xs[96], ws[96];
        return loom_fail(LOOM_E_INVALID, "%s: x is %s but w %s expects %lld input features", op,
                         loom_shape_str(x, xs, sizeof xs), loom_shape_str(w, ws, sizeof ws), (long long)w->shape[1]);
    }
    int64_t yshape[LOOM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = n;
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, yshape));
    LOOM_TRY(loom_cpu_check_vector(op, "bias", bias, n));
    if (residual) {
        LOOM_TRY(loom_cpu_check_tensor(op, "residual", residual));
        LOOM_TRY(loom_cpu_check_shape(op, "residual", residual, x->ndim, yshape));
    }
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "w", w, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "bias", bias, 0));
    return loom_cpu_check_alias(op, "y", y, "residual", residual, 1); /* y == residual: accumulate */
}

loom_status loom_cpu_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                            const loom_tensor *residual, loom_tensor *y)
{
    static const char op[] = "linear";
    LOOM_TRY(loom_cpu_linear_check(op, x, w, bias, residual, y));
    const int64_t k = x->shape[x->ndim - 1], n = w->shape[0], m = loom_cpu_rows(x);
    LOOM_TRY(loom_cpu_check_blas_dims(op, m, n, k));

    /* x [B, S, K] runs as B GEMMs of S rows: BLAS rounding depends on M, and
     * an image's result must not depend on the batch it rides in (a batch
     * equals its images rendered one by one, bit for bit on this backend). */
    const int64_t samples = x->ndim >= 3 ? x->shape[0] : 1, per = samples ? m / samples : 0;
    const float *xd = x->data, *rd = residual ? residual->data : NULL;
    float *yd = y->data;
    for (int64_t b = 0; b < samples; b++)
        // y[S,N] = x[S,K]·w[N,K]ᵀ + bias + residual
        loom_cpu_gemm_nt_epilogue(per, n, k, xd + b * per * k, k, w->data, bias ? bias->data : NULL,
                                  rd ? rd + b * per * n : NULL, yd + b * per * n);
    return LOOM_OK;
}
