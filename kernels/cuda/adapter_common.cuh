/* adapter_common.cuh — the module-independent part of the CUDA linear_adapted / conv2d_adapted
 * (adapter_linear.cu, adapter_conv2d.cu), private to them: the plan check (adapter_check.cu),
 * the driver (adapter_common.cu), ΔW builders (adapter_delta.cu) and the fp32-output implicit
 * GEMM everything runs on (adapter_gemm.cu). Mirrors kernels/cpu/adapter_common.h: a linear
 * module is a 1×1 "conv" over the rows of a sample.
 *
 * Plan tensors on this backend (adapters/plan_device.h makes them): factors down/up/down2/up2
 * in the activations' dtype (f16 or bf16) on the CUDA device, vectors in_scale/out_scale/bias_add f32 on the
 * CUDA device, and a
 * HADA/KRON term's optional precomputed ΔW `dense` f32 [O, kh·kw·I] on the CUDA device. */
#ifndef LOOM_CUDA_ADAPTER_COMMON_CUH
#define LOOM_CUDA_ADAPTER_COMMON_CUH

#include <cstdint>

extern "C" {
#include "cuda_ops.h"
}

struct loom_cuda_ad_module {
    const char *op;        /* "linear_adapted" / "conv2d_adapted", the prefix of every message */
    int is_conv;
    int64_t o, kh, kw, in; /* W [O, kh, kw, I]; kh = kw = 1 for linear ([O, I]) */
    int64_t ih, iw;        /* conv: a sample's input height and width; linear: rows per sample, 1 */
    int64_t oh, ow;        /* conv: output height and width; linear: rows per sample, 1 */
    loom_conv2d_params p;  /* conv only; linear: stride 1, no padding */
    int64_t batch;         /* samples: x's leading dim (1 for a 2-D linear x) */
    /* the op's arguments (f16 or bf16 device, one dtype, checked); bias and residual may be NULL,
     * residual may be y */
    const loom_tensor *x, *weight, *bias, *residual;
    loom_tensor *y;
};

/* The module's sizes fit the kernels' int indexing (every extent, batch·rows, K = kh·kw·I, the
 * padded input), checked before anything runs. LOOM_E_UNSUPPORTED naming m->op otherwise. */
loom_status loom_cuda_ad_check_module(const loom_cuda_ad_module *m);

/* The plan fits the module (kernels/cpu/adapter_check.c's rules with this backend's dtypes):
 * batch, group indices, vector lengths, factor shapes per kind, factors in x's dtype (f16 or
 * bf16) and vectors f32 on the device,
 * contiguous, no plan tensor overlapping y; a `dense` only on HADA/KRON terms, f32 [O, K].
 * One-line LOOM_E_INVALID naming m->op otherwise. */
loom_status loom_cuda_ad_check_plan(const loom_cuda_ad_module *m, const loom_ad_plan *plan);

/* Runs a checked, non-NULL plan. Samples with no group or an empty group run the backend's plain
 * op (loom_ops_cuda.linear / conv2d) on runs of consecutive such samples; every other sample's
 * result depends only on its own input and group (batch-invariant, bit for bit). */
loom_status loom_cuda_ad_run(const loom_cuda_ad_module *m, const loom_ad_plan *plan);

/* The backend's plain op (loom_ops_cuda.linear / conv2d; p only for conv): what a NULL or
 * empty plan, and a sample without a group, get. Through the table, so that this is always the
 * op the backend runs for the module without adapters. */
loom_status loom_cuda_ad_plain(int is_conv, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                               const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p);

/* ---- the implicit GEMM (adapter_gemm.cu) --------------------------------------------------
 * C[m, n] (f32, row-major, ldc = n_cols) = Σ_k A(m, k) · B[n, k], then
 *   store:       C = v · col_scale[n]                (col_scale NULL: C = v)
 *   accumulate:  C += (alpha · col_scale[n]) · v     (col_scale NULL: alpha · v)
 * A(m, k) is row m of an implicit im2col over NHWC images [.., ih, iw, cin] (k = (p·kw + q)·cin
 * + c, zero outside the image), times scale[c] when given; a plain row-major matrix [M, cin] is
 * the geometry ih = oh = M, iw = ow = 1, 1×1 kernel. B is [n_cols, kh·kw·cin] row-major.
 * Each C element is one thread's sequential fp32 sum over k = 0 .. K−1: no split-K, the same
 * bits whatever M and the element's row. */
struct loom_ad_gemm {
    const void *a;         /* a_type */
    loom_dtype a_type;     /* LOOM_F16, LOOM_BF16 or LOOM_F32 */
    const float *a_scale;  /* [cin] or NULL */
    int64_t ih, iw, cin, kh, kw, oh, ow;
    int stride_h, stride_w, pad_h, pad_w;
    const void *b;         /* b_type [n_cols, kh·kw·cin] */
    loom_dtype b_type;     /* LOOM_F16, LOOM_BF16 or LOOM_F32 */
    float *c;              /* [m, n_cols] f32 */
    int64_t m, n_cols;
    const float *col_scale;
    float alpha;
    int accumulate;
};

/* The sizes one GEMM may have (also used by the checks, so that a refused call writes nothing):
 * LOOM_E_UNSUPPORTED naming `op` when m, n or k exceed the kernel's grid or int range. */
loom_status loom_cuda_ad_gemm_fits(const char *op, int64_t m, int64_t n, int64_t k);
loom_status loom_cuda_ad_gemm(const loom_ad_gemm *g);

/* Matrix geometry for A: rows of a row-major [m, cols] buffer. */
void loom_cuda_ad_gemm_matrix(loom_ad_gemm *g, const void *a, loom_dtype a_type, int64_t m, int64_t cols);

/* ---- ΔW builders (adapter_delta.cu): dense f32 [O, kh·kw·I] in the target's layout --------- */
/* HADA: (up·down) ⊙ (up2·down2); KRON: W1 ⊗ W2 as adapter_plan.h lays it out. The per-call
 * build, for a term without `dense`; the once-per-request one is loom_cuda_ad_term_delta
 * (kernels/adapter_dense.h), the same kernels. */
loom_status loom_cuda_ad_build_delta(const loom_cuda_ad_module *m, const loom_ad_term *t, float *dw);

#endif
