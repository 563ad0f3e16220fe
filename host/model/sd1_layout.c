/* sd1_layout.c — presets and the key enumeration of an SD1.x checkpoint
 * (sd1_layout.h). The walks follow the modules' constructors:
 *   UNet  ldm/modules/diffusionmodules/openaimodel.py UNetModel.__init__
 *   VAE   ldm/modules/diffusionmodules/model.py Encoder/Decoder.__init__
 *   CLIP  transformers CLIPTextModel (4.x state dict names)
 * so a key appears here for the same reason it appears in a real file. */
#include "sd1_layout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U "model.diffusion_model."
#define C "cond_stage_model.transformer.text_model."
#define V "first_stage_model."

loom_status loom_sd1_preset(const char *name, loom_sd1_config *cfg)
{
    /* v1-inference.yaml (SD1.5) */
    static const loom_sd1_config sd15 = {
        .unet_in = 4, .unet_out = 4, .model_channels = 320, .unet_levels = 4, .channel_mult = {1, 2, 4, 4},
        .num_res_blocks = 2, .attn = {1, 1, 1, 0}, .transformer_depth = 1, .context_dim = 768,
        .clip_width = 768, .clip_layers = 12, .clip_mlp = 3072, .clip_vocab = 49408, .clip_max_pos = 77,
        .vae_ch = 128, .vae_levels = 4, .vae_ch_mult = {1, 2, 4, 4}, .vae_num_res_blocks = 2,
        .z_channels = 4, .embed_dim = 4,
    };
    /* The same structure, small: UNet levels of 32/64/64/64 channels (32 norm
     * groups and 8 heads, which the loaders assume for SD1 single files), CLIP
     * width 64 (one head of 64) with 2 layers, VAE levels of 32/32/64/64 —
     * about 16 MB in fp16, 6 MB of it the 49408-token embedding the real
     * tokenizer needs. */
    static const loom_sd1_config demo = {
        .unet_in = 4, .unet_out = 4, .model_channels = 32, .unet_levels = 4, .channel_mult = {1, 2, 2, 2},
        .num_res_blocks = 2, .attn = {1, 1, 1, 0}, .transformer_depth = 1, .context_dim = 64,
        .clip_width = 64, .clip_layers = 2, .clip_mlp = 256, .clip_vocab = 49408, .clip_max_pos = 77,
        .vae_ch = 32, .vae_levels = 4, .vae_ch_mult = {1, 1, 2, 2}, .vae_num_res_blocks = 2,
        .z_channels = 4, .embed_dim = 4,
    };
    if (name && strcmp(name, "sd15") == 0) *cfg = sd15;
    else if (name && strcmp(name, "demo") == 0) *cfg = demo;
    else return loom_fail(LOOM_E_INVALID, "unknown checkpoint preset '%s' (demo, sd15)", name ? name : "(none)");
    return LOOM_OK;
}

static int in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

loom_status loom_sd1_config_check(const loom_sd1_config *c)
{
    const int big = 1 << 16;
    int ok = in_range(c->unet_in, 1, big) && in_range(c->unet_out, 1, big) && in_range(c->model_channels, 1, big) &&
             in_range(c->unet_levels, 1, LOOM_SD1_MAX_LEVELS) && in_range(c->num_res_blocks, 1, 64) &&
             in_range(c->transformer_depth, 1, 64) && in_range(c->context_dim, 1, big) &&
             in_range(c->clip_width, 1, big) && in_range(c->clip_layers, 1, 256) && in_range(c->clip_mlp, 1, big) &&
             in_range(c->clip_vocab, 1, 1 << 20) && in_range(c->clip_max_pos, 1, 4096) && in_range(c->vae_ch, 1, big) &&
             in_range(c->vae_levels, 1, LOOM_SD1_MAX_LEVELS) && in_range(c->vae_num_res_blocks, 1, 64) &&
             in_range(c->z_channels, 1, big) && in_range(c->embed_dim, 1, big);
    for (int i = 0; ok && i < c->unet_levels; i++) ok = in_range(c->channel_mult[i], 1, 64);
    for (int i = 0; ok && i < c->vae_levels; i++) ok = in_range(c->vae_ch_mult[i], 1, 64);
    return ok ? LOOM_OK : loom_fail(LOOM_E_INVALID, "sd1 layout: a dimension is out of range");
}

/* ---- building the list --------------------------------------------------- */

