/* clip.h — the CLIP text transformer (SD1.x's ViT-L/14 text tower, HF
 * CLIPTextModel) built from loom_ops calls.
 *
 * What the 77 token ids become (addons.md §4.8): token embedding + absolute
 * position embedding, `layers` pre-LN transformer blocks with causal self-
 * attention and a quick_gelu MLP, then final_layer_norm. CLIP skip N takes
 * hidden_states[−N] of HF's list (embeddings output + each layer's output)
 * and applies final_layer_norm to it, as A1111 does; N = 1 is
 * last_hidden_state.
 *
 * Modules are named by checkpoint key under a prefix (SD1:
 * "cond_stage_model.transformer."): text_model.embeddings.token_embedding,
 * text_model.encoder.layers.<i>.self_attn.q_proj, …; struct fields spell the
 * key after "text_model." with '_' for '.'. Some SD1 checkpoints lack the
 * "text_model." level (A1111 renames them, sd_models.py
 * checkpoint_dict_replacements_sd1): the loader accepts both. A diffusers
 * text_encoder/ needs only a key map (diffusers_clip_vae.h).
 *
 * The configuration comes from shapes (loom_clip_config_infer) or a
 * transformers config.json (loom_clip_config_from_diffusers). Shapes cannot
 * tell the head count, the activation or the LayerNorm eps: a single file gets
 * CLIP-L's (64 channels per head — true of every SD text encoder —,
 * quick_gelu, 1e-5). SD2's OpenCLIP differs in key names and activation
 * (gelu) only: a later naming table.
 *
 * Activations are [B, S, width] f32 on the CPU backend; forward allocates its
 * scratch per call (B=2: about 5 MB for CLIP-L). The token-embedding gather
 * runs on the host. */
#ifndef LOOM_CLIP_H
#define LOOM_CLIP_H

#include "model_ad.h"
#include "ops.h"
#include "weights.h"

#define LOOM_CLIP_PREFIX_SD1 "cond_stage_model.transformer."
#define LOOM_CLIP_TOKENS 77        /* one chunk: BOS + 75 + EOS (addons.md §4.7) */
#define LOOM_CLIP_MAX_LAYERS 64
#define LOOM_CLIP_HEAD_DIM 64      /* channels per head of CLIP-L, OpenCLIP-H and -bigG */

typedef struct loom_clip_config {
    int64_t vocab;     /* token_embedding rows (CLIP-L: 49408) */
    int64_t width;     /* 768 */
    int64_t layers;    /* 12 */
    int64_t heads;     /* 12; not stored in a single file: width / LOOM_CLIP_HEAD_DIM */
    int64_t mlp;       /* fc1 outputs: 3072 */
    int64_t max_pos;   /* position_embedding rows: 77 */
    loom_act act;      /* quick_gelu (CLIP-L); not stored in a single file */
    float ln_eps;      /* 1e-5 */
} loom_clip_config;

/* From the shapes under `prefix` (with or without the "text_model." level);
 * heads, act and eps get CLIP-L's rule and values. loom_clip_load checks the
 * result, so a caller that knows better (a tiny test model) may change them. */
loom_status loom_clip_config_infer(const loom_weights *w, const char *prefix, loom_clip_config *cfg);
/* From a transformers CLIPTextConfig config.json (text_encoder/config.json);
 * fields are checked, an unsupported activation is refused naming the file. */
loom_status loom_clip_config_from_diffusers(const char *path, loom_clip_config *cfg);
/* Ranges and divisibility; `what` names the source in messages. */
loom_status loom_clip_config_check(const loom_clip_config *cfg, const char *what);
/* The module's key prefix: prefix + "text_model." when the file has that level,
 * else prefix alone. Fails naming the expected token_embedding key. */
loom_status loom_clip_module_prefix(const loom_weights *w, const char *prefix, char *out, size_t n);

/* ---- modules, by checkpoint key ---------------------------------------- */

typedef struct loom_clip_wb {
    loom_tensor weight, bias; /* Linear: [out, in], [out]; LayerNorm: [C], [C] */
    int ad_slot;              /* adapter key-table row + 1, 0: none (model_ad.h) */
} loom_clip_wb;

typedef struct loom_clip_layer { /* text_model.encoder.layers.<i> */
    loom_clip_wb layer_norm1;
    loom_clip_wb self_attn_q_proj, self_attn_k_proj, self_attn_v_proj, self_attn_out_proj;
    loom_clip_wb layer_norm2;
    loom_clip_wb mlp_fc1, mlp_fc2;
} loom_clip_layer;

typedef struct loom_clip {
    loom_clip_config cfg;
    char prefix[128];                       /* up to and including "text_model." when present */
    loom_tensor embeddings_token_embedding;  /* [vocab, width] */
    loom_tensor embeddings_position_embedding; /* [max_pos, width] */
    loom_clip_layer *encoder_layers;        /* cfg.layers */
    loom_clip_wb final_layer_norm;
    uint64_t weight_bytes;
    struct loom_device_arena *arena;         /* activations of an encode on a device (device_arena.h) */
} loom_clip;

/* Binds every weight under `prefix` (checked against cfg). position_ids in
 * the file are ignored: positions are 0..S−1, as diffusers and ComfyUI do.
 * On failure nothing stays allocated. */
loom_status loom_clip_load(loom_clip *m, loom_weights *w, const char *prefix, const loom_clip_config *cfg);
void loom_clip_free(loom_clip *m);

/* ids [batch·S] (row-major [batch, S], each in [0, vocab)) → out [batch, S, width]
 * (caller-allocated; S = out->shape[1] ≤ max_pos), with CLIP skip
 * 1 ≤ clip_skip ≤ layers (1: last layer; 2: the penultimate layer's output). */
loom_status loom_clip_encode(const loom_clip *m, const loom_ops *ops, const int32_t *ids, int clip_skip,
                             loom_tensor *out);
/* The same with live text-encoder adapters: ad->set_of names each of the batch rows' adapter set
 * (ad->batch == batch). */
loom_status loom_clip_encode_ad(const loom_clip *m, const loom_ops *ops, const loom_model_ad *ad, const int32_t *ids,
                                int clip_skip, loom_tensor *out);

/* A1111's "Original" emphasis (addons.md §4.9, modules/sd_emphasis.py), in
 * place on z [B, S, C] (host f32) with per-token weights [B·S]: m0 = mean(z)
 * over the whole tensor, z[b,t,:] *= w[b,t], then z *= m0 / mean(z). The
 * mean couples every row of the batch, as in A1111 (B = the texts encoded
 * together for one chunk index). Fails, leaving z unchanged, on a
 * non-finite weight or when the weighted mean is 0 (A1111 would produce NaN). */
loom_status loom_clip_apply_emphasis(loom_tensor *z, const float *weights);

#endif
