/* ops.h — every op SD1.x needs, declared once, backend-neutral.
 *
 * Each backend fills a loom_ops table with the same signatures:
 *   - loom_ops_cpu  (kernels/cpu/<op>.c):  plain fp32 C, the reference;
 *   - loom_ops_cuda (kernels/cuda/<op>.cu): fp16/bf16 storage, fp32 accumulate.
 * Model code calls ops only through a table, so the whole pipeline runs on
 * either backend. A NULL entry means "this backend does not have the op yet";
 * call through loom_op_missing() to get a clear error.
 *
 * Layout conventions (shared by both backends, chosen for the CUDA kernels):
 *   - activations of conv-shaped ops are NHWC: [N, H, W, C];
 *   - conv weights are OHWI: [O, kh, kw, I] (checkpoints store OIHW; the
 *     model loader permutes once at load time);
 *   - linear weights are PyTorch's [out, in]; x is [..., in] (leading dims
 *     flattened), y = x·Wᵀ + b;
 *   - token activations are [B, S, C].
 * Outputs are caller-allocated with the right shape; ops check shapes and
 * return LOOM_E_INVALID naming the op and the mismatch. All tensors of one
 * call live on the backend's device. Optional inputs (bias, residual, norm
 * affine) may be NULL. */
#ifndef LOOM_OPS_H
#define LOOM_OPS_H

#include "adapter_plan.h"
#include "loom_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loom_act {
    LOOM_ACT_NONE = 0,
    LOOM_ACT_SILU,       /* x·σ(x)                           (UNet, VAE) */
    LOOM_ACT_GELU,       /* exact: 0.5·x·(1+erf(x/√2))        (GEGLU) */
    LOOM_ACT_GELU_TANH,  /* tanh approximation                (hypernetworks, some TEs) */
    LOOM_ACT_QUICK_GELU, /* x·σ(1.702·x)                      (CLIP ViT-L/14) */
    LOOM_ACT_COUNT
} loom_act;

const char *loom_act_name(loom_act a);

typedef struct loom_conv2d_params {
    int stride_h, stride_w; /* 1 or 2 in SD */
    int pad_h, pad_w;       /* zero padding on each side */
} loom_conv2d_params;

typedef struct loom_timestep_params {
    int dim;            /* output width (SD1.x: 320) */
    float max_period;   /* 10000 */
    int flip_sin_to_cos; /* 1: [cos | sin] as LDM's timestep_embedding; 0: [sin | cos] */
    float freq_shift;   /* diffusers' downscale_freq_shift; 0 for SD */
} loom_timestep_params;