typedef struct builder {
    loom_sd1_layout *l;
    loom_status s;
} builder;

/* base + "." + leaf (leaf NULL: base alone), with the given shape and init. */
static void put(builder *b, const char *base, const char *leaf, loom_dtype dt, loom_sd1_init init, float scale,
                int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (b->s != LOOM_OK) return;
    loom_sd1_layout *l = b->l;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 1024;
        loom_sd1_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (!t) {
            b->s = loom_fail(LOOM_E_NOMEM, "sd1 layout: out of memory");
            return;
        }
        l->t = t;
        l->cap = cap;
    }
    loom_sd1_tensor *t = &l->t[l->n];
    memset(t, 0, sizeof *t);
    int len = snprintf(t->name, sizeof t->name, leaf ? "%s.%s" : "%s", base, leaf);
    if (len < 0 || (size_t)len >= sizeof t->name) {
        b->s = loom_fail(LOOM_E_INVALID, "sd1 layout: key '%s' is too long", base);
        return;
    }
    const int64_t d[4] = {d0, d1, d2, d3};
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = d[i];
        numel *= (uint64_t)d[i]; /* config_check bounds every extent: no overflow */
    }
    t->ndim = ndim;
    t->dtype = dt;
    t->init = init;
    t->scale = scale;
    l->bytes += numel * loom_dtype_size(dt);
    l->n++;
}

