/* unet.c — the UNet forward pass (unet.h): LDM's UNetModel.forward as
 * loom_ops calls, blocks in unet_blocks.c.
 *
 *   emb = time_embed.2(SiLU(time_embed.0(timestep_embedding(t, C0))))
 *   h = x; for each input block: h = block(h, emb, context); skips.push(h)
 *   h = middle_block(h)
 *   for each output block: h = block(concat(h, skips.pop()), emb, context)
 *   out = out.2(SiLU(out.0(h)))
 *
 * Memory: the skip tensors live until their output block consumes them; every
 * other activation is freed as soon as the next one exists (peak: unet.h). */
#include "unet.h"

#include "model_io.h"
#include "tensor_alloc.h"
#include "unet_blocks.h"
#include "unet_kv.h"

#define MAX_INPUT_BLOCKS (1 + LOOM_UNET_MAX_LEVELS * (LOOM_UNET_MAX_RES_BLOCKS + 1))

static loom_status check_args(const loom_unet *u, const loom_tensor *x, const loom_tensor *t,
                              const loom_tensor *context, const loom_tensor *out)
{
    const loom_unet_config *c = &u->cfg;
    char a[96], b[96];
    if (!u->input_blocks) return loom_fail(LOOM_E_INVALID, "unet: the model is not loaded");
    if (!x || !t || !context || !out) return loom_fail(LOOM_E_INVALID, "unet: an input or the output is NULL");
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] < 1 || x->shape[3] != c->in_channels)
        return loom_fail(LOOM_E_INVALID, "unet: x is %s; expected [B, H, W, %d] (NHWC)", loom_shape_str(x, a, sizeof a),
                         c->in_channels);
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], m = INT64_C(1) << (c->n_levels - 1);
    if (h % m != 0 || w % m != 0)
        return loom_fail(LOOM_E_INVALID, "unet: a %lldx%lld latent does not halve %d times; H and W must be "
                         "multiples of %lld", (long long)h, (long long)w, c->n_levels - 1, (long long)m);
    if (t->ndim != 1 || t->shape[0] != nb)
        return loom_fail(LOOM_E_INVALID, "unet: timesteps are %s; expected [%lld]", loom_shape_str(t, a, sizeof a),
                         (long long)nb);
    if (context->ndim != 3 || context->shape[0] != nb || context->shape[1] < 1 || context->shape[2] != c->context_dim)
        return loom_fail(LOOM_E_INVALID, "unet: context is %s; expected [%lld, S, %d]",
                         loom_shape_str(context, a, sizeof a), (long long)nb, c->context_dim);
    const int64_t os[4] = {nb, h, w, c->out_channels};
    loom_tensor want = loom_tensor_view(NULL, LOOM_F32, 4, os);
    if (out->ndim != 4 || out->shape[0] != nb || out->shape[1] != h || out->shape[2] != w ||
        out->shape[3] != c->out_channels)
        return loom_fail(LOOM_E_INVALID, "unet: out is %s; expected %s", loom_shape_str(out, a, sizeof a),
                         loom_shape_str(&want, b, sizeof b));
    return LOOM_OK;
}

/* emb_act = SiLU(time_embed(timestep_embedding(t))) [B, time_embed_dim]: the
 * embedding every ResBlock's emb_layers starts from (their SiLU, applied once). */
static loom_status time_embedding(const loom_unet *u, const loom_ops *ops, const loom_model_ad *ad, const loom_tensor *t,
                                  loom_tensor *emb_act)
{
    const loom_unet_config *c = &u->cfg;
    const int64_t nb = t->shape[0], s0[2] = {nb, c->channels[0]}, s1[2] = {nb, c->time_embed_dim};
    const loom_timestep_params tp = {c->channels[0], 10000.0f, c->flip_sin_to_cos, c->freq_shift};
    loom_tensor sin_emb = {0}, e1 = {0}, a, b;
    loom_status s = LOOM_OK;
    *emb_act = (loom_tensor){0};
    if ((s = loom_model_alloc(ops, 2, s0, &sin_emb)) != LOOM_OK ||
        (s = LOOM_OP(ops, timestep_embedding, t, &sin_emb, &tp)) != LOOM_OK ||      // [B, C0]
        (s = loom_model_alloc(ops, 2, s1, &e1)) != LOOM_OK)
        goto done;
    a = loom_unet_per_sample(&sin_emb);
    b = loom_unet_per_sample(&e1);
    if ((s = loom_unet_lin(ops, ad, &u->time_embed_0, &a, NULL, &b)) != LOOM_OK ||
        (s = LOOM_OP(ops, unary, &e1, &e1, LOOM_ACT_SILU)) != LOOM_OK ||           // time_embed.1
        (s = loom_model_alloc(ops, 2, s1, emb_act)) != LOOM_OK)
        goto done;
    a = loom_unet_per_sample(emb_act);
    if ((s = loom_unet_lin(ops, ad, &u->time_embed_2, &b, NULL, &a)) != LOOM_OK ||
        (s = LOOM_OP(ops, unary, emb_act, emb_act, LOOM_ACT_SILU)) != LOOM_OK)    // emb_layers.0
        loom_tensor_free(emb_act);
done:
    loom_tensor_free(&sin_emb), loom_tensor_free(&e1);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "unet time_embed");
}

