/* vae_forward.c — the VAE's decoder and encoder passes (vae.h).
 *
 * Every stage takes the current activation `x` (owned), consumes it and
 * leaves its output in `x`; on failure `x` is freed too, so a pass only has
 * to free its one live activation. Shapes in comments are NHWC. */
#include "vae.h"

#include <math.h>
#include <string.h>

#include "model_io.h"
#include "tensor_alloc.h"

static loom_status alloc4(const loom_ops *ops, loom_tensor *t, int64_t n, int64_t h, int64_t w, int64_t c)
{
    const int64_t s[4] = {n, h, w, c};
    return loom_model_alloc(ops, 4, s, t);
}

/* y = conv(x) (k from the weight, stride 1 and pad k/2 unless given) into a new tensor. */
static loom_status conv_new(const loom_ops *ops, const loom_vae_wb *wb, const loom_tensor *x, int stride, int pad,
                            const loom_tensor *residual, loom_tensor *y)
{
    const int64_t k = wb->weight.shape[1];
    const int64_t ho = (x->shape[1] + 2 * pad - k) / stride + 1, wo = (x->shape[2] + 2 * pad - k) / stride + 1;
    LOOM_TRY(alloc4(ops, y, x->shape[0], ho, wo, wb->weight.shape[0]));
    const loom_conv2d_params p = {stride, stride, pad, pad};
    loom_status s = ops->conv2d(x, &wb->weight, &wb->bias, residual, y, &p);
    if (s != LOOM_OK) loom_tensor_free(y);
    return s;
}

/* x ← conv(x), same-size (k 3 pad 1, or 1×1). */
static loom_status conv_step(const loom_ops *ops, const loom_vae_wb *wb, loom_tensor *x)
{
    loom_tensor y;
    loom_status s = conv_new(ops, wb, x, 1, (int)(wb->weight.shape[1] / 2), NULL, &y);
    loom_tensor_free(x);
    if (s == LOOM_OK) *x = y;
    return s;
}

/* x ← x + conv2(silu(gn2(conv1(silu(gn1(x)))))), through nin_shortcut when channels change. */
static loom_status resblock(const loom_vae *m, const loom_ops *ops, const loom_vae_resblock *r, loom_tensor *x)
{
    const loom_vae_config *c = &m->cfg;
    loom_tensor h = {0}, t = {0}, out = {0};
    loom_status s = loom_tensor_alloc_like(x, &h);
    if (s == LOOM_OK) s = ops->group_norm(x, &r->norm1.weight, &r->norm1.bias, &h, c->groups, c->eps, 1);
    if (s == LOOM_OK) s = conv_new(ops, &r->conv1, &h, 1, 1, NULL, &t); // [N,H,W,out]
    loom_tensor_free(&h);
    if (s == LOOM_OK) s = ops->group_norm(&t, &r->norm2.weight, &r->norm2.bias, &t, c->groups, c->eps, 1);
    const loom_conv2d_params p = {1, 1, 1, 1};
    if (s == LOOM_OK && r->nin_shortcut.weight.data) {
        s = conv_new(ops, &r->nin_shortcut, x, 1, 0, NULL, &out); /* the shortcut, then conv2 accumulates onto it */
        if (s == LOOM_OK) s = ops->conv2d(&t, &r->conv2.weight, &r->conv2.bias, &out, &out, &p);
    } else if (s == LOOM_OK) {
        s = loom_tensor_alloc_like(&t, &out);
        if (s == LOOM_OK) s = ops->conv2d(&t, &r->conv2.weight, &r->conv2.bias, x, &out, &p);
    }
    loom_tensor_free(&t);
    loom_tensor_free(x);
    if (s == LOOM_OK) *x = out;
    else loom_tensor_free(&out);
    return s;
}

