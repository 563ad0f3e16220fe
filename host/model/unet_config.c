/* unet_config.c — the UNet configuration from LDM key shapes, head rules and
 * the consistency check (see unet.h; diffusers config.json: unet_config_json.c).
 *
 * LDM's UNetModel layout (openaimodel.py), which the key walk follows:
 *   input_blocks.0.0            conv_in
 *   per level l, L = num_res_blocks times: input_blocks.n.0 ResBlock
 *                                          [+ input_blocks.n.1 SpatialTransformer]
 *   then, except after the last level:     input_blocks.n.0.op (Downsample)
 *   middle_block.{0,1,2}        ResBlock, SpatialTransformer, ResBlock
 *   output_blocks: levels in reverse, L+1 ResBlocks each (+ transformer, + upsampler) */
#include "unet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *wpath(const loom_weights *w) { return w->n_sources ? w->sources[0].tf->path : "(no file)"; }

/* Formats input_blocks key `fmt` for block n into key[256] and looks it up. */
static int has_block_key(const loom_weights *w, char key[256], const char *fmt, int n)
{
    snprintf(key, 256, fmt, n);
    return loom_weights_has(w, key);
}

/* Shape of a key that must exist with `ndim` dims. */
static loom_status shape_of(const loom_weights *w, const char *key, int ndim, int64_t shape[LOOM_MAX_DIMS])
{
    int nd;
    LOOM_TRY(loom_weights_shape(w, key, &nd, shape));
    if (nd != ndim) return loom_fail(LOOM_E_FORMAT, "%s: '%s' has %d dims, expected %d", loom_weights_path(w, key), key, nd,
                         ndim);
    for (int i = 0; i < nd; i++)
        if (shape[i] < 1 || shape[i] > (1 << 20))
            return loom_fail(LOOM_E_FORMAT, "%s: '%s' has an implausible extent %lld", loom_weights_path(w, key), key,
                             (long long)shape[i]);
    return LOOM_OK;
}

/* Transformer blocks under `base` (e.g. "…input_blocks.1.1"); 0 when there is no SpatialTransformer. */
static loom_status count_depth(const loom_weights *w, const char *base, int *depth)
{
    char key[256];
    int d = 0;
    while (d <= LOOM_UNET_MAX_DEPTH) {
        snprintf(key, sizeof key, "%s.transformer_blocks.%d.attn1.to_q.weight", base, d);
        if (!loom_weights_has(w, key)) break;
        d++;
    }
    if (d > LOOM_UNET_MAX_DEPTH)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: '%s' has more than %d transformer blocks", wpath(w), base,
                         LOOM_UNET_MAX_DEPTH);
    *depth = d;
    return LOOM_OK;
}

/* proj_in kind and context width of the SpatialTransformer at `base`. */
static loom_status transformer_dims(const loom_weights *w, const char *base, loom_unet_config *cfg)
{
    char key[256];
    int nd;
    int64_t s[LOOM_MAX_DIMS];
    snprintf(key, sizeof key, "%s.proj_in.weight", base);
    LOOM_TRY(loom_weights_shape(w, key, &nd, s));
    cfg->use_linear_in_transformer = nd == 2;
    snprintf(key, sizeof key, "%s.transformer_blocks.0.attn2.to_k.weight", base);
    LOOM_TRY(shape_of(w, key, 2, s));
    cfg->context_dim = (int)s[1];
    return LOOM_OK;
}

