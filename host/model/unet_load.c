/* unet_load.c — bind a UNet's weights by LDM key (unet.h): every tensor's
 * shape is checked against the config, so a wrong or truncated checkpoint
 * fails at load naming the file and key, never in the forward pass. */
#include "unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_arena.h"
#include "model_io.h"
#include "tensor_alloc.h"
#include "unet_kv.h"

typedef struct loader {
    loom_weights *w;
    uint64_t bytes;
} loader;

/* LOOM_UNET_PREFIX + base + "." + child + "." + leaf */
static loom_status get(loader *ld, const char *base, const char *child, const char *leaf, loom_weight_kind kind,
                       int ndim, const int64_t *shape, loom_tensor *out)
{
    char key[256];
    int n = snprintf(key, sizeof key, "%s%s.%s.%s", LOOM_UNET_PREFIX, base, child, leaf);
    if (n < 0 || (size_t)n >= sizeof key) return loom_fail(LOOM_E_INVALID, "unet: key '%s.%s' too long", base, child);
    LOOM_TRY(loom_weights_get(ld->w, key, kind, ndim, shape, out));
    ld->bytes += loom_tensor_nbytes(out);
    return LOOM_OK;
}

static loom_status norm(loader *ld, const char *base, const char *child, int64_t c, loom_unet_wb *wb)
{
    LOOM_TRY(get(ld, base, child, "weight", LOOM_W_ANY, 1, &c, &wb->weight));
    return get(ld, base, child, "bias", LOOM_W_ANY, 1, &c, &wb->bias);
}

/* The module's adapter slot (model_ad.h), from its weight key. */
static int slot_of(const loader *ld, const char *base, const char *child)
{
    char key[256];
    int n = snprintf(key, sizeof key, "%s%s.%s.weight", LOOM_UNET_PREFIX, base, child);
    return n > 0 && (size_t)n < sizeof key ? loom_model_ad_slot(ld->w->modules, key) : 0;
}

static loom_status linear(loader *ld, const char *base, const char *child, int64_t out, int64_t in, int bias,
                          loom_unet_wb *wb)
{
    const int64_t s[2] = {out, in};
    LOOM_TRY(get(ld, base, child, "weight", LOOM_W_ANY, 2, s, &wb->weight));
    wb->ad_slot = slot_of(ld, base, child);
    return bias ? get(ld, base, child, "bias", LOOM_W_ANY, 1, &out, &wb->bias) : LOOM_OK;
}

/* conv k×k, stored OIHW, held OHWI (ops.h) */
static loom_status conv(loader *ld, const char *base, const char *child, int64_t out, int64_t in, int64_t k,
                        loom_unet_wb *wb)
{
    const int64_t s[4] = {out, in, k, k};
    LOOM_TRY(get(ld, base, child, "weight", LOOM_W_CONV, 4, s, &wb->weight));
    wb->ad_slot = slot_of(ld, base, child);
    return get(ld, base, child, "bias", LOOM_W_ANY, 1, &out, &wb->bias);
}

/* proj_in / proj_out: a Linear [C, C] (SD2) or a 1×1 conv [C, C, 1, 1] (SD1);
 * the conv's OHWI [C,1,1,C] is the same row-major matrix, so both are held as [C, C]. */
static loom_status proj(loader *ld, const char *base, const char *child, int64_t c, int is_linear, loom_unet_wb *wb)
{
    if (is_linear) return linear(ld, base, child, c, c, 1, wb);
    LOOM_TRY(conv(ld, base, child, c, c, 1, wb));
    const int64_t s[2] = {c, c};
    loom_tensor m = loom_tensor_view(wb->weight.data, wb->weight.dtype, 2, s);
    m.device = wb->weight.device;
    wb->weight = m;
    return LOOM_OK;
}