/* x ← x + proj_out(attention(q, k, v of gn(x))) over the H·W positions, one head of C channels (LDM AttnBlock). */
static loom_status attn(const loom_vae *m, const loom_ops *ops, const loom_vae_attn *a, loom_tensor *x)
{
    const loom_vae_config *c = &m->cfg;
    const int64_t n = x->shape[0], hw = x->shape[1] * x->shape[2], ch = x->shape[3];
    const int64_t s3[3] = {n, hw, ch};
    loom_tensor h = {0}, q = {0}, k = {0}, v = {0}, o = {0}, out = {0};
    loom_status s = loom_tensor_alloc_like(x, &h);
    if (s == LOOM_OK) s = ops->group_norm(x, &a->norm.weight, &a->norm.bias, &h, c->groups, c->eps, 0);
    loom_tensor *qkv[3] = {&q, &k, &v};
    const loom_vae_wb *w[3] = {&a->q, &a->k, &a->v};
    h = loom_tensor_view(h.data, h.dtype, 3, s3); // [N,HW,C]
    h.device = x->device;
    for (int i = 0; s == LOOM_OK && i < 3; i++) {
        s = loom_model_alloc(ops, 3, s3, qkv[i]);
        if (s == LOOM_OK) s = ops->linear(&h, &w[i]->weight, &w[i]->bias, NULL, qkv[i]);
    }
    loom_tensor_free(&h);
    if (s == LOOM_OK) s = loom_model_alloc(ops, 3, s3, &o);
    if (s == LOOM_OK) s = ops->attention(&q, &k, &v, &o, 1, 0.0f); /* scale C^−1/2 */
    for (int i = 0; i < 3; i++) loom_tensor_free(qkv[i]);
    if (s == LOOM_OK) s = loom_tensor_alloc_like(x, &out);
    if (s == LOOM_OK) {
        loom_tensor x3 = loom_tensor_view(x->data, x->dtype, 3, s3), out3 = loom_tensor_view(out.data, out.dtype, 3, s3);
        x3.device = out3.device = x->device;
        s = ops->linear(&o, &a->proj_out.weight, &a->proj_out.bias, &x3, &out3);
    }
    loom_tensor_free(&o);
    loom_tensor_free(x);
    if (s == LOOM_OK) *x = out;
    else loom_tensor_free(&out);
    return s;
}

static loom_status mid(const loom_vae *m, const loom_ops *ops, const loom_vae_mid *md, loom_tensor *x)
{
    LOOM_TRY(resblock(m, ops, &md->block_1, x));
    LOOM_TRY(attn(m, ops, &md->attn_1, x));
    return resblock(m, ops, &md->block_2, x);
}

/* x ← conv 3×3 stride 2 of x padded with one zero row at the bottom and one
 * zero column at the right (LDM Downsample; diffusers Downsample2D padding=0). */
static loom_status downsample(const loom_ops *ops, const loom_vae_wb *wb, loom_tensor *x)
{
    const int64_t n = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    /* The pad runs on the host; on a GPU backend x goes down and back (the encoder
     * runs once per img2img request; a device pad kernel can replace this). */
    const int64_t ps[4] = {n, h + 1, w + 1, c};
    loom_tensor p = {0}, hx = {0}, dp = {0}, y = {0};
    const int dev = loom_model_on_device(ops);
    loom_status s = loom_tensor_zeros(LOOM_HOST, LOOM_F32, 4, ps, &p);
    if (s == LOOM_OK && dev && (s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, x->shape, &hx)) == LOOM_OK)
        s = loom_model_download(x, &hx);
    if (s == LOOM_OK) {
        float *dst = p.data;
        const float *src = dev ? hx.data : x->data;
        for (int64_t i = 0; i < n * h; i++) /* row i of image i / h lands in padded row (i / h)·(h+1) + i % h */
            memcpy(dst + ((i / h) * (h + 1) + i % h) * (w + 1) * c, src + i * w * c, (size_t)(w * c) * sizeof(float));
        if (dev) s = loom_model_upload(ops, &p, ops->dtype, &dp);
        if (s == LOOM_OK) s = conv_new(ops, wb, dev ? &dp : &p, 2, 0, NULL, &y); // [N,h/2,w/2,C]
    }
    loom_tensor_free(&p), loom_tensor_free(&hx), loom_tensor_free(&dp);
    loom_tensor_free(x);
    if (s == LOOM_OK) *x = y;
    return s;
}

/* x ← conv 3×3 of nearest ×2 (x). */
static loom_status upsample(const loom_ops *ops, const loom_vae_wb *wb, loom_tensor *x)
{
    loom_tensor u;
    loom_status s = alloc4(ops, &u, x->shape[0], 2 * x->shape[1], 2 * x->shape[2], x->shape[3]);
    if (s == LOOM_OK) s = ops->upsample2x(x, &u);
    loom_tensor_free(x);
    if (s != LOOM_OK) {
        loom_tensor_free(&u);
        return s;
    }
    *x = u;
    return conv_step(ops, wb, x);
}

static loom_status need_ops(const loom_ops *ops)
{
    if (!ops->conv2d) return loom_op_missing(ops, "conv2d");
    if (!ops->group_norm) return loom_op_missing(ops, "group_norm");
    if (!ops->linear) return loom_op_missing(ops, "linear");
    if (!ops->attention) return loom_op_missing(ops, "attention");
    if (!ops->upsample2x) return loom_op_missing(ops, "upsample2x");
    return LOOM_OK;
}