/* ResBlock [+ SpatialTransformer] [+ Upsample]: the body of input and output blocks. */
static loom_status res_attn_up(const loom_unet_block *b, const loom_ops *ops, const loom_model_ad *ad,
                               const loom_unet_config *cfg, const loom_tensor *x, const loom_tensor *emb_act,
                               const loom_unet_cond *cond, loom_tensor *y)
{
    LOOM_TRY(loom_unet_resblock_forward(&b->res, ops, ad, cfg, x, emb_act, y));
    loom_status s = b->has_attn ? loom_unet_transformer_forward(&b->attn, ops, ad, cfg, y, cond) : LOOM_OK;
    if (s == LOOM_OK && b->has_up) {
        loom_tensor up;
        s = loom_unet_upsample(&b->conv, ops, ad, y, &up);
        loom_tensor_free(y);
        *y = up;
    }
    if (s != LOOM_OK) loom_tensor_free(y);
    return s;
}

loom_status loom_unet_forward(const loom_unet *u, const loom_ops *ops, const loom_tensor *x, const loom_tensor *t,
                              const loom_tensor *context, loom_tensor *out)
{
    return loom_unet_forward_ad(u, ops, NULL, x, t, context, out);
}

/* The forward pass with every tensor on ops's device (x, context, out in ops->dtype; t f32). */
static loom_status forward(const loom_unet *u, const loom_ops *ops, const loom_model_ad *ad, const loom_tensor *x,
                           const loom_tensor *t, const loom_unet_cond *context, loom_tensor *out)
{
    const loom_unet_config *cfg = &u->cfg;
    static const loom_conv2d_params pad1 = {1, 1, 1, 1};
    loom_tensor emb = {0}, h = {0}, h2 = {0}, cat = {0}, skips[MAX_INPUT_BLOCKS] = {{0}};
    LOOM_TRY(time_embedding(u, ops, ad, t, &emb));
    loom_status s = LOOM_OK;
    const char *where = "input_blocks";
    int idx = 0; /* the block running: names it in an error */

    for (; s == LOOM_OK && idx < u->n_input; idx += s == LOOM_OK) {
        const loom_unet_block *b = &u->input_blocks[idx];
        const loom_tensor *prev = idx ? &skips[idx - 1] : x;
        if (b->kind == LOOM_UNET_CONV_IN) {
            const int64_t sh[4] = {x->shape[0], x->shape[1], x->shape[2], cfg->channels[0]};
            s = loom_model_alloc(ops, 4, sh, &skips[idx]);
            if (s == LOOM_OK) s = loom_unet_conv(ops, ad, &b->conv, x, NULL, &skips[idx], &pad1);
        } else if (b->kind == LOOM_UNET_DOWN) {
            s = loom_unet_downsample(&b->conv, ops, ad, prev, &skips[idx]);
        } else {
            s = res_attn_up(b, ops, ad, cfg, prev, &emb, context, &skips[idx]);
        }
    }
    if (s == LOOM_OK) {
        where = "middle_block";
        idx = 0;
        s = loom_unet_resblock_forward(&u->middle_block_0, ops, ad, cfg, &skips[u->n_input - 1], &emb, &h);
        if (s == LOOM_OK) idx = 1, s = loom_unet_transformer_forward(&u->middle_block_1, ops, ad, cfg, &h, context);
        if (s == LOOM_OK) idx = 2, s = loom_unet_resblock_forward(&u->middle_block_2, ops, ad, cfg, &h, &emb, &h2);
        loom_tensor_free(&h);
        h = h2;
        h2 = (loom_tensor){0};
    }
    if (s == LOOM_OK) where = "output_blocks", idx = 0;
    for (; s == LOOM_OK && idx < u->n_output; idx += s == LOOM_OK) {
        loom_tensor *skip = &skips[u->n_input - 1 - idx];
        const int64_t sh[4] = {h.shape[0], h.shape[1], h.shape[2], h.shape[3] + skip->shape[3]};
        s = loom_model_alloc(ops, 4, sh, &cat);
        if (s == LOOM_OK) s = LOOM_OP(ops, concat, &h, skip, &cat); // [B,H,W,Ch+Cskip], h first as LDM's torch.cat
        loom_tensor_free(&h), loom_tensor_free(skip);
        if (s == LOOM_OK) s = res_attn_up(&u->output_blocks[idx], ops, ad, cfg, &cat, &emb, context, &h);
        loom_tensor_free(&cat);
    }
    if (s == LOOM_OK) {
        where = "out", idx = 0;
        s = LOOM_OP(ops, group_norm, &h, &u->out_0.weight, &u->out_0.bias, &h, cfg->norm_groups, cfg->norm_eps, 1);
        if (s == LOOM_OK) idx = 2, s = loom_unet_conv(ops, ad, &u->out_2, &h, NULL, out, &pad1);
    }
    for (int i = 0; i < u->n_input; i++) loom_tensor_free(&skips[i]);
    loom_tensor_free(&emb), loom_tensor_free(&h), loom_tensor_free(&h2), loom_tensor_free(&cat);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "unet %s.%d", where, idx);
}

