/* conv2d.cu — loom_cuda_conv2d (ops.h): NHWC convolution as an implicit GEMM on the tensor-core tile
 * kernel (mma_tile.cuh, kernel version 1 of kernels/dev/gemm.cu):
 *   y[M = N·Ho·Wo, O] = patches(x)[M, K = kh·kw·I] · w[O, K]ᵀ + bias[O] + residual
 * The OHWI weight is already the [O, K] B operand (K index (p, q, c), c fastest), and the A tile is
 * gathered from x on the fly (conv_rows), zero outside the image: no im2col buffer. Any kernel size,
 * stride ≥ 1, padding ≥ 0. I % 8 == 0 with 16-byte aligned x and w takes 16-byte cp.async copies,
 * other channel counts (conv_in's 4) the element-wise path. Checks and messages shared with the
 * adapted and vendor ops (loom_cuda_check_conv). f16 or bf16, x's dtype for every operand (one rounding to it). */
#include <climits>

#include "mma_tile.cuh"
#include "nvtx.h"

extern "C" {
#include "cuda_check.h"
#include "cuda_ops.h"
}

static loom_status check_fits(const char *what, int64_t v, int64_t limit)
{
    if (v > limit)
        return loom_fail(LOOM_E_UNSUPPORTED, "conv2d: %s = %lld exceeds %lld, the int range of the kernel", what,
                         (long long)v, (long long)limit);
    return LOOM_OK;
}

/* The launch for element type T (x's dtype, shared by every operand). */
template <class T>
static void launch(loom_mma::variant v, bool vec, const loom_mma::conv_params &cp, const loom_mma::dense_params &bp,
                   loom_tensor *y, const loom_tensor *bias, const loom_tensor *residual, int m, int o, int k)
{
    using namespace loom_mma;
    epi_params<T> epi;
    epi.c = (T *)y->data;
    epi.ldc = o;
    epi.residual = residual ? (const T *)residual->data : nullptr;
    epi.bias = bias ? (const T *)bias->data : nullptr;
    epi.bias_f32 = nullptr;
    epi.col_scale = nullptr;
    epi.alpha = 1.0f;
    epi.n_out = o;
    epi.vec2 = o % 2 == 0 && aligned4(y->data) && (!epi.residual || aligned4(epi.residual));
    launch_variant<T, conv_params, false>(v, vec, cp, bp, epi, m, o, k);
}

loom_status loom_cuda_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                             const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p)
{
    LOOM_NVTX_RANGE("cuda/conv2d");
    static const char op[] = "conv2d";
    LOOM_TRY(loom_cuda_check_conv(op, x, w, bias, residual, y, p));
    const int64_t nb = x->shape[0], h = x->shape[1], wd = x->shape[2], in = x->shape[3];
    const int64_t o = w->shape[0], kh = w->shape[1], kw = w->shape[2];
    const int64_t hp = x->shape[1] + 2 * (int64_t)p->pad_h, wp = x->shape[2] + 2 * (int64_t)p->pad_w;
    const int64_t ho = y->shape[1], wo = y->shape[2];
    if (loom_tensor_numel(y) == 0) return LOOM_OK;

    /* The kernel's pixel and GEMM indices are int (mma_tile.cuh, conv_rows). Each product below
     * multiplies two factors already known to be ≤ INT_MAX, so it cannot overflow int64. */
    LOOM_TRY(check_fits("padded height", hp, INT_MAX)); /* so ho, wo ≤ INT_MAX too */
    LOOM_TRY(check_fits("padded width", wp, INT_MAX));
    LOOM_TRY(check_fits("N·H", nb * h, INT_MAX));
    LOOM_TRY(check_fits("N·H·W", nb * h * wd, INT_MAX));
    LOOM_TRY(check_fits("N·Ho", nb * ho, INT_MAX));
    LOOM_TRY(check_fits("M = N·Ho·Wo", nb * ho * wo, INT_MAX));
    LOOM_TRY(check_fits("kh·kw", kh * kw, INT_MAX));
    LOOM_TRY(check_fits("K = kh·kw·I", kh * kw * in, INT_MAX - 64));
    const int64_t m = nb * ho * wo, k = kh * kw * in;

    using namespace loom_mma;
    const variant v = pick_variant(m, o);
    const dim3 grid = variant_grid(v, (int)m, (int)o, false);
    if (grid.y > 65535)
        return loom_fail(LOOM_E_UNSUPPORTED, "conv2d: %lld output channels need %u column tiles, over the grid "
                         "limit 65535", (long long)o, grid.y);
    conv_params cp;
    cp.x = (const uint16_t *)x->data;
    cp.h = (int)h;
    cp.w = (int)wd;
    cp.c = (int)in;
    cp.kw = (int)kw;
    cp.ho = (int)ho;
    cp.wo = (int)wo;
    cp.sh = p->stride_h;
    cp.sw = p->stride_w;
    cp.ph = p->pad_h;
    cp.pw = p->pad_w;
    const dense_params bp = {(const uint16_t *)w->data, k};
    /* K % 8 == 0 follows from I % 8 == 0, so w's rows are 16-byte chunks too */
    const bool vec = in % 8 == 0 && aligned16(x->data) && aligned16(w->data);
    // y[N·Ho·Wo, O] = patches(x)[N·Ho·Wo, kh·kw·I] · w[O, kh·kw·I]ᵀ + bias + residual
    if (x->dtype == LOOM_BF16)
        launch<__nv_bfloat16>(v, vec, cp, bp, y, bias, residual, (int)m, (int)o, (int)k);
    else
        launch<__half>(v, vec, cp, bp, y, bias, residual, (int)m, (int)o, (int)k);
    LOOM_LAUNCH_CHECK("loom_mma_conv2d");
    return LOOM_OK;
}