/* A host f32 contiguous [n, h, w, c] tensor (want entries < 0 match anything). */
static loom_status check_nhwc(const char *what, const loom_tensor *t, const int64_t want[4])
{
    int ok = t && t->ndim == 4 && t->dtype == LOOM_F32 && t->device == LOOM_HOST && loom_tensor_is_contiguous(t);
    for (int i = 0; ok && i < 4; i++) ok = t->shape[i] >= 0 && (want[i] < 0 || t->shape[i] == want[i]);
    if (ok) return LOOM_OK;
    char a[96], b[96];
    loom_tensor wt = loom_tensor_view(NULL, LOOM_F32, 4, want);
    return loom_fail(LOOM_E_INVALID, "vae: %s is %s; expected f32 %s on the host (-1: any)", what,
                     t ? loom_shape_str(t, a, sizeof a) : "(null)", loom_shape_str(&wt, b, sizeof b));
}

static loom_status decode(const loom_vae *m, const loom_ops *ops, const loom_tensor *z, loom_tensor *img);

loom_status loom_vae_decode(const loom_vae *m, const loom_ops *ops, const loom_tensor *z, loom_tensor *img)
{
    const loom_vae_config *c = &m->cfg;
    if (!(c->parts & LOOM_VAE_DECODER)) return loom_fail(LOOM_E_INVALID, "vae: the decoder is not loaded");
    LOOM_TRY(need_ops(ops));
    const int64_t zw[4] = {-1, -1, -1, c->embed_dim};
    LOOM_TRY(check_nhwc("latent", z, zw));
    const int64_t up = INT64_C(1) << (c->levels - 1);
    if (z->shape[1] < 1 || z->shape[2] < 1 || z->shape[1] > 65536 / up || z->shape[2] > 65536 / up)
        return loom_fail(LOOM_E_INVALID, "vae: latent %lldx%lld is empty or too large", (long long)z->shape[1],
                         (long long)z->shape[2]);
    const int64_t iw[4] = {z->shape[0], z->shape[1] * up, z->shape[2] * up, c->out_channels};
    LOOM_TRY(check_nhwc("image", img, iw));
    if (z->shape[0] == 0) return LOOM_OK;
    if (!loom_model_on_device(ops)) return decode(m, ops, z, img);
    loom_tensor dz = {0}, dimg = {0}; /* host f32 in and out (model_io.h) */
    LOOM_TRY(loom_model_scope_begin(ops, m->arena_decode));
    loom_status s;
    if ((s = loom_model_upload(ops, z, ops->dtype, &dz)) == LOOM_OK &&
        (s = loom_model_alloc(ops, 4, img->shape, &dimg)) == LOOM_OK && (s = decode(m, ops, &dz, &dimg)) == LOOM_OK)
        s = loom_model_download(&dimg, img);
    loom_tensor_free(&dz), loom_tensor_free(&dimg);
    return loom_model_scope_end(ops, m->arena_decode, s);
}

/* The decoder with z and img on ops's device. */
static loom_status decode(const loom_vae *m, const loom_ops *ops, const loom_tensor *z, loom_tensor *img)
{
    const loom_vae_config *c = &m->cfg;
    const loom_vae_coder *d = &m->decoder;
    loom_tensor x;
    LOOM_TRY(conv_new(ops, &m->post_quant_conv, z, 1, 0, NULL, &x)); // [N,h,w,z]
    LOOM_TRY(conv_step(ops, &d->conv_in, &x));                         // [N,h,w,ch[L−1]]
    LOOM_TRY(mid(m, ops, &d->mid, &x));
    for (int i = c->levels - 1; i >= 0; i--) {
        for (int j = 0; j < d->level[i].n_blocks; j++) LOOM_TRY(resblock(m, ops, &d->level[i].block[j], &x));
        if (i > 0) LOOM_TRY(upsample(ops, &d->level[i].conv, &x)); // ×2
    }
    loom_status s = ops->group_norm(&x, &d->norm_out.weight, &d->norm_out.bias, &x, c->groups, c->eps, 1);
    const loom_conv2d_params p = {1, 1, 1, 1};
    if (s == LOOM_OK) s = ops->conv2d(&x, &d->conv_out.weight, &d->conv_out.bias, NULL, img, &p); // [N,H,W,3]
    loom_tensor_free(&x);
    return s;
}

void loom_vae_latent_size(const loom_vae_config *cfg, int64_t h, int64_t w, int64_t *lh, int64_t *lw)
{
    for (int i = 0; i < cfg->levels - 1; i++) { /* (h + 1 − 3)/2 + 1 */
        h = h >= 2 ? (h - 2) / 2 + 1 : 0;
        w = w >= 2 ? (w - 2) / 2 + 1 : 0;
    }
    *lh = h;
    *lw = w;
}

