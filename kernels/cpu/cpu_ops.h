/* cpu_ops.h — the CPU reference backend: plain fp32 C, one op per file.
 * Signatures and layouts are those of loom_ops (ops.h); see there. GEMM-shaped
 * work calls CBLAS (Debian's OpenBLAS) so full-size runs stay usable.
 *
 * Inputs: f32, host, contiguous (cpu_check.h); anything else is refused with
 * a one-line error, never converted silently. Threads: only inside OpenBLAS,
 * which follows OPENBLAS_NUM_THREADS; the plain-C loops are single-threaded.
 * Tested against PyTorch float64 in tests/ops/test_cpu_ops.c. */
#ifndef LOOM_CPU_OPS_H
#define LOOM_CPU_OPS_H

#include "ops.h"

loom_status loom_cpu_linear(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                            const loom_tensor *residual, loom_tensor *y);
loom_status loom_cpu_conv2d(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                            const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p);
loom_status loom_cpu_group_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                loom_tensor *y, int groups, float eps, int fuse_silu);
loom_status loom_cpu_layer_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                loom_tensor *y, float eps);
loom_status loom_cpu_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                               loom_tensor *o, int heads, float scale);
loom_status loom_cpu_geglu(const loom_tensor *x, loom_tensor *y);
loom_status loom_cpu_unary(const loom_tensor *x, loom_tensor *y, loom_act act);
loom_status loom_cpu_add(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cpu_mul(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cpu_concat(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
loom_status loom_cpu_upsample2x(const loom_tensor *x, loom_tensor *y);
loom_status loom_cpu_timestep_embedding(const loom_tensor *t, loom_tensor *y, const loom_timestep_params *p);
loom_status loom_cpu_softmax(const loom_tensor *x, loom_tensor *y, float scale);
loom_status loom_cpu_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                      loom_tensor *o, int heads, float scale);
/* adapter_linear.c, adapter_conv2d.c (+ adapter_check.c, adapter_common.c): live adapters */
loom_status loom_cpu_linear_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                    const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan);
loom_status loom_cpu_conv2d_adapted(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                    const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p,
                                    const loom_ad_plan *plan);

#endif