/* printf into a name buffer of LOOM_SD1_NAME_MAX; an over-long name fails later in put(). */
static const char *nm(char buf[LOOM_SD1_NAME_MAX], const char *fmt, ...) LOOM_PRINTF(2, 3);
static const char *nm(char buf[LOOM_SD1_NAME_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, LOOM_SD1_NAME_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

/* PyTorch's default Linear/Conv init: weight and bias uniform in ±1/√fan_in. */
static float fan_in_bound(int64_t fan_in) { return (float)(1.0 / sqrt((double)fan_in)); }

static void linear(builder *b, const char *base, int64_t out, int64_t in, int bias)
{
    const float s = fan_in_bound(in);
    put(b, base, "weight", LOOM_F16, LOOM_SD1_INIT_UNIFORM, s, 2, out, in, 0, 0);
    if (bias) put(b, base, "bias", LOOM_F16, LOOM_SD1_INIT_UNIFORM, s, 1, out, 0, 0, 0);
}

static void conv(builder *b, const char *base, int64_t out, int64_t in, int k)
{
    const float s = fan_in_bound(in * k * k);
    put(b, base, "weight", LOOM_F16, LOOM_SD1_INIT_UNIFORM, s, 4, out, in, k, k);
    put(b, base, "bias", LOOM_F16, LOOM_SD1_INIT_UNIFORM, s, 1, out, 0, 0, 0);
}

static void norm(builder *b, const char *base, int64_t ch)
{
    put(b, base, "weight", LOOM_F16, LOOM_SD1_INIT_ONES, 0, 1, ch, 0, 0, 0);
    put(b, base, "bias", LOOM_F16, LOOM_SD1_INIT_ZEROS, 0, 1, ch, 0, 0, 0);
}

/* ---- UNet ----------------------------------------------------------------- */

static void unet_resblock(builder *b, const char *base, int64_t in, int64_t out, int64_t emb)
{
    char k[LOOM_SD1_NAME_MAX];
    norm(b, nm(k, "%s.in_layers.0", base), in);
    conv(b, nm(k, "%s.in_layers.2", base), out, in, 3);
    linear(b, nm(k, "%s.emb_layers.1", base), out, emb, 1);
    norm(b, nm(k, "%s.out_layers.0", base), out);
    conv(b, nm(k, "%s.out_layers.3", base), out, out, 3);
    if (in != out) conv(b, nm(k, "%s.skip_connection", base), out, in, 1);
}

/* SpatialTransformer with SD1's 1×1-conv proj_in/proj_out and GEGLU feed-forward (inner 4·C). */
static void unet_transformer(builder *b, const char *base, int64_t ch, const loom_sd1_config *c)
{
    char k[LOOM_SD1_NAME_MAX];
    norm(b, nm(k, "%s.norm", base), ch);
    conv(b, nm(k, "%s.proj_in", base), ch, ch, 1);
    for (int d = 0; d < c->transformer_depth; d++) {
        for (int a = 1; a <= 2; a++) { /* attn1: self, attn2: cross (k, v from the context) */
            const int64_t kv = a == 1 ? ch : c->context_dim;
            linear(b, nm(k, "%s.transformer_blocks.%d.attn%d.to_q", base, d, a), ch, ch, 0);
            linear(b, nm(k, "%s.transformer_blocks.%d.attn%d.to_k", base, d, a), ch, kv, 0);
            linear(b, nm(k, "%s.transformer_blocks.%d.attn%d.to_v", base, d, a), ch, kv, 0);
            linear(b, nm(k, "%s.transformer_blocks.%d.attn%d.to_out.0", base, d, a), ch, ch, 1);
        }
        linear(b, nm(k, "%s.transformer_blocks.%d.ff.net.0.proj", base, d), 8 * ch, ch, 1);
        linear(b, nm(k, "%s.transformer_blocks.%d.ff.net.2", base, d), ch, 4 * ch, 1);
        for (int i = 1; i <= 3; i++) norm(b, nm(k, "%s.transformer_blocks.%d.norm%d", base, d, i), ch);
    }
    conv(b, nm(k, "%s.proj_out", base), ch, ch, 1);
}

static void unet(builder *b, const loom_sd1_config *c)
{
    char k[LOOM_SD1_NAME_MAX];
    const int64_t mc = c->model_channels, emb = 4 * mc;
    linear(b, U "time_embed.0", emb, mc, 1);
    linear(b, U "time_embed.2", emb, emb, 1);
    conv(b, U "input_blocks.0.0", mc, c->unet_in, 3);
    int64_t skip[LOOM_SD1_MAX_LEVELS * 65 + 1]; /* channels of each input block, consumed by the output blocks */
    int ns = 0, n = 1;
    int64_t ch = mc;
    skip[ns++] = ch;
    for (int lv = 0; lv < c->unet_levels; lv++) {
        for (int r = 0; r < c->num_res_blocks; r++, n++) {
            unet_resblock(b, nm(k, U "input_blocks.%d.0", n), ch, mc * c->channel_mult[lv], emb);
            ch = mc * c->channel_mult[lv];
            if (c->attn[lv]) unet_transformer(b, nm(k, U "input_blocks.%d.1", n), ch, c);
            skip[ns++] = ch;
        }
        if (lv != c->unet_levels - 1) {
            conv(b, nm(k, U "input_blocks.%d.0.op", n++), ch, ch, 3);
            skip[ns++] = ch;
        }
    }
    unet_resblock(b, U "middle_block.0", ch, ch, emb);
    unet_transformer(b, U "middle_block.1", ch, c);
    unet_resblock(b, U "middle_block.2", ch, ch, emb);
    n = 0;
    for (int lv = c->unet_levels - 1; lv >= 0; lv--) {
        for (int r = 0; r <= c->num_res_blocks; r++, n++) {
            const int64_t out = mc * c->channel_mult[lv];
            unet_resblock(b, nm(k, U "output_blocks.%d.0", n), ch + skip[--ns], out, emb);
            ch = out;
            if (c->attn[lv]) unet_transformer(b, nm(k, U "output_blocks.%d.1", n), ch, c);
            if (lv && r == c->num_res_blocks) /* the upsampler follows the block's other modules */
                conv(b, nm(k, U "output_blocks.%d.%d.conv", n, c->attn[lv] ? 2 : 1), ch, ch, 3);
        }
    }
    norm(b, U "out.0", ch);
    conv(b, U "out.2", c->unet_out, ch, 3);
}

/* ---- CLIP text encoder ----------------------------------------------------- */

static void clip(builder *b, const loom_sd1_config *c)
{
    char k[LOOM_SD1_NAME_MAX];
    const int64_t w = c->clip_width;
    /* transformers' init: embeddings N(0, 0.02); the same spread as a uniform is ±0.02·√3 */
    const float emb = 0.02f * 1.7320508f;
    put(b, C "embeddings.token_embedding.weight", NULL, LOOM_F16, LOOM_SD1_INIT_UNIFORM, emb, 2, c->clip_vocab, w, 0,
        0);
    put(b, C "embeddings.position_embedding.weight", NULL, LOOM_F16, LOOM_SD1_INIT_UNIFORM, emb, 2, c->clip_max_pos,
        w, 0, 0);
    put(b, C "embeddings.position_ids", NULL, LOOM_I64, LOOM_SD1_INIT_ARANGE, 0, 2, 1, c->clip_max_pos, 0, 0);
    static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int i = 0; i < c->clip_layers; i++) {
        norm(b, nm(k, C "encoder.layers.%d.layer_norm1", i), w);
        for (int p = 0; p < 4; p++) linear(b, nm(k, C "encoder.layers.%d.self_attn.%s", i, proj[p]), w, w, 1);
        norm(b, nm(k, C "encoder.layers.%d.layer_norm2", i), w);
        linear(b, nm(k, C "encoder.layers.%d.mlp.fc1", i), c->clip_mlp, w, 1);
        linear(b, nm(k, C "encoder.layers.%d.mlp.fc2", i), w, c->clip_mlp, 1);
    }
    norm(b, C "final_layer_norm", w);
}

/* ---- VAE ------------------------------------------------------------------- */

static void vae_resblock(builder *b, const char *base, int64_t in, int64_t out)
{
    char k[LOOM_SD1_NAME_MAX];
    norm(b, nm(k, "%s.norm1", base), in);
    conv(b, nm(k, "%s.conv1", base), out, in, 3);
    norm(b, nm(k, "%s.norm2", base), out);
    conv(b, nm(k, "%s.conv2", base), out, out, 3);
    if (in != out) conv(b, nm(k, "%s.nin_shortcut", base), out, in, 1);
}

/* mid: ResBlock, single-head attention with 1×1-conv q/k/v/proj_out, ResBlock. */
static void vae_mid(builder *b, const char *side, int64_t ch)
{
    char k[LOOM_SD1_NAME_MAX];
    static const char *const proj[4] = {"q", "k", "v", "proj_out"};
    vae_resblock(b, nm(k, V "%s.mid.block_1", side), ch, ch);
    norm(b, nm(k, V "%s.mid.attn_1.norm", side), ch);
    for (int p = 0; p < 4; p++) conv(b, nm(k, V "%s.mid.attn_1.%s", side, proj[p]), ch, ch, 1);
    vae_resblock(b, nm(k, V "%s.mid.block_2", side), ch, ch);
}

static void vae(builder *b, const loom_sd1_config *c)
{
    char k[LOOM_SD1_NAME_MAX];
    const int64_t ch = c->vae_ch, last = c->vae_levels - 1;
    int64_t in = ch;
    conv(b, V "encoder.conv_in", ch, 3, 3);
    for (int i = 0; i <= last; i++) {
        for (int j = 0; j < c->vae_num_res_blocks; j++) {
            vae_resblock(b, nm(k, V "encoder.down.%d.block.%d", i, j), in, ch * c->vae_ch_mult[i]);
            in = ch * c->vae_ch_mult[i];
        }
        if (i != last) conv(b, nm(k, V "encoder.down.%d.downsample.conv", i), in, in, 3);
    }
    vae_mid(b, "encoder", in);
    norm(b, V "encoder.norm_out", in);
    conv(b, V "encoder.conv_out", 2 * c->z_channels, in, 3); /* mean and logvar */
    conv(b, V "quant_conv", 2 * c->embed_dim, 2 * c->z_channels, 1);
    conv(b, V "post_quant_conv", c->z_channels, c->embed_dim, 1);
    in = ch * c->vae_ch_mult[last];
    conv(b, V "decoder.conv_in", in, c->z_channels, 3);
    vae_mid(b, "decoder", in);
    for (int i = (int)last; i >= 0; i--) {
        for (int j = 0; j <= c->vae_num_res_blocks; j++) {
            vae_resblock(b, nm(k, V "decoder.up.%d.block.%d", i, j), in, ch * c->vae_ch_mult[i]);
            in = ch * c->vae_ch_mult[i];
        }
        if (i != 0) conv(b, nm(k, V "decoder.up.%d.upsample.conv", i), in, in, 3);
    }
    norm(b, V "decoder.norm_out", in);
    conv(b, V "decoder.conv_out", 3, in, 3);
}

loom_status loom_sd1_layout_build(const loom_sd1_config *cfg, loom_sd1_layout *out)
{
    memset(out, 0, sizeof *out);
    LOOM_TRY(loom_sd1_config_check(cfg));
    builder b = {out, LOOM_OK};
    unet(&b, cfg);
    clip(&b, cfg);
    vae(&b, cfg);
    return b.s;
}

void loom_sd1_layout_free(loom_sd1_layout *l)
{
    free(l->t);
    memset(l, 0, sizeof *l);
}