loom_status loom_unet_forward_ad(const loom_unet *u, const loom_ops *ops, const loom_model_ad *ad,
                                 const loom_tensor *x, const loom_tensor *t, const loom_tensor *context,
                                 loom_tensor *out)
{
    LOOM_TRY(check_args(u, x, t, context, out));
    /* the K/V cache keys on the host context's bytes: any other context computes K/V every call */
    loom_unet_kv *kv = context->device == LOOM_HOST && context->dtype == LOOM_F32 && loom_tensor_is_contiguous(context)
                           ? u->kv
                           : NULL;
    if (kv) LOOM_TRY(loom_unet_kv_begin(kv, ops, ad, context));
    loom_unet_cond cond = {context, kv};
    loom_status s;
    if (!loom_model_on_device(ops)) {
        s = forward(u, ops, ad, x, t, &cond, out);
        if (kv) loom_unet_kv_end(kv, s);
        return s;
    }
    /* host f32 in and out (model_io.h): x, context as ops->dtype, t stays f32. With the K/V
     * cache complete for this context, nothing reads the context: only its shape goes down. */
    loom_tensor dx = {0}, dt = {0}, dc = {0}, dout = {0}, shape_only = *context;
    const int hit = kv && loom_unet_kv_hit(kv);
    shape_only.data = NULL, shape_only.device = ops->device, shape_only.dtype = ops->dtype;
    /* the context goes down before the scope: hit or miss, the arena sees the same allocations */
    s = hit ? LOOM_OK : loom_model_upload(ops, context, ops->dtype, &dc);
    if (s == LOOM_OK && (s = loom_model_scope_begin(ops, u->arena)) == LOOM_OK) { /* activations: the planned arena */
        if ((s = loom_model_upload(ops, x, ops->dtype, &dx)) == LOOM_OK &&
            (s = loom_model_upload(ops, t, LOOM_F32, &dt)) == LOOM_OK &&
            (s = loom_model_alloc(ops, out->ndim, out->shape, &dout)) == LOOM_OK) {
            cond.context = hit ? &shape_only : &dc;
            if ((s = forward(u, ops, ad, &dx, &dt, &cond, &dout)) == LOOM_OK) s = loom_model_download(&dout, out);
        }
        loom_tensor_free(&dx), loom_tensor_free(&dt), loom_tensor_free(&dout);
        s = loom_model_scope_end(ops, u->arena, s);
    }
    loom_tensor_free(&dc);
    if (kv) loom_unet_kv_end(kv, s);
    return s;
}
