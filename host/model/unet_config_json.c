/* unet_config_json.c — loom_unet_config from a diffusers UNet2DConditionModel
 * config.json (unet.h).
 *
 * Absent fields take diffusers' constructor defaults (the SD1.5 values except
 * cross_attention_dim, 1280). diffusers' naming quirk, kept: attention_head_dim
 * is the number of HEADS per level (`num_attention_heads = num_attention_heads
 * or attention_head_dim`), one int or one per down block; the middle block
 * uses the last. Options that change the graph into something loom does not
 * build (SDXL's add-on embeddings, other block types, scale-shift norms…) are
 * refused naming the file and field, never ignored. Ignored on purpose:
 * sample_size, dropout (inference), upcast_attention (only the precision of
 * fp16 attention scores; loom's softmax is fp32 on every backend). */
#define _POSIX_C_SOURCE 200809L
#include "unet.h"

#include "json_file.h"
#include <stdlib.h>
#include <string.h>


typedef struct jctx {
    const char *path;
    json_t *root;
} jctx;

static loom_status field_error(const jctx *j, const char *key, const char *problem)
{
    json_t *v = json_object_get(j->root, key);
    char *dump = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    char buf[80];
    loom_status s = loom_fail(LOOM_E_UNSUPPORTED, "%s: '%s' = %s: %s", j->path, key,
                              dump ? loom_printable(dump, buf, sizeof buf) : "(absent)", problem);
    free(dump);
    return s;
}

/* An integer in [lo, hi]; `def` when absent. */
static loom_status get_int(const jctx *j, const char *key, int def, int lo, int hi, int *out)
{
    json_t *v = json_object_get(j->root, key);
    if (!v) {
        *out = def;
        return LOOM_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return field_error(j, key, "expected an integer in range");
    *out = (int)json_integer_value(v);
    return LOOM_OK;
}

static loom_status get_num(const jctx *j, const char *key, double def, double *out)
{
    json_t *v = json_object_get(j->root, key);
    *out = def;
    if (!v) return LOOM_OK;
    if (!json_is_number(v)) return field_error(j, key, "expected a number");
    *out = json_number_value(v);
    return LOOM_OK;
}

static loom_status get_bool(const jctx *j, const char *key, int def, int *out)
{
    json_t *v = json_object_get(j->root, key);
    *out = def;
    if (!v) return LOOM_OK;
    if (!json_is_boolean(v)) return field_error(j, key, "expected true or false");
    *out = json_is_true(v);
    return LOOM_OK;
}

/* One int for every level, or a list of n of them, each in [lo, hi]. */
static loom_status get_per_level(const jctx *j, const char *key, int def, int n, int lo, int hi, int *out)
{
    json_t *v = json_object_get(j->root, key);
    if (!v || json_is_integer(v)) {
        int x = 0;
        LOOM_TRY(get_int(j, key, def, lo, hi, &x));
        for (int i = 0; i < n; i++) out[i] = x;
        return LOOM_OK;
    }
    if (!json_is_array(v) || (int)json_array_size(v) != n)
        return field_error(j, key, "expected an integer or one per down block");
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi)
            return field_error(j, key, "expected integers in range");
        out[i] = (int)json_integer_value(e);
    }
    return LOOM_OK;
}

/* Fields whose every other value changes the graph: absent, or exactly this
 * (FIX_FALSE also takes null, which diffusers treats as false). */
typedef enum { FIX_NULL, FIX_FALSE, FIX_STR, FIX_NUM } fix_kind;
typedef struct fixed_field {
    const char *key;
    fix_kind kind;
    const char *str;
    double num;
} fixed_field;

