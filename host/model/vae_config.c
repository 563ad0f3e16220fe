/* vae_config.c — the VAE's configuration: from LDM checkpoint shapes, from a
 * diffusers config.json, and its consistency check (vae.h). */
#include "vae.h"

#include "json_file.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *wpath(const loom_weights *w) { return w->n_sources ? w->sources[0].tf->path : "(no file)"; }

/* key = prefix + printf(fmt, …); 0 when it does not fit. */
static int keyf(char key[256], const char *prefix, const char *fmt, ...) LOOM_PRINTF(3, 4);
static int keyf(char key[256], const char *prefix, const char *fmt, ...)
{
    int n = snprintf(key, 256, "%s", prefix);
    if (n < 0 || n >= 256) return 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(key + n, (size_t)(256 - n), fmt, ap);
    va_end(ap);
    return m >= 0 && m < 256 - n;
}

/* The shape of a key that must exist with `ndim` dims. */
static loom_status shape_of(const loom_weights *w, const char *key, int ndim, int64_t s[LOOM_MAX_DIMS])
{
    int nd;
    LOOM_TRY(loom_weights_shape(w, key, &nd, s));
    if (nd != ndim)
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' has %d dims, expected %d", loom_weights_path(w, key), key, nd, ndim);
    return LOOM_OK;
}

/* How many of fmt(0), fmt(1), … exist (stops at limit + 1). */
static int count(const loom_weights *w, const char *prefix, const char *fmt, int limit)
{
    char key[256];
    int n = 0;
    while (n <= limit && keyf(key, prefix, fmt, n) && loom_weights_has(w, key)) n++;
    return n;
}

/* One side (encoder or decoder): levels, res blocks, per-level channels. */
static loom_status infer_side(const loom_weights *w, const char *prefix, int dec, loom_vae_config *c)
{
    const char *side = dec ? "decoder" : "encoder", *lv = dec ? "up" : "down";
    char fmt[96], key[256];
    snprintf(fmt, sizeof fmt, "%s.%s.%%d.block.0.conv1.weight", side, lv);
    const int levels = count(w, prefix, fmt, LOOM_VAE_MAX_LEVELS);
    snprintf(fmt, sizeof fmt, "%s.%s.0.block.%%d.conv1.weight", side, lv);
    const int blocks = count(w, prefix, fmt, LOOM_VAE_MAX_RES_BLOCKS + 1) - dec;
    if (levels < 1 || levels > LOOM_VAE_MAX_LEVELS || blocks < 1 || blocks > LOOM_VAE_MAX_RES_BLOCKS)
        return loom_fail(LOOM_E_FORMAT, "%s: VAE %s with %d levels of %d ResBlocks (1..%d levels of 1..%d supported)",
                         wpath(w), side, levels, blocks, LOOM_VAE_MAX_LEVELS, LOOM_VAE_MAX_RES_BLOCKS);
    int64_t s[LOOM_MAX_DIMS], ch[LOOM_VAE_MAX_LEVELS];
    for (int i = 0; i < levels; i++) {
        if (keyf(key, prefix, "%s.%s.%d.attn.0.q.weight", side, lv, i) && loom_weights_has(w, key))
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: '%s': attention inside VAE levels is not supported",
                             loom_weights_path(w, key), key);
        keyf(key, prefix, "%s.%s.%d.block.0.conv2.weight", side, lv, i);
        LOOM_TRY(shape_of(w, key, 4, s));
        ch[i] = s[0];
    }
    if (c->levels) { /* the other side came first: they must agree */
        int same = c->levels == levels && c->num_res_blocks == blocks;
        for (int i = 0; same && i < levels; i++) same = c->ch[i] == ch[i];
        if (!same) return loom_fail(LOOM_E_FORMAT, "%s: the VAE's encoder and decoder have different levels", wpath(w));
    }
    c->levels = levels;
    c->num_res_blocks = blocks;
    memcpy(c->ch, ch, sizeof ch);
    return LOOM_OK;
}

