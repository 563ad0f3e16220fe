/* vae.c — binding the VAE's weights by LDM key, and freeing them (vae.h).
 * The forward passes are in vae_forward.c. */
#include "vae.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device_arena.h"
#include "model_io.h"
#include "tensor_alloc.h"

typedef struct binder {
    loom_weights *w;
    const char *prefix;
    const loom_vae_config *cfg;
    uint64_t *bytes;
} binder;

static int name_of(char key[256], const char *prefix, const char *module, const char *leaf)
{
    int n = snprintf(key, 256, "%s%s.%s", prefix, module, leaf);
    return n >= 0 && n < 256;
}

static loom_status get(const binder *b, const char *module, const char *leaf, loom_weight_kind kind, int ndim,
                       const int64_t *shape, loom_tensor *out)
{
    char key[256];
    if (!name_of(key, b->prefix, module, leaf)) return loom_fail(LOOM_E_INVALID, "vae: key prefix too long");
    LOOM_TRY(loom_weights_get(b->w, key, kind, ndim, shape, out));
    *b->bytes += loom_tensor_nbytes(out);
    return LOOM_OK;
}

/* conv k×k: weight [out, in, k, k] in the file → OHWI; bias [out] */
static loom_status conv(const binder *b, const char *module, int64_t out, int64_t in, int64_t k, loom_vae_wb *wb)
{
    const int64_t s[4] = {out, in, k, k};
    LOOM_TRY(get(b, module, "weight", LOOM_W_CONV, 4, s, &wb->weight));
    return get(b, module, "bias", LOOM_W_ANY, 1, &out, &wb->bias);
}

static loom_status norm(const binder *b, const char *module, int64_t c, loom_vae_wb *wb)
{
    LOOM_TRY(get(b, module, "weight", LOOM_W_ANY, 1, &c, &wb->weight));
    return get(b, module, "bias", LOOM_W_ANY, 1, &c, &wb->bias);
}

/* Attention projections: LDM stores 1×1 convs [C, C, 1, 1], diffusers and
 * some converted files Linear [C, C]; both are the same [out, in] matrix. */
static loom_status proj(const binder *b, const char *module, int64_t c, loom_vae_wb *wb)
{
    char key[256];
    int nd;
    int64_t s[LOOM_MAX_DIMS];
    if (!name_of(key, b->prefix, module, "weight")) return loom_fail(LOOM_E_INVALID, "vae: key prefix too long");
    LOOM_TRY(loom_weights_shape(b->w, key, &nd, s));
    const int64_t want[4] = {c, c, 1, 1};
    LOOM_TRY(get(b, module, "weight", LOOM_W_ANY, nd == 2 ? 2 : 4, want, &wb->weight));
    const int64_t mat[2] = {c, c};
    loom_tensor view = loom_tensor_view(wb->weight.data, wb->weight.dtype, 2, mat);
    view.device = wb->weight.device;
    wb->weight = view; /* same buffer, [C, C] */
    return get(b, module, "bias", LOOM_W_ANY, 1, &c, &wb->bias);
}

static loom_status sub(char out[160], const char *fmt, ...) LOOM_PRINTF(2, 3);
static loom_status sub(char out[160], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, 160, fmt, ap);
    va_end(ap);
    return n >= 0 && n < 160 ? LOOM_OK : loom_fail(LOOM_E_INVALID, "vae: module name too long");
}

static loom_status resblock(const binder *b, const char *module, int64_t in, int64_t out, loom_vae_resblock *r)
{
    char m[160];
    r->in_ch = in;
    r->out_ch = out;
    LOOM_TRY(sub(m, "%s.norm1", module));
    LOOM_TRY(norm(b, m, in, &r->norm1));
    LOOM_TRY(sub(m, "%s.conv1", module));
    LOOM_TRY(conv(b, m, out, in, 3, &r->conv1));
    LOOM_TRY(sub(m, "%s.norm2", module));
    LOOM_TRY(norm(b, m, out, &r->norm2));
    LOOM_TRY(sub(m, "%s.conv2", module));
    LOOM_TRY(conv(b, m, out, out, 3, &r->conv2));
    LOOM_TRY(sub(m, "%s.nin_shortcut", module));
    char key[256];
    if (in != out) return conv(b, m, out, in, 1, &r->nin_shortcut);
    if (name_of(key, b->prefix, m, "weight") && loom_weights_has(b->w, key))
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' exists but the block keeps %lld channels",
                         loom_weights_path(b->w, key), key, (long long)in);
    return LOOM_OK;
}

static loom_status mid(const binder *b, const char *side, int64_t c, loom_vae_mid *m)
{
    char name[160];
    LOOM_TRY(sub(name, "%s.mid.block_1", side));
    LOOM_TRY(resblock(b, name, c, c, &m->block_1));
    static const char *const leaf[] = {"norm", "q", "k", "v", "proj_out"};
    loom_vae_wb *dst[] = {&m->attn_1.norm, &m->attn_1.q, &m->attn_1.k, &m->attn_1.v, &m->attn_1.proj_out};
    for (int i = 0; i < 5; i++) {
        LOOM_TRY(sub(name, "%s.mid.attn_1.%s", side, leaf[i]));
        LOOM_TRY(i == 0 ? norm(b, name, c, dst[i]) : proj(b, name, c, dst[i]));
    }
    LOOM_TRY(sub(name, "%s.mid.block_2", side));
    return resblock(b, name, c, c, &m->block_2);
}