static const fixed_field FIXED[] = {
    {"time_embedding_type", FIX_STR, "positional", 0},
    {"act_fn", FIX_STR, "silu", 0},
    {"resnet_time_scale_shift", FIX_STR, "default", 0},
    {"attention_type", FIX_STR, "default", 0},
    {"mid_block_type", FIX_STR, "UNetMidBlock2DCrossAttn", 0},
    {"center_input_sample", FIX_FALSE, NULL, 0},
    {"dual_cross_attention", FIX_FALSE, NULL, 0},
    {"resnet_skip_time_act", FIX_FALSE, NULL, 0},
    {"class_embeddings_concat", FIX_FALSE, NULL, 0},
    {"only_cross_attention", FIX_FALSE, NULL, 0},
    {"mid_block_only_cross_attention", FIX_FALSE, NULL, 0},
    {"class_embed_type", FIX_NULL, NULL, 0},
    {"num_class_embeds", FIX_NULL, NULL, 0},
    {"addition_embed_type", FIX_NULL, NULL, 0},
    {"encoder_hid_dim", FIX_NULL, NULL, 0},
    {"encoder_hid_dim_type", FIX_NULL, NULL, 0},
    {"time_cond_proj_dim", FIX_NULL, NULL, 0},
    {"timestep_post_act", FIX_NULL, NULL, 0},
    {"time_embedding_act_fn", FIX_NULL, NULL, 0},
    {"cross_attention_norm", FIX_NULL, NULL, 0},
    {"num_attention_heads", FIX_NULL, NULL, 0}, /* diffusers itself refuses it for this class */
    {"reverse_transformer_layers_per_block", FIX_NULL, NULL, 0},
    {"conv_in_kernel", FIX_NUM, NULL, 3},
    {"conv_out_kernel", FIX_NUM, NULL, 3},
    {"downsample_padding", FIX_NUM, NULL, 1},
    {"mid_block_scale_factor", FIX_NUM, NULL, 1},
    {"resnet_out_scale_factor", FIX_NUM, NULL, 1},
};

static loom_status check_fixed(const jctx *j)
{
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++) {
        const fixed_field *f = &FIXED[i];
        json_t *v = json_object_get(j->root, f->key);
        if (!v) continue;
        int ok = 0;
        switch (f->kind) {
        case FIX_NULL: ok = json_is_null(v); break;
        case FIX_FALSE: ok = json_is_false(v) || json_is_null(v); break;
        case FIX_STR: ok = json_is_string(v) && strcmp(json_string_value(v), f->str) == 0; break;
        case FIX_NUM: ok = json_is_number(v) && json_number_value(v) == f->num; break;
        }
        if (!ok) return field_error(j, f->key, "this UNet variant is not supported");
    }
    return LOOM_OK;
}

/* down_block_types / up_block_types → which levels have transformers. */
static loom_status block_types(const jctx *j, int n, int attn[LOOM_UNET_MAX_LEVELS])
{
    json_t *down = json_object_get(j->root, "down_block_types"), *up = json_object_get(j->root, "up_block_types");
    if (!down && !up && n == 4) { /* diffusers' default: SD1.5's */
        for (int l = 0; l < 4; l++) attn[l] = l < 3;
        return LOOM_OK;
    }
    if (!json_is_array(down) || (int)json_array_size(down) != n)
        return field_error(j, "down_block_types", "expected one per block_out_channels entry");
    if (!json_is_array(up) || (int)json_array_size(up) != n)
        return field_error(j, "up_block_types", "expected one per block_out_channels entry");
    for (int l = 0; l < n; l++) {
        const char *d = json_string_value(json_array_get(down, (size_t)l));
        const char *u = json_string_value(json_array_get(up, (size_t)(n - 1 - l)));
        if (!d || (strcmp(d, "CrossAttnDownBlock2D") != 0 && strcmp(d, "DownBlock2D") != 0))
            return field_error(j, "down_block_types", "only CrossAttnDownBlock2D and DownBlock2D are supported");
        attn[l] = d[0] == 'C';
        if (!u || strcmp(u, attn[l] ? "CrossAttnUpBlock2D" : "UpBlock2D") != 0)
            return field_error(j, "up_block_types", "expected the mirror of down_block_types");
    }
    return LOOM_OK;
}

