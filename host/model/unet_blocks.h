/* unet_blocks.h — the UNet's building blocks (unet_blocks.c), used by the
 * forward pass in unet.c. Internal to host/model. Activations are NHWC f32;
 * outputs are allocated here (tensor_alloc) and owned by the caller. */
#ifndef LOOM_UNET_BLOCKS_H
#define LOOM_UNET_BLOCKS_H

#include "unet.h"
#include "unet_kv.h"

/* What cross-attention attends to: the text context, and the call's K/V cache (NULL: none). */
typedef struct loom_unet_cond {
    const loom_tensor *context; /* [B, S, context_dim] on ops's device */
    loom_unet_kv *kv;
} loom_unet_cond;

/* A [B, C] tensor viewed as [B, 1, C]: linear treats the leading dim as
 * samples and computes each on its own, so an image's time embedding does
 * not depend on the batch it rides in (ops.h, linear). */
static inline loom_tensor loom_unet_per_sample(const loom_tensor *t)
{
    const int64_t shape[3] = {t->shape[0], 1, t->shape[1]};
    loom_tensor v = loom_tensor_view(t->data, t->dtype, 3, shape);
    v.device = t->device;
    return v;
}

/* Call an op through the table; a NULL entry is a clear error (ops.h). */
#define LOOM_OP(ops, name, ...) ((ops)->name ? (ops)->name(__VA_ARGS__) : loom_op_missing((ops), #name))

/* y = skip(x) + out_layers(in_layers(x) + emb_layers(emb_act)); emb_act = SiLU(emb) [B, time_embed_dim]
 * (every ResBlock's emb_layers starts with the same SiLU, so the caller applies it once). */
loom_status loom_unet_resblock_forward(const loom_unet_resblock *rb, const loom_ops *ops, const loom_model_ad *ad,
                                       const loom_unet_config *cfg, const loom_tensor *x, const loom_tensor *emb_act,
                                       loom_tensor *y);

/* x += proj_out(transformer_blocks(proj_in(norm(x)), context)), in place on x [B,H,W,C]. */
loom_status loom_unet_transformer_forward(const loom_unet_transformer *tr, const loom_ops *ops,
                                          const loom_model_ad *ad, const loom_unet_config *cfg, loom_tensor *x,
                                          const loom_unet_cond *cond);

/* y = conv3×3 stride 2, pad 1 (LDM Downsample; H, W even). */
loom_status loom_unet_downsample(const loom_unet_wb *conv, const loom_ops *ops, const loom_model_ad *ad,
                                 const loom_tensor *x, loom_tensor *y);
/* y = conv3×3(nearest×2(x)), pad 1 (LDM Upsample). */
loom_status loom_unet_upsample(const loom_unet_wb *conv, const loom_ops *ops, const loom_model_ad *ad,
                               const loom_tensor *x, loom_tensor *y);

/* y = wb(x) (+ residual): the module's linear / conv with its live adapters (model_ad.h). */
static inline loom_status loom_unet_lin(const loom_ops *ops, const loom_model_ad *ad, const loom_unet_wb *wb,
                                        const loom_tensor *x, const loom_tensor *residual, loom_tensor *y)
{
    return loom_model_linear(ops, ad, wb->ad_slot, x, &wb->weight, wb->bias.data ? &wb->bias : NULL, residual, y);
}
static inline loom_status loom_unet_conv(const loom_ops *ops, const loom_model_ad *ad, const loom_unet_wb *wb,
                                         const loom_tensor *x, const loom_tensor *residual, loom_tensor *y,
                                         const loom_conv2d_params *p)
{
    return loom_model_conv2d(ops, ad, wb->ad_slot, x, &wb->weight, wb->bias.data ? &wb->bias : NULL, residual, y, p);
}

#endif