loom_status loom_unet_config_infer(const loom_weights *w, loom_unet_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char key[256];
    int64_t s[LOOM_MAX_DIMS];
    if (loom_weights_has(w, LOOM_UNET_PREFIX "label_emb.0.0.weight"))
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: this UNet has label_emb (SDXL-style); only SD1.x/SD2.x UNets are "
                         "supported so far", wpath(w));
    LOOM_TRY(shape_of(w, LOOM_UNET_PREFIX "input_blocks.0.0.weight", 4, s)); /* conv_in [mc, in, 3, 3] */
    cfg->in_channels = (int)s[1];
    const int64_t mc = s[0];
    LOOM_TRY(shape_of(w, LOOM_UNET_PREFIX "time_embed.0.weight", 2, s)); /* [4·mc, mc] */
    cfg->time_embed_dim = (int)s[0];
    LOOM_TRY(shape_of(w, LOOM_UNET_PREFIX "out.2.weight", 4, s)); /* [out, mc, 3, 3] */
    cfg->out_channels = (int)s[0];

    /* Walk input_blocks level by level. */
    int n = 1, found_attn = 0;
    int64_t ch = mc;
    for (int level = 0;; level++) {
        if (level == LOOM_UNET_MAX_LEVELS)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: the UNet has more than %d levels", wpath(w),
                             LOOM_UNET_MAX_LEVELS);
        int r = 0, depth = -1, down = 0;
        for (;; r++, n++) {
            if (has_block_key(w, key, LOOM_UNET_PREFIX "input_blocks.%d.0.op.weight", n)) {
                down = 1;
                n++;
                break;
            }
            if (!has_block_key(w, key, LOOM_UNET_PREFIX "input_blocks.%d.0.in_layers.2.weight", n)) break;
            if (r == LOOM_UNET_MAX_RES_BLOCKS)
                return loom_fail(LOOM_E_UNSUPPORTED, "%s: more than %d ResBlocks per level", wpath(w),
                                 LOOM_UNET_MAX_RES_BLOCKS);
            LOOM_TRY(shape_of(w, key, 4, s));
            if (r == 0) ch = s[0];
            else if (s[0] != ch)
                return loom_fail(LOOM_E_FORMAT, "%s: '%s' has %lld output channels; its level has %lld", wpath(w),
                                 key, (long long)s[0], (long long)ch);
            char base[160];
            snprintf(base, sizeof base, LOOM_UNET_PREFIX "input_blocks.%d.1", n);
            int d = 0;
            LOOM_TRY(count_depth(w, base, &d));
            if (depth >= 0 && d != depth)
                return loom_fail(LOOM_E_UNSUPPORTED, "%s: '%s' has %d transformer blocks, its level %d", wpath(w),
                                 base, d, depth);
            depth = d;
            if (d > 0 && !found_attn) {
                LOOM_TRY(transformer_dims(w, base, cfg));
                found_attn = 1;
            }
        }
        if (r == 0) { /* a level starts with a ResBlock */
            snprintf(key, sizeof key, LOOM_UNET_PREFIX "input_blocks.%d.0.in_layers.2.weight", n - down);
            return loom_fail(LOOM_E_FORMAT, "%s: missing tensor '%s' (level %d has no ResBlock)", wpath(w), key,
                             level);
        }
        if (level == 0) cfg->num_res_blocks = r;
        else if (r != cfg->num_res_blocks)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: level %d has %d ResBlocks, level 0 has %d", wpath(w), level,
                             r, cfg->num_res_blocks);
        cfg->channels[level] = (int)ch;
        cfg->depth[level] = depth;
        cfg->n_levels = level + 1;
        if (!down) break;
    }

    LOOM_TRY(count_depth(w, LOOM_UNET_PREFIX "middle_block.1", &cfg->mid_depth));
    if (cfg->mid_depth == 0)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: middle_block.1 is not a SpatialTransformer (missing tensor "
                         "'%smiddle_block.1.transformer_blocks.0.attn1.to_q.weight')", wpath(w), LOOM_UNET_PREFIX);
    if (!found_attn) LOOM_TRY(transformer_dims(w, LOOM_UNET_PREFIX "middle_block.1", cfg));

    cfg->norm_groups = 32; /* LDM's normalization() */
    cfg->norm_eps = 1e-5f;
    cfg->transformer_norm_eps = 1e-6f;
    cfg->layer_norm_eps = 1e-5f;
    cfg->flip_sin_to_cos = 1;
    cfg->freq_shift = 0.0f;
    /* SD2 (OpenCLIP-H context, Linear proj_in) uses num_head_channels = 64; SD1 num_heads = 8. */
    if (cfg->use_linear_in_transformer && cfg->context_dim == 1024) LOOM_TRY(loom_unet_config_set_heads(cfg, 0, 64));
    else LOOM_TRY(loom_unet_config_set_heads(cfg, 8, 0));
    /* No loom_unet_config_check here: a tiny model's defaulted groups or heads
     * may not fit until the caller sets them; loom_unet_load checks the result. */
    return LOOM_OK;
}