static loom_status load_res(loader *ld, const char *base, int64_t in, int64_t out, int ted, loom_unet_resblock *rb)
{
    rb->in_ch = in;
    rb->out_ch = out;
    LOOM_TRY(norm(ld, base, "in_layers.0", in, &rb->in_layers_0));
    LOOM_TRY(conv(ld, base, "in_layers.2", out, in, 3, &rb->in_layers_2));
    LOOM_TRY(linear(ld, base, "emb_layers.1", out, ted, 1, &rb->emb_layers_1));
    LOOM_TRY(norm(ld, base, "out_layers.0", out, &rb->out_layers_0));
    LOOM_TRY(conv(ld, base, "out_layers.3", out, out, 3, &rb->out_layers_3));
    if (in != out) LOOM_TRY(conv(ld, base, "skip_connection", out, in, 1, &rb->skip_connection));
    return LOOM_OK;
}

static loom_status load_attention(loader *ld, const char *base, int64_t c, int64_t kv_in, loom_unet_attention *a)
{
    LOOM_TRY(linear(ld, base, "to_q", c, c, 0, &a->to_q));
    LOOM_TRY(linear(ld, base, "to_k", c, kv_in, 0, &a->to_k));
    LOOM_TRY(linear(ld, base, "to_v", c, kv_in, 0, &a->to_v));
    return linear(ld, base, "to_out.0", c, c, 1, &a->to_out_0);
}

static loom_status load_tblock(loader *ld, const char *tb, int64_t c, const loom_unet_config *cfg,
                               loom_unet_tblock *b)
{
    char base[192];
    LOOM_TRY(norm(ld, tb, "norm1", c, &b->norm1));
    snprintf(base, sizeof base, "%s.attn1", tb);
    LOOM_TRY(load_attention(ld, base, c, c, &b->attn1));
    LOOM_TRY(norm(ld, tb, "norm2", c, &b->norm2));
    snprintf(base, sizeof base, "%s.attn2", tb);
    LOOM_TRY(load_attention(ld, base, c, cfg->context_dim, &b->attn2));
    LOOM_TRY(norm(ld, tb, "norm3", c, &b->norm3));
    /* GEGLU width: LDM's FeedForward uses mult 4 (2F = 8C); read it, then check both layers */
    int nd;
    int64_t s[LOOM_MAX_DIMS];
    char key[256];
    snprintf(key, sizeof key, "%s%s.ff.net.0.proj.weight", LOOM_UNET_PREFIX, tb);
    LOOM_TRY(loom_weights_shape(ld->w, key, &nd, s));
    if (nd != 2 || s[0] < 2 || s[0] % 2 != 0 || s[0] > (INT64_C(1) << 20))
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' should be [2F, %lld] with F >= 1", loom_weights_path(ld->w, key), key,
                         (long long)c);
    LOOM_TRY(linear(ld, tb, "ff.net.0.proj", s[0], c, 1, &b->ff_net_0_proj));
    return linear(ld, tb, "ff.net.2", c, s[0] / 2, 1, &b->ff_net_2);
}

static loom_status load_transformer(loader *ld, const char *base, int64_t c, int depth, int heads,
                                    const loom_unet_config *cfg, loom_unet_transformer *tr)
{
    tr->channels = c;
    tr->heads = heads;
    tr->transformer_blocks = calloc((size_t)depth, sizeof *tr->transformer_blocks);
    if (!tr->transformer_blocks) return loom_fail(LOOM_E_NOMEM, "unet: out of memory");
    tr->depth = depth; /* set after the allocation: loom_unet_free walks `depth` blocks */
    LOOM_TRY(norm(ld, base, "norm", c, &tr->norm));
    LOOM_TRY(proj(ld, base, "proj_in", c, cfg->use_linear_in_transformer, &tr->proj_in));
    for (int d = 0; d < depth; d++) {
        char tb[160];
        snprintf(tb, sizeof tb, "%s.transformer_blocks.%d", base, d);
        LOOM_TRY(load_tblock(ld, tb, c, cfg, &tr->transformer_blocks[d]));
    }
    return proj(ld, base, "proj_out", c, cfg->use_linear_in_transformer, &tr->proj_out);
}

