/* conv2d.c — NHWC convolution with OHWI weights as im2col + GEMM (ops.h).
 *
 * w[O,kh,kw,I] is already the [O, K] matrix (K = kh·kw·I) that an NHWC
 * patch [kh,kw,I] multiplies, so each output pixel is one row of
 * col[Ho·Wo, K]·w[O,K]ᵀ. The col buffer is built for a block of output rows
 * at a time, bounded by CONV_COL_FLOATS, so a 64×64×320 3×3 conv needs 16 MB
 * rather than 47 MB per image. 1×1 stride-1 unpadded convs skip im2col. */
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

#include <stdlib.h>
#include <string.h>

#define CONV_COL_FLOATS (INT64_C(1) << 22) /* 16 MB of im2col per block */

/* Patches of output rows [ho0, ho0 + nrows) of image x0[H,W,I] into col[nrows·Wo, K]. */
static void im2col_rows(const float *x0, int64_t h, int64_t wd, int64_t in, int64_t kh, int64_t kw,
                        const loom_conv2d_params *p, int64_t wo_n, int64_t ho0, int64_t nrows, float *col)
{
    const int64_t k = kh * kw * in;
    for (int64_t r = 0; r < nrows; r++) {
        const int64_t ho = ho0 + r;
        for (int64_t wo = 0; wo < wo_n; wo++) {
            float *dst = col + (r * wo_n + wo) * k;
            for (int64_t i = 0; i < kh; i++) {
                const int64_t hi = ho * p->stride_h - p->pad_h + i;
                for (int64_t j = 0; j < kw; j++) {
                    const int64_t wi = wo * p->stride_w - p->pad_w + j;
                    float *d = dst + (i * kw + j) * in;
                    if (hi < 0 || hi >= h || wi < 0 || wi >= wd) memset(d, 0, (size_t)in * sizeof(float));
                    else memcpy(d, x0 + (hi * wd + wi) * in, (size_t)in * sizeof(float));
                }
            }
        }
    }
}

static loom_status check_params(const char *op, const loom_conv2d_params *p)
{
    if (!p) return loom_fail(LOOM_E_INVALID, "%s: params are missing (NULL)", op);
    if (p->stride_h < 1 || p->stride_w < 1)
        return loom_fail(LOOM_E_INVALID, "%s: stride %dx%d; strides must be >= 1", op, p->stride_h, p->stride_w);
    if (p->pad_h < 0 || p->pad_w < 0)
        return loom_fail(LOOM_E_INVALID, "%s: padding %dx%d; padding must be >= 0", op, p->pad_h, p->pad_w);
    return LOOM_OK;
}

loom_status loom_cpu_conv2d_check(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, const loom_tensor *y, const loom_conv2d_params *p)
{
    LOOM_TRY(check_params(op, p));
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "w", w));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 4, 4));
    LOOM_TRY(loom_cpu_check_ndim(op, "w", w, 4, 4));
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
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, 4, yshape));
    LOOM_TRY(loom_cpu_check_vector(op, "bias", bias, o));
    if (residual) {
        LOOM_TRY(loom_cpu_check_tensor(op, "residual", residual));
        LOOM_TRY(loom_cpu_check_shape(op, "residual", residual, 4, yshape));
    }
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "w", w, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "bias", bias, 0));
    return loom_cpu_check_alias(op, "y", y, "residual", residual, 1); /* y == residual: accumulate */
}

loom_status loom_cpu_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                            const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p)
{
    static const char op[] = "conv2d";
    LOOM_TRY(loom_cpu_conv2d_check(op, x, w, bias, residual, y, p));
    const int64_t nb = x->shape[0], h = x->shape[1], wd = x->shape[2], in = x->shape[3];
    const int64_t o = w->shape[0], kh = w->shape[1], kw = w->shape[2];
    const int64_t ho_n = y->shape[1], wo_n = y->shape[2];
    const int64_t k = kh * kw * in, pix = ho_n * wo_n;
    const float *xd = x->data, *wdata = w->data, *bd = bias ? bias->data : NULL;
    const float *rd = residual ? residual->data : NULL;
    float *yd = y->data;
    if (nb == 0 || pix == 0 || o == 0) return LOOM_OK;

    if (kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0) {
        LOOM_TRY(loom_cpu_check_blas_dims(op, pix, o, k));
        /* one GEMM per image: a sample's result must not depend on the batch
         * it rides in (BLAS rounding varies with M), as in linear.c */
        for (int64_t b = 0; b < nb; b++)
            // y[H·W, O] = x[H·W, I]·w[O, I]ᵀ + bias + residual
            loom_cpu_gemm_nt_epilogue(pix, o, k, xd + b * pix * k, k, wdata, bd, rd ? rd + b * pix * o : NULL,
                                      yd + b * pix * o);
        return LOOM_OK;
    }

    /* Divide rather than multiply: wo_n·k may not fit in int64 for hostile shapes. */
    int64_t rows_per_block = k > 0 ? CONV_COL_FLOATS / wo_n / k : ho_n;
    if (rows_per_block < 1) rows_per_block = 1;
    if (rows_per_block > ho_n) rows_per_block = ho_n;
    LOOM_TRY(loom_cpu_check_blas_dims(op, rows_per_block * wo_n, o, k));
    const size_t col_bytes = (size_t)(rows_per_block * wo_n * (k ? k : 1)) * sizeof(float);
    float *col = malloc(col_bytes);
    if (!col) return loom_fail(LOOM_E_NOMEM, "conv2d: cannot allocate %zu bytes for im2col", col_bytes);
    for (int64_t b = 0; b < nb; b++) {
        const float *x0 = xd + b * h * wd * in;
        for (int64_t ho0 = 0; ho0 < ho_n; ho0 += rows_per_block) {
            const int64_t nrows = ho_n - ho0 < rows_per_block ? ho_n - ho0 : rows_per_block;
            const int64_t m = nrows * wo_n, yoff = (b * pix + ho0 * wo_n) * o;
            im2col_rows(x0, h, wd, in, kh, kw, p, wo_n, ho0, nrows, col);
            // y[rows·Wo, O] = col[rows·Wo, K]·w[O, K]ᵀ + bias + residual
            loom_cpu_gemm_nt_epilogue(m, o, k, col, k, wdata, bd, rd ? rd + yoff : NULL, yd + yoff);
        }
    }
    free(col);
    return LOOM_OK;
}