static loom_status encoder(const binder *b, loom_vae *m)
{
    const loom_vae_config *c = b->cfg;
    loom_vae_coder *e = &m->encoder;
    const int L = c->levels;
    char name[160];
    LOOM_TRY(conv(b, "encoder.conv_in", c->ch[0], c->in_channels, 3, &e->conv_in));
    for (int i = 0; i < L; i++) {
        loom_vae_level *lv = &e->level[i];
        lv->n_blocks = c->num_res_blocks;
        for (int j = 0; j < lv->n_blocks; j++) {
            LOOM_TRY(sub(name, "encoder.down.%d.block.%d", i, j));
            LOOM_TRY(resblock(b, name, j == 0 && i > 0 ? c->ch[i - 1] : c->ch[i], c->ch[i], &lv->block[j]));
        }
        if (i < L - 1) {
            LOOM_TRY(sub(name, "encoder.down.%d.downsample.conv", i));
            LOOM_TRY(conv(b, name, c->ch[i], c->ch[i], 3, &lv->conv));
        }
    }
    LOOM_TRY(mid(b, "encoder", c->ch[L - 1], &e->mid));
    LOOM_TRY(norm(b, "encoder.norm_out", c->ch[L - 1], &e->norm_out));
    LOOM_TRY(conv(b, "encoder.conv_out", 2 * c->z_channels, c->ch[L - 1], 3, &e->conv_out));
    return conv(b, "quant_conv", 2 * c->embed_dim, 2 * c->z_channels, 1, &m->quant_conv);
}

static loom_status decoder(const binder *b, loom_vae *m)
{
    const loom_vae_config *c = b->cfg;
    loom_vae_coder *d = &m->decoder;
    const int L = c->levels;
    char name[160];
    LOOM_TRY(conv(b, "post_quant_conv", c->z_channels, c->embed_dim, 1, &m->post_quant_conv));
    LOOM_TRY(conv(b, "decoder.conv_in", c->ch[L - 1], c->z_channels, 3, &d->conv_in));
    LOOM_TRY(mid(b, "decoder", c->ch[L - 1], &d->mid));
    for (int i = L - 1; i >= 0; i--) {
        loom_vae_level *lv = &d->level[i];
        lv->n_blocks = c->num_res_blocks + 1;
        for (int j = 0; j < lv->n_blocks; j++) {
            LOOM_TRY(sub(name, "decoder.up.%d.block.%d", i, j));
            LOOM_TRY(resblock(b, name, j == 0 && i < L - 1 ? c->ch[i + 1] : c->ch[i], c->ch[i], &lv->block[j]));
        }
        if (i > 0) {
            LOOM_TRY(sub(name, "decoder.up.%d.upsample.conv", i));
            LOOM_TRY(conv(b, name, c->ch[i], c->ch[i], 3, &lv->conv));
        }
    }
    LOOM_TRY(norm(b, "decoder.norm_out", c->ch[0], &d->norm_out));
    return conv(b, "decoder.conv_out", c->out_channels, c->ch[0], 3, &d->conv_out);
}

loom_status loom_vae_load(loom_vae *m, loom_weights *w, const char *prefix, const loom_vae_config *cfg)
{
    memset(m, 0, sizeof *m);
    LOOM_TRY(loom_vae_config_check(cfg, w->n_sources ? w->sources[0].tf->path : "(no file)"));
    m->cfg = *cfg;
    binder b = {w, prefix, &m->cfg, &m->weight_bytes};
    loom_status s = LOOM_OK;
    if (cfg->parts & LOOM_VAE_DECODER) s = decoder(&b, m);
    if (s == LOOM_OK && cfg->parts & LOOM_VAE_ENCODER) s = encoder(&b, m);
    if (s == LOOM_OK) s = loom_model_arena_create("vae decode", &m->arena_decode);
    if (s != LOOM_OK) loom_vae_free(m);
    return s;
}

/* ---- free -------------------------------------------------------------------- */

static void free_wb(loom_vae_wb *wb)
{
    loom_tensor_free(&wb->weight);
    loom_tensor_free(&wb->bias);
}

static void free_res(loom_vae_resblock *r)
{
    free_wb(&r->norm1);
    free_wb(&r->conv1);
    free_wb(&r->norm2);
    free_wb(&r->conv2);
    free_wb(&r->nin_shortcut);
}

static void free_coder(loom_vae_coder *c)
{
    free_wb(&c->conv_in);
    for (int i = 0; i < LOOM_VAE_MAX_LEVELS; i++) {
        for (int j = 0; j < LOOM_VAE_MAX_RES_BLOCKS + 1; j++) free_res(&c->level[i].block[j]);
        free_wb(&c->level[i].conv);
    }
    free_res(&c->mid.block_1);
    free_res(&c->mid.block_2);
    free_wb(&c->mid.attn_1.norm);
    free_wb(&c->mid.attn_1.q);
    free_wb(&c->mid.attn_1.k);
    free_wb(&c->mid.attn_1.v);
    free_wb(&c->mid.attn_1.proj_out);
    free_wb(&c->norm_out);
    free_wb(&c->conv_out);
}

void loom_vae_free(loom_vae *m)
{
    if (!m) return;
    free_coder(&m->encoder);
    free_coder(&m->decoder);
    free_wb(&m->quant_conv);
    free_wb(&m->post_quant_conv);
    loom_device_arena_free(m->arena_decode);
    memset(m, 0, sizeof *m);
}
