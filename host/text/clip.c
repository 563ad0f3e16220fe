/* clip.c — CLIP text transformer: weight binding, forward, emphasis (clip.h). */
#include "clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_arena.h"
#include "model_io.h"
#include "tensor_alloc.h"

/* Load pre + name with the expected shape. */
static loom_status get_kind(loom_weights *w, const char *pre, const char *name, loom_weight_kind kind, int ndim,
                            const int64_t *shape, loom_tensor *out, uint64_t *bytes)
{
    char key[256];
    int len = snprintf(key, sizeof key, "%s%s", pre, name);
    if (len < 0 || (size_t)len >= sizeof key) return loom_fail(LOOM_E_INVALID, "clip: key prefix too long");
    LOOM_TRY(loom_weights_get(w, key, kind, ndim, shape, out));
    *bytes += loom_tensor_nbytes(out);
    return LOOM_OK;
}

static loom_status get(loom_weights *w, const char *pre, const char *name, int ndim, const int64_t *shape,
                       loom_tensor *out, uint64_t *bytes)
{
    return get_kind(w, pre, name, LOOM_W_ANY, ndim, shape, out, bytes);
}

/* Linear [out, in] + bias [out], or LayerNorm [c] + [c] (in == 0). */
static loom_status get_wb(loom_weights *w, const char *pre, const char *module, int64_t out_f, int64_t in_f,
                          loom_clip_wb *wb, uint64_t *bytes)
{
    char name[160];
    const int64_t wshape[2] = {out_f, in_f};
    snprintf(name, sizeof name, "%s.weight", module);
    LOOM_TRY(get(w, pre, name, in_f ? 2 : 1, wshape, &wb->weight, bytes));
    if (in_f) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", pre, name);
        wb->ad_slot = loom_model_ad_slot(w->modules, key);
    }
    snprintf(name, sizeof name, "%s.bias", module);
    return get(w, pre, name, 1, &out_f, &wb->bias, bytes);
}

static loom_status load_layer(loom_weights *w, const char *pre, int i, const loom_clip_config *c, loom_clip_layer *l,
                              uint64_t *bytes)
{
    const int64_t d = c->width, f = c->mlp;
    char mod[96];
#define WB(field, sub, o, in)                                                   \
    snprintf(mod, sizeof mod, "encoder.layers.%d.%s", i, sub);                  \
    LOOM_TRY(get_wb(w, pre, mod, o, in, &l->field, bytes))
    WB(layer_norm1, "layer_norm1", d, 0);
    WB(self_attn_q_proj, "self_attn.q_proj", d, d);
    WB(self_attn_k_proj, "self_attn.k_proj", d, d);
    WB(self_attn_v_proj, "self_attn.v_proj", d, d);
    WB(self_attn_out_proj, "self_attn.out_proj", d, d);
    WB(layer_norm2, "layer_norm2", d, 0);
    WB(mlp_fc1, "mlp.fc1", f, d);
    WB(mlp_fc2, "mlp.fc2", d, f);
#undef WB
    return LOOM_OK;
}

static void free_wb(loom_clip_wb *wb)
{
    loom_tensor_free(&wb->weight);
    loom_tensor_free(&wb->bias);
}

void loom_clip_free(loom_clip *m)
{
    if (!m) return;
    loom_tensor_free(&m->embeddings_token_embedding);
    loom_tensor_free(&m->embeddings_position_embedding);
    for (int64_t i = 0; m->encoder_layers && i < m->cfg.layers; i++) {
        loom_clip_layer *l = &m->encoder_layers[i];
        free_wb(&l->layer_norm1);
        free_wb(&l->self_attn_q_proj);
        free_wb(&l->self_attn_k_proj);
        free_wb(&l->self_attn_v_proj);
        free_wb(&l->self_attn_out_proj);
        free_wb(&l->layer_norm2);
        free_wb(&l->mlp_fc1);
        free_wb(&l->mlp_fc2);
    }
    free(m->encoder_layers);
    free_wb(&m->final_layer_norm);
    loom_device_arena_free(m->arena);
    memset(m, 0, sizeof *m);
}