loom_status loom_unet_config_set_heads(loom_unet_config *cfg, int num_heads, int head_dim)
{
    if (num_heads <= 0 && head_dim <= 0)
        return loom_fail(LOOM_E_INVALID, "unet config: give a head count or a head width");
    if (cfg->n_levels < 1 || cfg->n_levels > LOOM_UNET_MAX_LEVELS)
        return loom_fail(LOOM_E_INVALID, "unet config: %d levels", cfg->n_levels);
    for (int l = 0; l <= cfg->n_levels; l++) {
        const int ch = cfg->channels[l < cfg->n_levels ? l : cfg->n_levels - 1];
        const int h = num_heads > 0 ? num_heads : (head_dim > 0 && ch % head_dim == 0 ? ch / head_dim : 0);
        if (h == 0)
            return loom_fail(LOOM_E_INVALID, "unet config: %d channels do not split into heads of %d", ch, head_dim);
        if (l < cfg->n_levels) cfg->heads[l] = h;
        else cfg->mid_heads = h;
    }
    return LOOM_OK;
}

static loom_status bad(const char *what, const char *field, long long v)
{
    return loom_fail(LOOM_E_UNSUPPORTED, "%s: UNet %s = %lld is out of range", what, field, v);
}

loom_status loom_unet_config_check(const loom_unet_config *c, const char *what)
{
    if (c->n_levels < 1 || c->n_levels > LOOM_UNET_MAX_LEVELS) return bad(what, "levels", c->n_levels);
    if (c->in_channels < 1 || c->in_channels > 4096) return bad(what, "in_channels", c->in_channels);
    if (c->out_channels < 1 || c->out_channels > 4096) return bad(what, "out_channels", c->out_channels);
    if (c->num_res_blocks < 1 || c->num_res_blocks > LOOM_UNET_MAX_RES_BLOCKS)
        return bad(what, "num_res_blocks", c->num_res_blocks);
    if (c->context_dim < 1 || c->context_dim > 65536) return bad(what, "context_dim", c->context_dim);
    if (c->time_embed_dim < 1 || c->time_embed_dim > 65536) return bad(what, "time_embed_dim", c->time_embed_dim);
    if (c->norm_groups < 1) return bad(what, "norm_groups", c->norm_groups);
    if (c->mid_depth < 1 || c->mid_depth > LOOM_UNET_MAX_DEPTH) return bad(what, "middle depth", c->mid_depth);
    if (c->channels[0] < 2) return bad(what, "model_channels", c->channels[0]); /* timestep embedding width */
    for (int l = 0; l <= c->n_levels; l++) {
        const int mid = l == c->n_levels;
        const int ch = c->channels[mid ? l - 1 : l], depth = mid ? c->mid_depth : c->depth[l];
        const int heads = mid ? c->mid_heads : c->heads[l];
        if (ch < 1 || ch > 65536) return bad(what, "channels", ch);
        if (depth < 0 || depth > LOOM_UNET_MAX_DEPTH) return bad(what, "transformer depth", depth);
        if (ch % c->norm_groups != 0)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: %d norm groups do not divide %d channels", what,
                             c->norm_groups, ch);
        if (depth > 0 && (heads < 1 || ch % heads != 0))
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: %d attention heads do not divide %d channels%s", what, heads,
                             ch, mid ? " (middle block)" : "");
    }
    if (!(c->norm_eps >= 0) || !(c->transformer_norm_eps >= 0) || !(c->layer_norm_eps >= 0) ||
        !isfinite(c->norm_eps) || !isfinite(c->transformer_norm_eps) || !isfinite(c->layer_norm_eps) ||
        !isfinite(c->freq_shift) || c->freq_shift >= (float)(c->channels[0] / 2))
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: UNet norm eps or freq_shift out of range", what);
    return LOOM_OK;
}