static loom_status parse(const jctx *j, loom_unet_config *c)
{
    json_t *cls = json_object_get(j->root, "_class_name");
    if (cls && (!json_is_string(cls) || strcmp(json_string_value(cls), "UNet2DConditionModel") != 0))
        return field_error(j, "_class_name", "expected UNet2DConditionModel");
    LOOM_TRY(check_fixed(j));
    LOOM_TRY(get_int(j, "in_channels", 4, 1, 4096, &c->in_channels));
    LOOM_TRY(get_int(j, "out_channels", 4, 1, 4096, &c->out_channels));
    json_t *boc = json_object_get(j->root, "block_out_channels");
    if (!boc) {
        static const int sd[4] = {320, 640, 1280, 1280};
        c->n_levels = 4;
        memcpy(c->channels, sd, sizeof sd);
    } else {
        if (!json_is_array(boc) || json_array_size(boc) < 1 || json_array_size(boc) > LOOM_UNET_MAX_LEVELS)
            return field_error(j, "block_out_channels", "expected 1 to 8 integers");
        c->n_levels = (int)json_array_size(boc);
        for (int l = 0; l < c->n_levels; l++) {
            json_t *e = json_array_get(boc, (size_t)l);
            if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 65536)
                return field_error(j, "block_out_channels", "expected integers in range");
            c->channels[l] = (int)json_integer_value(e);
        }
    }
    const int n = c->n_levels;
    int attn[LOOM_UNET_MAX_LEVELS], lpb[LOOM_UNET_MAX_LEVELS], depth[LOOM_UNET_MAX_LEVELS];
    LOOM_TRY(block_types(j, n, attn));
    LOOM_TRY(get_per_level(j, "layers_per_block", 2, n, 1, LOOM_UNET_MAX_RES_BLOCKS, lpb));
    for (int l = 1; l < n; l++)
        if (lpb[l] != lpb[0]) return field_error(j, "layers_per_block", "per-block counts must be equal");
    c->num_res_blocks = lpb[0];
    LOOM_TRY(get_per_level(j, "transformer_layers_per_block", 1, n, 1, LOOM_UNET_MAX_DEPTH, depth));
    LOOM_TRY(get_per_level(j, "attention_head_dim", 8, n, 1, 65536, c->heads));
    for (int l = 0; l < n; l++) c->depth[l] = attn[l] ? depth[l] : 0;
    c->mid_depth = depth[n - 1];
    c->mid_heads = c->heads[n - 1];
    json_t *cad = json_object_get(j->root, "cross_attention_dim");
    if (cad && !json_is_integer(cad)) return field_error(j, "cross_attention_dim", "expected one integer");
    LOOM_TRY(get_int(j, "cross_attention_dim", 1280, 1, 65536, &c->context_dim));
    LOOM_TRY(get_bool(j, "use_linear_projection", 0, &c->use_linear_in_transformer));
    json_t *ted = json_object_get(j->root, "time_embedding_dim");
    if (ted && !json_is_null(ted)) LOOM_TRY(get_int(j, "time_embedding_dim", 0, 1, 65536, &c->time_embed_dim));
    else c->time_embed_dim = 4 * c->channels[0];
    LOOM_TRY(get_int(j, "norm_num_groups", 32, 1, 65536, &c->norm_groups));
    double eps, shift;
    LOOM_TRY(get_num(j, "norm_eps", 1e-5, &eps));
    c->norm_eps = (float)eps;
    c->transformer_norm_eps = 1e-6f; /* Transformer2DModel's GroupNorm, fixed in diffusers as in LDM */
    c->layer_norm_eps = 1e-5f;
    LOOM_TRY(get_bool(j, "flip_sin_to_cos", 1, &c->flip_sin_to_cos));
    LOOM_TRY(get_num(j, "freq_shift", 0, &shift));
    c->freq_shift = (float)shift;
    return loom_unet_config_check(c, j->path);
}

loom_status loom_unet_config_from_diffusers(const char *path, loom_unet_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    json_t *root;
    LOOM_TRY(loom_json_load_object(path, &root));
    loom_status s = parse(&(jctx){path, root}, cfg);
    json_decref(root);
    return s;
}