static loom_status load(loom_clip *m, loom_weights *w, const char *prefix)
{
    const loom_clip_config *c = &m->cfg;
    LOOM_TRY(loom_clip_module_prefix(w, prefix, m->prefix, sizeof m->prefix));
    const char *pre = m->prefix;
    const int64_t tok[2] = {c->vocab, c->width}, pos[2] = {c->max_pos, c->width};
    /* gathered by host code (loom_clip_encode_ad): host f32 on every backend */
    LOOM_TRY(get_kind(w, pre, "embeddings.token_embedding.weight", LOOM_W_HOST, 2, tok, &m->embeddings_token_embedding,
                      &m->weight_bytes));
    LOOM_TRY(get(w, pre, "embeddings.position_embedding.weight", 2, pos, &m->embeddings_position_embedding,
                 &m->weight_bytes));
    m->encoder_layers = calloc((size_t)c->layers, sizeof *m->encoder_layers);
    if (!m->encoder_layers) return loom_fail(LOOM_E_NOMEM, "clip: out of memory for %lld layers", (long long)c->layers);
    for (int i = 0; i < (int)c->layers; i++)
        LOOM_TRY(load_layer(w, pre, i, c, &m->encoder_layers[i], &m->weight_bytes));
    /* one layer more than the config says is a config/file mismatch, not something to ignore */
    char key[256];
    snprintf(key, sizeof key, "%sencoder.layers.%d.self_attn.q_proj.weight", pre, (int)c->layers);
    if (loom_weights_has(w, key))
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' exists but the configuration has %lld layers",
                         loom_weights_path(w, key), key, (long long)c->layers);
    return get_wb(w, pre, "final_layer_norm", c->width, 0, &m->final_layer_norm, &m->weight_bytes);
}

loom_status loom_clip_load(loom_clip *m, loom_weights *w, const char *prefix, const loom_clip_config *cfg)
{
    memset(m, 0, sizeof *m);
    LOOM_TRY(loom_clip_config_check(cfg, w->n_sources ? w->sources[0].tf->path : "(no file)"));
    m->cfg = *cfg;
    loom_status s = load(m, w, prefix);
    if (s == LOOM_OK) s = loom_model_arena_create("clip", &m->arena);
    if (s != LOOM_OK) loom_clip_free(m);
    return s;
}

/* ---- forward ------------------------------------------------------------- */

typedef struct clip_scratch {
    loom_tensor x, h, q, k, v, a, f; /* [B,S,W] ×6, [B,S,mlp] */
} clip_scratch;

static void scratch_free(clip_scratch *s)
{
    loom_tensor *t[] = {&s->x, &s->h, &s->q, &s->k, &s->v, &s->a, &s->f};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) loom_tensor_free(t[i]);
}

static loom_status scratch_alloc(const loom_ops *ops, clip_scratch *s, int64_t b, int64_t n, int64_t width,
                                 int64_t mlp)
{
    memset(s, 0, sizeof *s);
    const int64_t d[3] = {b, n, width}, f[3] = {b, n, mlp};
    loom_tensor *t[] = {&s->x, &s->h, &s->q, &s->k, &s->v, &s->a};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) LOOM_TRY(loom_model_alloc(ops, 3, d, t[i]));
    return loom_model_alloc(ops, 3, f, &s->f);
}

/* One pre-LN block, x updated in place (HF CLIPEncoderLayer):
 * x += out_proj(attn_causal(q, k, v of LN1(x))); x += fc2(act(fc1(LN2(x)))). */
/* y = wb(x) (+ residual), with the module's live adapters */
static loom_status lin(const loom_ops *ops, const loom_model_ad *ad, const loom_clip_wb *wb, const loom_tensor *x,
                       const loom_tensor *residual, loom_tensor *y)
{
    return loom_model_linear(ops, ad, wb->ad_slot, x, &wb->weight, &wb->bias, residual, y);
}