/* latent = mean (+ exp(clamp(logvar, −30, 20)/2)·noise) of moments [N,h,w,2E] = [mean | logvar]. */
static void moments_to_latent(const loom_tensor *mom, const loom_tensor *noise, loom_tensor *latent)
{
    const int64_t e = latent->shape[3], px = loom_tensor_numel(latent) / (e ? e : 1);
    const float *mo = mom->data, *nz = noise ? noise->data : NULL;
    float *out = latent->data;
    for (int64_t i = 0; i < px; i++)
        for (int64_t j = 0; j < e; j++) {
            float v = mo[i * 2 * e + j];
            if (nz) {
                float lv = mo[i * 2 * e + e + j];
                lv = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
                v += expf(0.5f * lv) * nz[i * e + j];
            }
            out[i * e + j] = v;
        }
}

loom_status loom_vae_encode(const loom_vae *m, const loom_ops *ops, const loom_tensor *img, const loom_tensor *noise,
                            loom_tensor *latent)
{
    const loom_vae_config *c = &m->cfg;
    if (!(c->parts & LOOM_VAE_ENCODER)) return loom_fail(LOOM_E_INVALID, "vae: the encoder is not loaded");
    LOOM_TRY(need_ops(ops));
    const int64_t iw[4] = {-1, -1, -1, c->in_channels};
    LOOM_TRY(check_nhwc("image", img, iw));
    int64_t lh, lw;
    loom_vae_latent_size(c, img->shape[1], img->shape[2], &lh, &lw);
    if (lh < 1 || lw < 1 || img->shape[1] > 65536 || img->shape[2] > 65536)
        return loom_fail(LOOM_E_INVALID, "vae: a %lldx%lld image is too small or too large to encode",
                         (long long)img->shape[1], (long long)img->shape[2]);
    const int64_t lwant[4] = {img->shape[0], lh, lw, c->embed_dim};
    LOOM_TRY(check_nhwc("latent", latent, lwant));
    if (noise) LOOM_TRY(check_nhwc("noise", noise, lwant));
    if (img->shape[0] == 0) return LOOM_OK;

    const loom_vae_coder *e = &m->encoder;
    loom_tensor x, dimg = {0};
    const int dev = loom_model_on_device(ops);
    if (dev) LOOM_TRY(loom_model_upload(ops, img, ops->dtype, &dimg)); /* host f32 in and out (model_io.h) */
    loom_status s0 = conv_new(ops, &e->conv_in, dev ? &dimg : img, 1, 1, NULL, &x); // [N,H,W,ch[0]]
    loom_tensor_free(&dimg);
    LOOM_TRY(s0);
    for (int i = 0; i < c->levels; i++) {
        for (int j = 0; j < e->level[i].n_blocks; j++) LOOM_TRY(resblock(m, ops, &e->level[i].block[j], &x));
        if (i < c->levels - 1) LOOM_TRY(downsample(ops, &e->level[i].conv, &x)); // ÷2
    }
    LOOM_TRY(mid(m, ops, &e->mid, &x));
    loom_status s = ops->group_norm(&x, &e->norm_out.weight, &e->norm_out.bias, &x, c->groups, c->eps, 1);
    if (s == LOOM_OK) s = conv_step(ops, &e->conv_out, &x); // [N,h,w,2z]
    if (s == LOOM_OK) s = conv_step(ops, &m->quant_conv, &x); // [N,h,w,2E] = [mean | logvar]
    loom_tensor hm = {0};
    if (s == LOOM_OK && dev && (s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, x.shape, &hm)) == LOOM_OK)
        s = loom_model_download(&x, &hm);
    if (s == LOOM_OK) moments_to_latent(dev ? &hm : &x, noise, latent);
    loom_tensor_free(&x), loom_tensor_free(&hm);
    return s;
}

loom_status loom_vae_scale_latent(loom_tensor *x, float factor)
{
    if (!x || x->dtype != LOOM_F32 || x->device != LOOM_HOST || !loom_tensor_is_contiguous(x))
        return loom_fail(LOOM_E_INVALID, "vae: the latent to scale must be a contiguous f32 host tensor");
    if (!isfinite(factor) || factor == 0.0f)
        return loom_fail(LOOM_E_INVALID, "vae: latent scale factor %g must be finite and non-zero", (double)factor);
    float *d = x->data;
    for (int64_t i = 0, n = loom_tensor_numel(x); i < n; i++) d[i] *= factor;
    return LOOM_OK;
}