/* A ResBlock at "<base>.0" and, when the level has one, a SpatialTransformer at "<base>.1". */
static loom_status load_res_attn(loader *ld, const loom_unet_config *cfg, const char *base, int level, int64_t in,
                                 loom_unet_block *b)
{
    char path[128];
    b->kind = LOOM_UNET_RES;
    snprintf(path, sizeof path, "%s.0", base);
    LOOM_TRY(load_res(ld, path, in, cfg->channels[level], cfg->time_embed_dim, &b->res));
    if (cfg->depth[level] == 0) return LOOM_OK;
    b->has_attn = 1;
    snprintf(path, sizeof path, "%s.1", base);
    return load_transformer(ld, path, cfg->channels[level], cfg->depth[level], cfg->heads[level], cfg, &b->attn);
}

static loom_status load_all(loom_unet *u, loader *ld)
{
    const loom_unet_config *cfg = &u->cfg;
    const int nl = cfg->n_levels, nr = cfg->num_res_blocks, ted = cfg->time_embed_dim;
    const int64_t c0 = cfg->channels[0];
    LOOM_TRY(linear(ld, "time_embed", "0", ted, c0, 1, &u->time_embed_0));
    LOOM_TRY(linear(ld, "time_embed", "2", ted, ted, 1, &u->time_embed_2));

    u->n_input = 1 + nl * nr + (nl - 1);
    u->n_output = nl * (nr + 1);
    u->input_blocks = calloc((size_t)u->n_input, sizeof *u->input_blocks);
    u->output_blocks = calloc((size_t)u->n_output, sizeof *u->output_blocks);
    if (!u->input_blocks || !u->output_blocks) return loom_fail(LOOM_E_NOMEM, "unet: out of memory");

    /* channels after each input block: the skip each output block concatenates (LDM's input_block_chans) */
    int64_t skip_ch[1 + LOOM_UNET_MAX_LEVELS * (LOOM_UNET_MAX_RES_BLOCKS + 1)];
    char base[64];
    u->input_blocks[0].kind = LOOM_UNET_CONV_IN;
    LOOM_TRY(conv(ld, "input_blocks.0", "0", c0, cfg->in_channels, 3, &u->input_blocks[0].conv));
    skip_ch[0] = c0;
    int n = 1;
    int64_t ch = c0;
    for (int level = 0; level < nl; level++) {
        for (int r = 0; r < nr; r++, n++) {
            snprintf(base, sizeof base, "input_blocks.%d", n);
            LOOM_TRY(load_res_attn(ld, cfg, base, level, ch, &u->input_blocks[n]));
            skip_ch[n] = ch = cfg->channels[level];
        }
        if (level + 1 < nl) {
            snprintf(base, sizeof base, "input_blocks.%d.0", n);
            u->input_blocks[n].kind = LOOM_UNET_DOWN;
            LOOM_TRY(conv(ld, base, "op", ch, ch, 3, &u->input_blocks[n].conv));
            skip_ch[n++] = ch;
        }
    }

    LOOM_TRY(load_res(ld, "middle_block.0", ch, ch, ted, &u->middle_block_0));
    LOOM_TRY(load_transformer(ld, "middle_block.1", ch, cfg->mid_depth, cfg->mid_heads, cfg, &u->middle_block_1));
    LOOM_TRY(load_res(ld, "middle_block.2", ch, ch, ted, &u->middle_block_2));

    n = 0;
    for (int level = nl - 1; level >= 0; level--)
        for (int i = 0; i <= nr; i++, n++) {
            loom_unet_block *b = &u->output_blocks[n];
            snprintf(base, sizeof base, "output_blocks.%d", n);
            const int64_t skip = skip_ch[u->n_input - 1 - n];
            LOOM_TRY(load_res_attn(ld, cfg, base, level, ch + skip, b));
            ch = cfg->channels[level];
            if (level > 0 && i == nr) { /* Upsample, after the transformer when there is one */
                b->has_up = 1;
                snprintf(base, sizeof base, "output_blocks.%d.%d", n, b->has_attn ? 2 : 1);
                LOOM_TRY(conv(ld, base, "conv", ch, ch, 3, &b->conv));
            }
        }

    LOOM_TRY(norm(ld, "out", "0", ch, &u->out_0));
    return conv(ld, "out", "2", cfg->out_channels, ch, 3, &u->out_2);
}