static loom_status layer(const loom_clip *m, const loom_ops *ops, const loom_model_ad *ad, const loom_clip_layer *l,
                         clip_scratch *s)
{
    const loom_clip_config *c = &m->cfg;
    LOOM_TRY(ops->layer_norm(&s->x, &l->layer_norm1.weight, &l->layer_norm1.bias, &s->h, c->ln_eps));
    LOOM_TRY(lin(ops, ad, &l->self_attn_q_proj, &s->h, NULL, &s->q)); // [B,S,W]
    LOOM_TRY(lin(ops, ad, &l->self_attn_k_proj, &s->h, NULL, &s->k));
    LOOM_TRY(lin(ops, ad, &l->self_attn_v_proj, &s->h, NULL, &s->v));
    // scale 1/√(W/heads), as HF's head_dim**-0.5
    LOOM_TRY(ops->attention_causal(&s->q, &s->k, &s->v, &s->a, (int)c->heads, 0.0f));
    LOOM_TRY(lin(ops, ad, &l->self_attn_out_proj, &s->a, &s->x, &s->x));
    LOOM_TRY(ops->layer_norm(&s->x, &l->layer_norm2.weight, &l->layer_norm2.bias, &s->h, c->ln_eps));
    LOOM_TRY(lin(ops, ad, &l->mlp_fc1, &s->h, NULL, &s->f)); // [B,S,mlp]
    LOOM_TRY(ops->unary(&s->f, &s->f, c->act));
    return lin(ops, ad, &l->mlp_fc2, &s->f, &s->x, &s->x);
}

static loom_status check_encode_args(const loom_clip *m, const loom_ops *ops, const int32_t *ids, int clip_skip,
                                     const loom_tensor *out)
{
    const loom_clip_config *c = &m->cfg;
    if (!ops->layer_norm) return loom_op_missing(ops, "layer_norm");
    if (!ops->linear) return loom_op_missing(ops, "linear");
    if (!ops->attention_causal) return loom_op_missing(ops, "attention_causal");
    if (!ops->unary) return loom_op_missing(ops, "unary");
    if (!ops->add) return loom_op_missing(ops, "add");
    char os[96];
    if (!out || out->ndim != 3 || out->dtype != LOOM_F32 || out->device != LOOM_HOST || !loom_tensor_is_contiguous(out) ||
        out->shape[2] != c->width || out->shape[1] < 1 || out->shape[1] > c->max_pos || out->shape[0] < 0)
        return loom_fail(LOOM_E_INVALID, "clip: output %s must be f32 [B, 1..%lld, %lld] on the host",
                         out ? loom_shape_str(out, os, sizeof os) : "(null)", (long long)c->max_pos,
                         (long long)c->width);
    if (clip_skip < 1 || clip_skip > c->layers)
        return loom_fail(LOOM_E_INVALID, "clip skip %d is out of range 1..%lld", clip_skip, (long long)c->layers);
    const int64_t n = out->shape[0] * out->shape[1];
    if (n > 0 && !ids) return loom_fail(LOOM_E_INVALID, "clip: token ids are missing");
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return loom_fail(LOOM_E_INVALID, "clip: token id %d at [%lld, %lld] is outside the vocabulary 0..%lld",
                             (int)ids[i], (long long)(i / out->shape[1]), (long long)(i % out->shape[1]),
                             (long long)c->vocab - 1);
    return LOOM_OK;
}

loom_status loom_clip_encode(const loom_clip *m, const loom_ops *ops, const int32_t *ids, int clip_skip,
                             loom_tensor *out)
{
    return loom_clip_encode_ad(m, ops, NULL, ids, clip_skip, out);
}

