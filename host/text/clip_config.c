/* clip_config.c — the CLIP text transformer's configuration: from checkpoint
 * shapes, from a transformers config.json, and its consistency check (clip.h). */
#include "clip.h"

#include "json_file.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

loom_status loom_clip_module_prefix(const loom_weights *w, const char *prefix, char *out, size_t n)
{
    char key[256];
    static const char *const levels[] = {"text_model.", ""};
    for (int i = 0; i < 2; i++) {
        int len = snprintf(key, sizeof key, "%s%sembeddings.token_embedding.weight", prefix, levels[i]);
        if (len < 0 || (size_t)len >= sizeof key) break;
        if (loom_weights_has(w, key)) {
            len = snprintf(out, n, "%s%s", prefix, levels[i]);
            if (len < 0 || (size_t)len >= n) break;
            return LOOM_OK;
        }
    }
    return loom_fail(LOOM_E_FORMAT, "%s: missing tensor '%stext_model.embeddings.token_embedding.weight' (no CLIP text encoder)",
                     w->n_sources ? w->sources[0].tf->path : "(no file)", prefix);
}

/* The stored shape of pre + name, which must have `ndim` dims. */
static loom_status shape_of(const loom_weights *w, const char *pre, const char *name, int ndim,
                            int64_t shape[LOOM_MAX_DIMS])
{
    char key[256];
    int len = snprintf(key, sizeof key, "%s%s", pre, name);
    if (len < 0 || (size_t)len >= sizeof key) return loom_fail(LOOM_E_INVALID, "clip: key prefix too long");
    int nd;
    LOOM_TRY(loom_weights_shape(w, key, &nd, shape));
    if (nd != ndim)
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' has %d dims, expected %d", loom_weights_path(w, key), key, nd, ndim);
    return LOOM_OK;
}

loom_status loom_clip_config_infer(const loom_weights *w, const char *prefix, loom_clip_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char pre[160];
    LOOM_TRY(loom_clip_module_prefix(w, prefix, pre, sizeof pre));
    int64_t s[LOOM_MAX_DIMS];
    LOOM_TRY(shape_of(w, pre, "embeddings.token_embedding.weight", 2, s));
    cfg->vocab = s[0];
    cfg->width = s[1];
    LOOM_TRY(shape_of(w, pre, "embeddings.position_embedding.weight", 2, s));
    cfg->max_pos = s[0];
    char name[256];
    while (cfg->layers < LOOM_CLIP_MAX_LAYERS + 1) {
        snprintf(name, sizeof name, "%sencoder.layers.%d.self_attn.q_proj.weight", pre, (int)cfg->layers);
        if (!loom_weights_has(w, name)) break;
        cfg->layers++;
    }
    if (cfg->layers > 0) {
        LOOM_TRY(shape_of(w, pre, "encoder.layers.0.mlp.fc1.weight", 2, s));
        cfg->mlp = s[0];
    }
    /* not in the file (clip.h): CLIP-L's values */
    cfg->heads = cfg->width / LOOM_CLIP_HEAD_DIM;
    cfg->act = LOOM_ACT_QUICK_GELU;
    cfg->ln_eps = 1e-5f;
    return LOOM_OK; /* loom_clip_load checks it, after a caller's changes */
}