typedef struct loom_ops {
    const char *name;   /* "cpu", "cuda" */
    loom_device device; /* where every tensor of a call lives */
    loom_dtype dtype;   /* the storage type of activations and weights (timestep t is always f32) */

    /* y[M,N] = x[M,K]·w[N,K]ᵀ + bias[N] + residual[M,N]. x may have 2–4
     * dims; its last is K and the rest flatten to M; y has x's leading dims.
     * With 3–4 dims the leading one is the batch, and each sample's result
     * must not depend on the batch it rides in (a batch equals its images
     * rendered one by one): view a [B, K] input as [B, 1, K] to get that. */
    loom_status (*linear)(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                          const loom_tensor *residual, loom_tensor *y);

    /* y[N,Ho,Wo,O] = conv(x[N,H,W,I], w[O,kh,kw,I]) + bias[O] + residual[N,Ho,Wo,O].
     * Ho = (H + 2·pad_h − kh)/stride_h + 1. */
    loom_status (*conv2d)(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                          const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p);

    /* GroupNorm over NHWC x[N,H,W,C] (or [N,S,C]): `groups` groups of C/groups
     * channels, statistics over (spatial × channels of the group), biased
     * variance, y = (x−μ)/√(σ²+eps)·gamma + beta, then SiLU if fuse_silu. */
    loom_status (*group_norm)(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                              loom_tensor *y, int groups, float eps, int fuse_silu);

    /* LayerNorm over the last dim of x[..., C]. */
    loom_status (*layer_norm)(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                              loom_tensor *y, float eps);

    /* Multi-head attention, separate projections already applied:
     * q[B,Sq,H·D], k[B,Sk,H·D], v[B,Sk,H·Dv] → o[B,Sq,H·Dv];
     * o = softmax(q·kᵀ·scale)·v per head; scale ≤ 0 means 1/√D. Softmax in fp32. */
    loom_status (*attention)(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                             loom_tensor *o, int heads, float scale);

    /* GEGLU: x[..., 2F] = [a | g] → y[..., F] = a·gelu(g) (exact gelu, as diffusers/LDM). */
    loom_status (*geglu)(const loom_tensor *x, loom_tensor *y);

    /* y = act(x), elementwise, any shape; in place allowed (y == x). */
    loom_status (*unary)(const loom_tensor *x, loom_tensor *y, loom_act act);

    /* y = a + b, y = a·b. b broadcasts to a's shape (numpy rules, aligned
     * on trailing dims). In place allowed (y == a). */
    loom_status (*add)(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);
    loom_status (*mul)(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);

    /* Channel (last-dim) concat: a[..., Ca], b[..., Cb] → y[..., Ca+Cb]. */
    loom_status (*concat)(const loom_tensor *a, const loom_tensor *b, loom_tensor *y);

    /* Nearest-neighbour ×2: x[N,H,W,C] → y[N,2H,2W,C]. */
    loom_status (*upsample2x)(const loom_tensor *x, loom_tensor *y);

    /* Sinusoidal embedding of timesteps t[N] (f32) → y[N, dim]. */
    loom_status (*timestep_embedding)(const loom_tensor *t, loom_tensor *y, const loom_timestep_params *p);

    /* Softmax over the last dim of x[..., L], y = softmax(x·scale); in place allowed. */
    loom_status (*softmax)(const loom_tensor *x, loom_tensor *y, float scale);

    /* As attention, with a causal mask: query i sees keys j ≤ i only (top-left
     * aligned, as torch's scaled_dot_product_attention(is_causal=True)); CLIP's
     * text transformer (addons.md §4.8). Same arguments and checks. */
    loom_status (*attention_causal)(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                    loom_tensor *o, int heads, float scale);

    /* linear / conv2d with live adapters (adapter_plan.h): the same arguments and checks as the
     * plain op, plus the plan; plan->batch must equal x's leading dim (1 for a 2-D x). A NULL or
     * empty plan is the plain op. */
    loom_status (*linear_adapted)(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, loom_tensor *y, const loom_ad_plan *plan);
    loom_status (*conv2d_adapted)(const loom_tensor *x, const loom_tensor *w, const loom_tensor *bias,
                                  const loom_tensor *residual, loom_tensor *y, const loom_conv2d_params *p,
                                  const loom_ad_plan *plan);
} loom_ops;

extern const loom_ops loom_ops_cpu;
/* The CUDA table; entries are NULL until their kernels land. Always linked,
 * so the host never needs #ifdefs; use loom_cuda_available() first. */
extern const loom_ops loom_ops_cuda;
/* Vendor baselines on the same signatures (kernels/cuda/vendor/): cuBLAS
 * GEMMs, cuDNN convolution, cuDNN fused attention (head dims that cuDNN
 * refuses, e.g. the VAE's 512, fall back to cuBLAS batched GEMMs + an fp32
 * softmax; vendor/attention_stats.h says which ran). Tensors are device f16 (dtype LOOM_F16, device LOOM_CUDA),
 * contiguous; accumulation in fp32. The reference loom's own CUDA kernels
 * are checked and timed against (issue 5 item 3). Empty with LOOM_CUDA=OFF. */
extern const loom_ops loom_ops_cuda_vendor;

/* Error for a NULL table entry: "<op>: not implemented on the <backend> backend". */
loom_status loom_op_missing(const loom_ops *ops, const char *op);

#ifdef __cplusplus
}
#endif
#endif
