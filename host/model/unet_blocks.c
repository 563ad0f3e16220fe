/* unet_blocks.c — ResBlock, SpatialTransformer, Downsample, Upsample as
 * loom_ops calls (unet_blocks.h). Shapes: [B,H,W,C] activations are also
 * [B,HW,C] token tensors (same memory), so a 1×1 conv is a linear.
 *
 * Every temporary is allocated when needed and freed as soon as it is
 * consumed; on any failure everything allocated here is freed and the
 * caller's outputs are left unallocated. */
#include "unet_blocks.h"

#include "model_io.h"
#include "tensor_alloc.h"

static loom_status alloc4(const loom_ops *ops, int64_t b, int64_t h, int64_t w, int64_t c, loom_tensor *t)
{
    const int64_t s[4] = {b, h, w, c};
    return loom_model_alloc(ops, 4, s, t);
}

static loom_status alloc3(const loom_ops *ops, int64_t b, int64_t s1, int64_t c, loom_tensor *t)
{
    const int64_t s[3] = {b, s1, c};
    return loom_model_alloc(ops, 3, s, t);
}

/* [B,H,W,C] viewed as [B,HW,C] */
static loom_tensor tokens(const loom_tensor *x)
{
    const int64_t s[3] = {x->shape[0], x->shape[1] * x->shape[2], x->shape[3]};
    loom_tensor t = loom_tensor_view(x->data, x->dtype, 3, s);
    t.device = x->device;
    return t;
}


static const loom_conv2d_params PAD1 = {1, 1, 1, 1}, STRIDE2 = {2, 2, 1, 1}, PLAIN = {1, 1, 0, 0};

/* Run one op; on failure jump to the function's cleanup (status in `s`). */
#define STEP(expr)                                                                                                     \
    do {                                                                                                               \
        if ((s = (expr)) != LOOM_OK) goto fail;                                                                        \
    } while (0)

loom_status loom_unet_resblock_forward(const loom_unet_resblock *rb, const loom_ops *ops, const loom_model_ad *ad,
                                       const loom_unet_config *cfg, const loom_tensor *x, const loom_tensor *emb_act,
                                       loom_tensor *y)
{
    const int64_t nb = x->shape[0], h = x->shape[1], w = x->shape[2], co = rb->out_ch;
    loom_tensor t1 = {0}, hid = {0}, e = {0};
    loom_status s = LOOM_OK;
    *y = (loom_tensor){0};
    STEP(loom_tensor_alloc_like(x, &t1));
    STEP(LOOM_OP(ops, group_norm, x, &rb->in_layers_0.weight, &rb->in_layers_0.bias, &t1, cfg->norm_groups,
                 cfg->norm_eps, 1)); // in_layers.0-1: GroupNorm + SiLU [B,H,W,Ci]
    STEP(alloc4(ops, nb, h, w, co, &hid));
    STEP(loom_unet_conv(ops, ad, &rb->in_layers_2, &t1, NULL, &hid, &PAD1)); // [B,H,W,Co]
    loom_tensor_free(&t1);
    const int64_t es[2] = {nb, co}, eb[4] = {nb, 1, 1, co};
    STEP(loom_model_alloc(ops, 2, es, &e));
    loom_tensor emb3 = loom_unet_per_sample(emb_act), e3 = loom_unet_per_sample(&e);
    STEP(loom_unet_lin(ops, ad, &rb->emb_layers_1, &emb3, NULL, &e3)); // [B,1,Co]
    loom_tensor ev = loom_tensor_view(e.data, e.dtype, 4, eb);
    ev.device = e.device;
    STEP(LOOM_OP(ops, add, &hid, &ev, &hid)); // h + emb_out[:, None, None, :]
    loom_tensor_free(&e);
    STEP(LOOM_OP(ops, group_norm, &hid, &rb->out_layers_0.weight, &rb->out_layers_0.bias, &hid, cfg->norm_groups,
                 cfg->norm_eps, 1)); // out_layers.0-1 in place (dropout: identity at inference)
    STEP(alloc4(ops, nb, h, w, co, y));
    if (rb->skip_connection.weight.data) {
        STEP(loom_unet_conv(ops, ad, &rb->skip_connection, x, NULL, y, &PLAIN));
        // y = skip(x) + conv(h): the residual is y itself (accumulate)
        STEP(loom_unet_conv(ops, ad, &rb->out_layers_3, &hid, y, y, &PAD1));
    } else {
        STEP(loom_unet_conv(ops, ad, &rb->out_layers_3, &hid, x, y, &PAD1));
    }
    loom_tensor_free(&hid);
    return LOOM_OK;
fail:
    loom_tensor_free(&t1), loom_tensor_free(&hid), loom_tensor_free(&e), loom_tensor_free(y);
    return s;
}

/* h += to_out(attention(to_q(n), to_k(kv), to_v(kv))); n is [B,S,C] and becomes scratch.
 * cache (cross-attention only): K and V come from, or go into, the request's K/V cache. */