loom_status loom_unet_load(loom_unet *u, loom_weights *w, const loom_unet_config *cfg)
{
    memset(u, 0, sizeof *u);
    LOOM_TRY(loom_unet_config_check(cfg, w->n_sources ? w->sources[0].tf->path : "unet"));
    u->cfg = *cfg;
    loader ld = {w, 0};
    loom_status s = load_all(u, &ld);
    if (s == LOOM_OK) s = loom_model_arena_create("unet", &u->arena);
    if (s == LOOM_OK) s = loom_unet_kv_create(&u->kv);
    if (s != LOOM_OK) {
        loom_unet_free(u);
        return s;
    }
    u->weight_bytes = ld.bytes;
    return LOOM_OK;
}

typedef void (*wb_fn)(void *user, loom_unet_wb *wb);

static void each_res(loom_unet_resblock *r, wb_fn fn, void *user)
{
    loom_unet_wb *v[] = {&r->in_layers_0, &r->in_layers_2, &r->emb_layers_1, &r->out_layers_0, &r->out_layers_3,
                         &r->skip_connection};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) fn(user, v[i]);
}

static void each_transformer(loom_unet_transformer *t, wb_fn fn, void *user)
{
    for (int d = 0; t->transformer_blocks && d < t->depth; d++) {
        loom_unet_tblock *b = &t->transformer_blocks[d];
        loom_unet_wb *v[] = {&b->norm1, &b->norm2, &b->norm3, &b->attn1.to_q, &b->attn1.to_k, &b->attn1.to_v,
                             &b->attn1.to_out_0, &b->attn2.to_q, &b->attn2.to_k, &b->attn2.to_v, &b->attn2.to_out_0,
                             &b->ff_net_0_proj, &b->ff_net_2};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) fn(user, v[i]);
    }
    fn(user, &t->norm), fn(user, &t->proj_in), fn(user, &t->proj_out);
}

static void each_block(loom_unet_block *b, wb_fn fn, void *user)
{
    each_res(&b->res, fn, user);
    each_transformer(&b->attn, fn, user);
    fn(user, &b->conv);
}

void loom_unet_each_wb(loom_unet *u, void (*fn)(void *user, loom_unet_wb *wb), void *user)
{
    for (int i = 0; u->input_blocks && i < u->n_input; i++) each_block(&u->input_blocks[i], fn, user);
    for (int i = 0; u->output_blocks && i < u->n_output; i++) each_block(&u->output_blocks[i], fn, user);
    each_res(&u->middle_block_0, fn, user), each_res(&u->middle_block_2, fn, user);
    each_transformer(&u->middle_block_1, fn, user);
    fn(user, &u->time_embed_0), fn(user, &u->time_embed_2), fn(user, &u->out_0), fn(user, &u->out_2);
}

static void free_wb(void *user, loom_unet_wb *wb)
{
    (void)user;
    loom_tensor_free(&wb->weight);
    loom_tensor_free(&wb->bias);
}

void loom_unet_free(loom_unet *u)
{
    if (!u) return;
    loom_unet_each_wb(u, free_wb, NULL);
    for (int i = 0; u->input_blocks && i < u->n_input; i++) free(u->input_blocks[i].attn.transformer_blocks);
    for (int i = 0; u->output_blocks && i < u->n_output; i++) free(u->output_blocks[i].attn.transformer_blocks);
    free(u->middle_block_1.transformer_blocks);
    free(u->input_blocks);
    free(u->output_blocks);
    loom_device_arena_free(u->arena);
    loom_unet_kv_free(u->kv);
    memset(u, 0, sizeof *u);
}