loom_status loom_vae_config_infer(const loom_weights *w, const char *prefix, loom_vae_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    loom_vae_config *c = cfg;
    char key[256];
    int64_t s[LOOM_MAX_DIMS];
    if (keyf(key, prefix, "decoder.conv_in.weight") && loom_weights_has(w, key)) c->parts |= LOOM_VAE_DECODER;
    if (keyf(key, prefix, "encoder.conv_in.weight") && loom_weights_has(w, key)) c->parts |= LOOM_VAE_ENCODER;
    if (!c->parts)
        return loom_fail(LOOM_E_FORMAT, "%s: missing tensor '%sdecoder.conv_in.weight' (no VAE)", wpath(w), prefix);
    if (c->parts & LOOM_VAE_DECODER) {
        LOOM_TRY(infer_side(w, prefix, 1, c));
        keyf(key, prefix, "post_quant_conv.weight");
        LOOM_TRY(shape_of(w, key, 4, s)); /* [z, embed, 1, 1] */
        c->z_channels = s[0];
        c->embed_dim = s[1];
        keyf(key, prefix, "decoder.conv_out.weight");
        LOOM_TRY(shape_of(w, key, 4, s)); /* [out, ch[0], 3, 3] */
        c->out_channels = s[0];
    }
    if (c->parts & LOOM_VAE_ENCODER) {
        LOOM_TRY(infer_side(w, prefix, 0, c));
        keyf(key, prefix, "encoder.conv_in.weight");
        LOOM_TRY(shape_of(w, key, 4, s)); /* [ch[0], in, 3, 3] */
        c->in_channels = s[1];
        keyf(key, prefix, "quant_conv.weight");
        LOOM_TRY(shape_of(w, key, 4, s)); /* [2·embed, 2·z, 1, 1] */
        if (s[0] % 2 || s[1] % 2 ||
            (c->parts & LOOM_VAE_DECODER && (s[0] != 2 * c->embed_dim || s[1] != 2 * c->z_channels)))
            return loom_fail(LOOM_E_FORMAT, "%s: '%s' is [%lld, %lld, ...]; the decoder's latent has %lld channels",
                             loom_weights_path(w, key), key, (long long)s[0], (long long)s[1],
                             (long long)c->embed_dim);
        c->embed_dim = s[0] / 2;
        c->z_channels = s[1] / 2;
    }
    /* not in the file (vae.h): SD's values */
    c->groups = 32;
    c->eps = 1e-6f;
    c->scale_factor = LOOM_VAE_SCALE_SD1;
    return LOOM_OK; /* loom_vae_load checks it, after a caller's changes */
}

loom_status loom_vae_config_check(const loom_vae_config *c, const char *what)
{
    if (!c->parts || c->parts & ~(unsigned)(LOOM_VAE_DECODER | LOOM_VAE_ENCODER))
        return loom_fail(LOOM_E_INVALID, "%s: VAE parts %#x", what, c->parts);
    if (c->levels < 1 || c->levels > LOOM_VAE_MAX_LEVELS || c->num_res_blocks < 1 ||
        c->num_res_blocks > LOOM_VAE_MAX_RES_BLOCKS)
        return loom_fail(LOOM_E_FORMAT, "%s: VAE with %d levels of %d ResBlocks", what, c->levels, c->num_res_blocks);
    if (c->groups < 1) return loom_fail(LOOM_E_FORMAT, "%s: VAE with %d norm groups", what, c->groups);
    for (int i = 0; i < c->levels; i++)
        if (c->ch[i] < 1 || c->ch[i] > 8192 || c->ch[i] % c->groups)
            return loom_fail(LOOM_E_FORMAT, "%s: VAE level %d has %lld channels, not a multiple of %d norm groups",
                             what, i, (long long)c->ch[i], c->groups);
    const int64_t v[4] = {c->z_channels, c->embed_dim, c->in_channels, c->out_channels};
    static const char *const names[4] = {"z_channels", "embed_dim", "in_channels", "out_channels"};
    for (int i = 0; i < 4; i++) {
        const int needed = i < 2 || (i == 2 && c->parts & LOOM_VAE_ENCODER) || (i == 3 && c->parts & LOOM_VAE_DECODER);
        if (needed && (v[i] < 1 || v[i] > 4096))
            return loom_fail(LOOM_E_FORMAT, "%s: VAE %s %lld", what, names[i], (long long)v[i]);
    }
    if (!(c->eps > 0.0f) || !isfinite(c->eps) || !(c->scale_factor > 0.0f) || !isfinite(c->scale_factor))
        return loom_fail(LOOM_E_FORMAT, "%s: VAE eps %g / scaling factor %g must be finite and > 0", what,
                         (double)c->eps, (double)c->scale_factor);
    return LOOM_OK;
}

/* ---- config.json (diffusers AutoencoderKL) ------------------------------------ */