loom_status loom_clip_encode_ad(const loom_clip *m, const loom_ops *ops, const loom_model_ad *ad, const int32_t *ids,
                                int clip_skip, loom_tensor *out)
{
    LOOM_TRY(check_encode_args(m, ops, ids, clip_skip, out));
    const loom_clip_config *c = &m->cfg;
    const int64_t b = out->shape[0], n = out->shape[1], d = c->width;
    if (b == 0) return LOOM_OK;
    clip_scratch s;
    const int dev = loom_model_on_device(ops);
    loom_tensor hx = {0}, dout = {0}; /* host f32 in and out (model_io.h) */
    LOOM_TRY(loom_model_scope_begin(ops, m->arena));
    loom_status st = scratch_alloc(ops, &s, b, n, d, c->mlp);
    if (st == LOOM_OK && dev) st = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, out->shape, &hx);
    if (st == LOOM_OK) {
        /* embeddings: token rows gathered on the host, then + position rows 0..S−1 (broadcast over B) */
        const float *tok = m->embeddings_token_embedding.data;
        float *x = dev ? hx.data : s.x.data;
        for (int64_t i = 0; i < b * n; i++) memcpy(x + i * d, tok + (int64_t)ids[i] * d, (size_t)d * sizeof(float));
        if (dev) {
            loom_tensor up;
            if ((st = loom_model_upload(ops, &hx, ops->dtype, &up)) == LOOM_OK) loom_tensor_free(&s.x), s.x = up;
        }
        const int64_t pshape[2] = {n, d};
        loom_tensor pos = loom_tensor_view(m->embeddings_position_embedding.data,
                                           m->embeddings_position_embedding.dtype, 2, pshape);
        pos.device = m->embeddings_position_embedding.device;
        if (st == LOOM_OK) st = ops->add(&s.x, &pos, &s.x);
    }
    /* hidden_states[−clip_skip] is the output of layer `layers − clip_skip` (1-based; addons.md §4.8) */
    const int64_t run = c->layers - (clip_skip - 1);
    for (int64_t i = 0; st == LOOM_OK && i < run; i++) st = layer(m, ops, ad, &m->encoder_layers[i], &s);
    if (st == LOOM_OK && dev) st = loom_model_alloc(ops, 3, out->shape, &dout);
    if (st == LOOM_OK)
        st = ops->layer_norm(&s.x, &m->final_layer_norm.weight, &m->final_layer_norm.bias, dev ? &dout : out,
                             c->ln_eps);
    if (st == LOOM_OK && dev) st = loom_model_download(&dout, out);
    scratch_free(&s);
    loom_tensor_free(&hx), loom_tensor_free(&dout);
    return loom_model_scope_end(ops, m->arena, st);
}

/* ---- emphasis (addons.md §4.9) --------------------------------------------- */

loom_status loom_clip_apply_emphasis(loom_tensor *z, const float *weights)
{
    char zs[96];
    if (!z || z->ndim != 3 || z->dtype != LOOM_F32 || z->device != LOOM_HOST || !loom_tensor_is_contiguous(z))
        return loom_fail(LOOM_E_INVALID, "emphasis: z %s must be a contiguous f32 [B, S, C] host tensor",
                         z ? loom_shape_str(z, zs, sizeof zs) : "(null)");
    const int64_t rows = z->shape[0] * z->shape[1], c = z->shape[2];
    if (rows * c == 0) return LOOM_OK;
    if (!weights) return loom_fail(LOOM_E_INVALID, "emphasis: weights are missing");
    float *d = z->data;
    double m0 = 0, m1 = 0; /* sums; the common 1/numel cancels in m0/m1 */
    for (int64_t r = 0; r < rows; r++) {
        if (!isfinite(weights[r]))
            return loom_fail(LOOM_E_INVALID, "emphasis: weight %lld is not finite", (long long)r);
        double row = 0;
        for (int64_t j = 0; j < c; j++) row += d[r * c + j];
        m0 += row;
        m1 += row * weights[r];
    }
    if (m1 == 0 || !isfinite(m0 / m1))
        return loom_fail(LOOM_E_INVALID, "emphasis: the weighted mean is %g; cannot restore the mean %g", m1, m0);
    const double k = m0 / m1;
    for (int64_t r = 0; r < rows; r++) {
        const double f = (double)weights[r] * k; /* z·w, then ·m0/m1: one rounding instead of two */
        for (int64_t j = 0; j < c; j++) d[r * c + j] = (float)(d[r * c + j] * f);
    }
    return LOOM_OK;
}