loom_status loom_clip_config_check(const loom_clip_config *c, const char *what)
{
    if (c->layers < 1 || c->layers > LOOM_CLIP_MAX_LAYERS)
        return loom_fail(LOOM_E_FORMAT, "%s: CLIP text encoder with %lld layers (1..%d supported)", what,
                         (long long)c->layers, LOOM_CLIP_MAX_LAYERS);
    if (c->width < 1 || c->width > 16384 || c->mlp < 1 || c->mlp > 65536 || c->vocab < 1 || c->vocab > (1 << 24))
        return loom_fail(LOOM_E_FORMAT, "%s: implausible CLIP size (vocab %lld, width %lld, mlp %lld)", what,
                         (long long)c->vocab, (long long)c->width, (long long)c->mlp);
    if (c->max_pos < 1 || c->max_pos > 4096)
        return loom_fail(LOOM_E_FORMAT, "%s: CLIP with %lld positions", what, (long long)c->max_pos);
    if (c->heads < 1 || c->width % c->heads != 0)
        return loom_fail(LOOM_E_FORMAT, "%s: %lld attention heads do not divide the CLIP width %lld", what,
                         (long long)c->heads, (long long)c->width);
    if (c->act <= LOOM_ACT_NONE || c->act >= LOOM_ACT_COUNT)
        return loom_fail(LOOM_E_FORMAT, "%s: CLIP activation not set", what);
    if (!(c->ln_eps > 0.0f) || !isfinite(c->ln_eps))
        return loom_fail(LOOM_E_FORMAT, "%s: layer_norm_eps %g must be finite and > 0", what, (double)c->ln_eps);
    return LOOM_OK;
}

/* ---- config.json --------------------------------------------------------- */

static loom_status json_int(const char *path, json_t *root, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return loom_fail(LOOM_E_FORMAT, "%s: \"%s\" must be an integer in %lld..%lld", path, key, (long long)lo,
                         (long long)hi);
    *out = json_integer_value(v);
    return LOOM_OK;
}

/* HF ACT2FN names loom has (transformers activations.py). */
static int act_from_hf(const char *s, loom_act *out)
{
    static const struct { const char *name; loom_act act; } t[] = {
        {"quick_gelu", LOOM_ACT_QUICK_GELU}, {"gelu", LOOM_ACT_GELU},
        {"gelu_new", LOOM_ACT_GELU_TANH},    {"gelu_pytorch_tanh", LOOM_ACT_GELU_TANH},
    };
    for (size_t i = 0; s && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0) {
            *out = t[i].act;
            return 1;
        }
    return 0;
}

static loom_status parse(const char *path, json_t *root, loom_clip_config *c)
{
    if (!json_is_object(root)) return loom_fail(LOOM_E_FORMAT, "%s: not a JSON object", path);
    /* a full CLIPConfig nests the text tower; text_encoder/ of SD holds the CLIPTextConfig itself */
    json_t *text = json_object_get(root, "text_config");
    if (json_is_object(text)) root = text;
    LOOM_TRY(json_int(path, root, "vocab_size", 1, 1 << 24, &c->vocab));
    LOOM_TRY(json_int(path, root, "hidden_size", 1, 16384, &c->width));
    LOOM_TRY(json_int(path, root, "num_hidden_layers", 1, LOOM_CLIP_MAX_LAYERS, &c->layers));
    LOOM_TRY(json_int(path, root, "num_attention_heads", 1, 16384, &c->heads));
    LOOM_TRY(json_int(path, root, "intermediate_size", 1, 65536, &c->mlp));
    LOOM_TRY(json_int(path, root, "max_position_embeddings", 1, 4096, &c->max_pos));
    json_t *act = json_object_get(root, "hidden_act");
    c->act = LOOM_ACT_QUICK_GELU; /* transformers' CLIPTextConfig default */
    if (act && !act_from_hf(json_string_value(act), &c->act))
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: hidden_act %s is not supported (quick_gelu, gelu, gelu_new)", path,
                         json_is_string(act) ? json_string_value(act) : "(not a string)");
    json_t *eps = json_object_get(root, "layer_norm_eps");
    c->ln_eps = 1e-5f;
    if (eps) {
        if (!json_is_number(eps)) return loom_fail(LOOM_E_FORMAT, "%s: \"layer_norm_eps\" must be a number", path);
        c->ln_eps = (float)json_number_value(eps);
    }
    return loom_clip_config_check(c, path);
}

loom_status loom_clip_config_from_diffusers(const char *path, loom_clip_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    json_t *root;
    LOOM_TRY(loom_json_load_object(path, &root));
    loom_status s = parse(path, root, cfg);
    json_decref(root);
    return s;
}