static loom_status json_int(const char *path, json_t *root, const char *key, int64_t def, int64_t lo, int64_t hi,
                            int64_t *out)
{
    json_t *v = json_object_get(root, key);
    if (!v && def >= 0) {
        *out = def;
        return LOOM_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return loom_fail(LOOM_E_FORMAT, "%s: \"%s\" must be an integer in %lld..%lld", path, key, (long long)lo,
                         (long long)hi);
    *out = json_integer_value(v);
    return LOOM_OK;
}

/* A field that must have one value (or be absent) for the graph loom builds. */
static loom_status require(const char *path, json_t *root, const char *key, json_t *want)
{
    json_t *v = json_object_get(root, key);
    loom_status s = LOOM_OK;
    if (v && !json_equal(v, want)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        s = loom_fail(LOOM_E_UNSUPPORTED, "%s: \"%s\": %s is not supported", path, key, text ? text : "?");
        free(text);
    }
    json_decref(want);
    return s;
}

static loom_status parse(const char *path, json_t *root, loom_vae_config *c)
{
    if (!json_is_object(root)) return loom_fail(LOOM_E_FORMAT, "%s: not a JSON object", path);
    int64_t v = 0;
    json_t *boc = json_object_get(root, "block_out_channels");
    if (!json_is_array(boc) || json_array_size(boc) < 1 || json_array_size(boc) > LOOM_VAE_MAX_LEVELS)
        return loom_fail(LOOM_E_FORMAT, "%s: \"block_out_channels\" must be a list of 1..%d integers", path,
                         LOOM_VAE_MAX_LEVELS);
    c->levels = (int)json_array_size(boc);
    for (int i = 0; i < c->levels; i++) {
        json_t *e = json_array_get(boc, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 8192)
            return loom_fail(LOOM_E_FORMAT, "%s: \"block_out_channels\"[%d] must be an integer in 1..8192", path, i);
        c->ch[i] = json_integer_value(e);
    }
    LOOM_TRY(json_int(path, root, "layers_per_block", 1, 1, LOOM_VAE_MAX_RES_BLOCKS, &v));
    c->num_res_blocks = (int)v;
    LOOM_TRY(json_int(path, root, "latent_channels", 4, 1, 4096, &c->z_channels));
    c->embed_dim = c->z_channels; /* diffusers: quant convs keep latent_channels */
    LOOM_TRY(json_int(path, root, "in_channels", 3, 1, 4096, &c->in_channels));
    LOOM_TRY(json_int(path, root, "out_channels", 3, 1, 4096, &c->out_channels));
    LOOM_TRY(json_int(path, root, "norm_num_groups", 32, 1, 8192, &v));
    c->groups = (int)v;
    json_t *sf = json_object_get(root, "scaling_factor");
    c->scale_factor = LOOM_VAE_SCALE_SD1;
    if (sf) {
        if (!json_is_number(sf)) return loom_fail(LOOM_E_FORMAT, "%s: \"scaling_factor\" must be a number", path);
        c->scale_factor = (float)json_number_value(sf);
    }
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "up_block_types" : "down_block_types", *want = i ? "UpDecoderBlock2D" : "DownEncoderBlock2D";
        json_t *t = json_object_get(root, key);
        if (!t) continue;
        if (!json_is_array(t) || (int)json_array_size(t) != c->levels)
            return loom_fail(LOOM_E_FORMAT, "%s: \"%s\" must list %d blocks", path, key, c->levels);
        for (size_t j = 0; j < json_array_size(t); j++) {
            const char *name = json_string_value(json_array_get(t, j));
            if (!name || strcmp(name, want) != 0)
                return loom_fail(LOOM_E_UNSUPPORTED, "%s: \"%s\"[%zu] is %s; loom's VAE has %s only", path, key, j,
                                 name ? name : "not a string", want);
        }
    }
    LOOM_TRY(require(path, root, "act_fn", json_string("silu")));
    LOOM_TRY(require(path, root, "use_quant_conv", json_true()));
    LOOM_TRY(require(path, root, "use_post_quant_conv", json_true()));
    LOOM_TRY(require(path, root, "mid_block_add_attention", json_true()));
    LOOM_TRY(require(path, root, "shift_factor", json_null()));
    c->parts = LOOM_VAE_DECODER | LOOM_VAE_ENCODER;
    c->eps = 1e-6f;
    return loom_vae_config_check(c, path);
}

loom_status loom_vae_config_from_diffusers(const char *path, loom_vae_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    json_t *root;
    LOOM_TRY(loom_json_load_object(path, &root));
    loom_status s = parse(path, root, cfg);
    json_decref(root);
    return s;
}