static loom_status attention(const loom_unet_attention *a, const loom_ops *ops, const loom_model_ad *ad, int heads,
                             loom_tensor *n, const loom_tensor *kv, loom_unet_kv *cache, loom_tensor *h)
{
    loom_tensor q = {0}, k = {0}, v = {0}, *kp = &k, *vp = &v;
    loom_status s = LOOM_OK;
    const int64_t nb = n->shape[0], sq = n->shape[1], c = a->to_q.weight.shape[0], sk = kv->shape[1];
    int hit = 0;
    STEP(alloc3(ops, nb, sq, c, &q));
    if (cache) {
        STEP(loom_unet_kv_next(cache, ops, nb, sk, c, &kp, &vp, &hit));
    } else {
        STEP(alloc3(ops, nb, sk, c, &k));
        STEP(alloc3(ops, nb, sk, c, &v));
    }
    STEP(loom_unet_lin(ops, ad, &a->to_q, n, NULL, &q)); // [B,Sq,C]
    if (!hit) {
        STEP(loom_unet_lin(ops, ad, &a->to_k, kv, NULL, kp)); // [B,Sk,C]
        STEP(loom_unet_lin(ops, ad, &a->to_v, kv, NULL, vp)); // [B,Sk,C]
    }
    STEP(LOOM_OP(ops, attention, &q, kp, vp, n, heads, 0.0f)); // [B,Sq,C], scale 1/√(C/heads)
    STEP(loom_unet_lin(ops, ad, &a->to_out_0, n, h, h));       // h += to_out.0(o)
fail:
    loom_tensor_free(&q), loom_tensor_free(&k), loom_tensor_free(&v); /* cached ones belong to the cache */
    return s;
}

/* BasicTransformerBlock: h += attn1(norm1 h); h += attn2(norm2 h, context); h += ff(norm3 h). */
static loom_status tblock(const loom_unet_tblock *b, const loom_ops *ops, const loom_model_ad *ad,
                          const loom_unet_config *cfg, int heads, loom_tensor *h, loom_tensor *n,
                          const loom_unet_cond *cond)
{
    loom_tensor g = {0}, f = {0};
    loom_status s = LOOM_OK;
    const float eps = cfg->layer_norm_eps;
    STEP(LOOM_OP(ops, layer_norm, h, &b->norm1.weight, &b->norm1.bias, n, eps));
    STEP(attention(&b->attn1, ops, ad, heads, n, n, NULL, h)); // self-attention: k, v from the same tokens
    STEP(LOOM_OP(ops, layer_norm, h, &b->norm2.weight, &b->norm2.bias, n, eps));
    STEP(attention(&b->attn2, ops, ad, heads, n, cond->context, cond->kv, h)); // cross-attention on the text context
    STEP(LOOM_OP(ops, layer_norm, h, &b->norm3.weight, &b->norm3.bias, n, eps));
    const int64_t two_f = b->ff_net_0_proj.weight.shape[0];
    STEP(alloc3(ops, h->shape[0], h->shape[1], two_f, &g));
    STEP(loom_unet_lin(ops, ad, &b->ff_net_0_proj, n, NULL, &g)); // [B,S,2F]
    STEP(alloc3(ops, h->shape[0], h->shape[1], two_f / 2, &f));
    STEP(LOOM_OP(ops, geglu, &g, &f)); // [B,S,F]
    loom_tensor_free(&g);
    STEP(loom_unet_lin(ops, ad, &b->ff_net_2, &f, h, h)); // h += ff.net.2(f)
fail:
    loom_tensor_free(&g), loom_tensor_free(&f);
    return s;
}

loom_status loom_unet_transformer_forward(const loom_unet_transformer *tr, const loom_ops *ops,
                                          const loom_model_ad *ad, const loom_unet_config *cfg, loom_tensor *x,
                                          const loom_unet_cond *cond)
{
    loom_tensor xt = tokens(x), n = {0}, h = {0};
    loom_status s = LOOM_OK;
    STEP(loom_tensor_alloc_like(&xt, &n));
    STEP(loom_tensor_alloc_like(&xt, &h));
    STEP(LOOM_OP(ops, group_norm, &xt, &tr->norm.weight, &tr->norm.bias, &n, cfg->norm_groups,
                 cfg->transformer_norm_eps, 0)); // [B,HW,C]
    STEP(loom_unet_lin(ops, ad, &tr->proj_in, &n, NULL, &h)); // [B,HW,C]
    for (int d = 0; d < tr->depth; d++) STEP(tblock(&tr->transformer_blocks[d], ops, ad, cfg, tr->heads, &h, &n, cond));
    STEP(loom_unet_lin(ops, ad, &tr->proj_out, &h, &xt, &xt)); // x += proj_out(h)
fail:
    loom_tensor_free(&n), loom_tensor_free(&h);
    return s;
}

loom_status loom_unet_downsample(const loom_unet_wb *conv, const loom_ops *ops, const loom_model_ad *ad,
                                 const loom_tensor *x, loom_tensor *y)
{
    loom_status s = LOOM_OK;
    STEP(alloc4(ops, x->shape[0], x->shape[1] / 2, x->shape[2] / 2, x->shape[3], y));
    STEP(loom_unet_conv(ops, ad, conv, x, NULL, y, &STRIDE2)); // [B,H/2,W/2,C]
    return LOOM_OK;
fail:
    loom_tensor_free(y);
    return s;
}

loom_status loom_unet_upsample(const loom_unet_wb *conv, const loom_ops *ops, const loom_model_ad *ad,
                               const loom_tensor *x, loom_tensor *y)
{
    loom_tensor up = {0};
    loom_status s = LOOM_OK;
    *y = (loom_tensor){0};
    STEP(alloc4(ops, x->shape[0], 2 * x->shape[1], 2 * x->shape[2], x->shape[3], &up));
    STEP(LOOM_OP(ops, upsample2x, x, &up)); // [B,2H,2W,C]
    STEP(alloc4(ops, up.shape[0], up.shape[1], up.shape[2], conv->weight.shape[0], y));
    STEP(loom_unet_conv(ops, ad, conv, &up, NULL, y, &PAD1));
    loom_tensor_free(&up);
    return LOOM_OK;
fail:
    loom_tensor_free(&up), loom_tensor_free(y);
    return s;
}
