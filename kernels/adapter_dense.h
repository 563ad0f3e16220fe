/* adapter_dense.h — a LoHa/LoKr term's ΔW as one dense f32 matrix [O, K], K = kh·kw·I, from its
 * factors alone (adapter_plan.h "Precomputed ΔW"): its shape, and its build on the CUDA device.
 * adapters/plan_device.c builds every such ΔW of a request once, after uploading the factors, so
 * that the CUDA adapted ops apply it as one extra GEMM per call instead of rebuilding it (issue 5
 * item 2). Nothing here touches the base weights. */
#ifndef LOOM_ADAPTER_DENSE_H
#define LOOM_ADAPTER_DENSE_H

#include "adapter_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_ad_dense_shape {
    int64_t o;   /* output channels */
    int64_t k;   /* kh·kw·I: the flattened row of the target's layout */
    int64_t kk;  /* kh·kw (KRON; HADA: 0, the kernel is not needed to build it) */
    int64_t in;  /* I (KRON; HADA: 0) */
} loom_ad_dense_shape;

/* The ΔW shape t's factors define (layouts of adapter_plan.h; a 1×1 factor may be 2-D or 4-D):
 *   HADA  down [r1, K] or [r1, kh, kw, I] (K = numel/r1), up [O, r1] or [O, 1, 1, r1], and
 *         down2 / up2 the same with r2 and the same O and K;
 *   KRON  down = W1 [a, c], up = W2 [b, d] or [b, kh, kw, d]: O = a·b, I = c·d, kk = kh·kw.
 * Shapes only: a factor is present when its data is set; dtype and device are not looked at
 * (a host plan's term works too). Every extent >= 0, ranks r1, r2, a, c >= 1. LOOM_E_INVALID
 * naming `what` (e.g.
 * "adapter plan upload: row 3 group 0 term 1") when the kind has no ΔW to build, a factor is
 * missing or the shapes disagree; LOOM_E_UNSUPPORTED when a rank exceeds int or O·K·4 bytes
 * exceeds the address space. */
loom_status loom_ad_term_dense_shape(const loom_ad_term *t, const char *what, loom_ad_dense_shape *out);

/* Queues the build of t's ΔW into dw on the default stream (no sync). t's factors are f16 or
 * bf16 (all in one dtype), contiguous, on the CUDA device (adapters/plan_device.h's form); dw is f32,
 * contiguous, on the
 * CUDA device, shaped [O, K] as loom_ad_term_dense_shape gives, not overlapping a factor. The
 * same kernels as the adapted ops' per-call build (kernels/cuda/adapter_delta.cu), so the bits
 * are the same. t->dense is not read. LOOM_E_INVALID naming `what` on bad arguments,
 * LOOM_E_DEVICE on a launch failure, or always with LOOM_CUDA=OFF (kernels/cuda_absent.c). */
loom_status loom_cuda_ad_term_delta(const loom_ad_term *t, const char *what, const loom_tensor *dw);

#ifdef __cplusplus
}
#endif
#endif
