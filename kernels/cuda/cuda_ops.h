/* cuda_ops.h — loom's own CUDA ops (kernels/cuda/<op>.cu), one function per
 * loom_ops entry with the entry's signature and contract (ops.h), and the
 * argument checks every CUDA op shares (args.cu).
 *
 * Tensors: f16 (LOOM_F16) or bf16 (LOOM_BF16) on the CUDA device, contiguous, every 16-bit
 * operand of one call in the same dtype (the op dispatches on it, not on the table: the bf16
 * tables are copies of these with .dtype = LOOM_BF16); fp32 accumulation
 * and fp32 softmax/norm statistics inside the kernels; timestep_embedding's
 * t is f32. Everything on the default stream, no host synchronisation: an
 * op only queues work. A sample's result never depends on the batch it
 * rides in (ops.h): no split-K or reduction order that varies with M. */
#ifndef LOOM_CUDA_OPS_H
#define LOOM_CUDA_OPS_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- argument checks (one-line errors naming the op and the operand) ---- */
/* A required operand: non-NULL, f16 or bf16, on the CUDA device, contiguous, data set. */
loom_status loom_cuda_check_tensor(const char *op, const char *name, const loom_tensor *t);
/* t (NULL: fine) has ref's dtype: one call's 16-bit operands are all f16 or all bf16. */
loom_status loom_cuda_check_same_dtype(const char *op, const char *name, const loom_tensor *t, const char *ref_name,
                                       const loom_tensor *ref);
/* t has exactly `shape`; the message shows both shapes. */
loom_status loom_cuda_check_shape(const char *op, const char *name, const loom_tensor *t, int ndim,
                                  const int64_t *shape);
/* 0 ≤ v ≤ INT_MAX (kernels index with int where it is enough). */
loom_status loom_cuda_check_int(const char *op, const char *what, int64_t v);
/* y's bytes must not overlap x's; with allow_same the identical buffer is fine. */
loom_status loom_cuda_check_alias(const char *op, const char *yname, const loom_tensor *y, const char *xname,
                                  const loom_tensor *x, int allow_same);
/* Every check of a linear call (ops.h): operands, shapes, aliasing (y may be the residual),
 * M = rows of x, N and K within int; *m_out (may be NULL) gets M. Shared by the own, adapted
 * and vendor linears so they refuse the same calls with the same messages. w, y, bias and
 * residual have x's dtype. */
loom_status loom_cuda_check_linear(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                   const loom_tensor *residual, const loom_tensor *y, int64_t *m_out);
/* Every check of a conv2d call (ops.h): params, operands (x NHWC, w OHWI), the kernel fitting the
 * padded input, y's shape, bias, residual, extents within int, aliasing (y may be the residual),
 * one dtype. The CPU op's messages; shared by the own, adapted and vendor convs. */
loom_status loom_cuda_check_conv(const char *op, const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                 const loom_tensor *residual, const loom_tensor *y, const loom_conv2d_params *p);

/* ---- the ops (ops.h has each one's contract) ----------------------------- */
loom_status loom_cuda_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                             const loom_tensor *residual, loom_tensor *y);
loom_status loom_cuda_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                             const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p);
loom_status loom_cuda_group_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                 loom_tensor *y, int groups, float eps, int fuse_silu);
loom_status loom_cuda_layer_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                 loom_tensor *y, float eps);
loom_status loom_cuda_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                                int heads, float scale);
loom_status loom_cuda_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                       loom_tensor *o, int heads, float scale);
loom_status loom_cuda_geglu(const loom_tensor *x, loom_tensor *y);
loom_status loom_cuda_unary(const loom_tensor *x, loom_tensor *y, loom_act act);
loom_status loom_cuda_add(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cuda_mul(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cuda_concat(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cuda_upsample2x(const loom_tensor *x, loom_tensor *y);
loom_status loom_cuda_timestep_embedding(const loom_tensor *t, loom_tensor *y, const loom_timestep_params *p);
loom_status loom_cuda_softmax(const loom_tensor *x, loom_tensor *y, float scale);
loom_status loom_cuda_linear_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                     const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan);
loom_status loom_cuda_conv2d_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                     const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p,
                                     const loom_ad_plan *plan);

#ifdef __cplusplus
}
#endif

#endif
