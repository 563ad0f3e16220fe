/* diffusers_keys_clip_vae.h — LDM text-encoder and VAE keys → the names of
 * diffusers-format files, as loom_key_map_fns, so clip.c and vae.c only know
 * LDM names (weights.h) and a diffusers folder loads like a single file:
 *
 *   loom_clip_config cc;  loom_clip_config_from_diffusers("text_encoder/config.json", &cc);
 *   loom_diffusers_clip_keys ck;  loom_diffusers_clip_keys_init(&ck, te_tf, LOOM_CLIP_PREFIX_SD1);
 *   loom_weights_add(&w, te_tf, loom_diffusers_clip_key, &ck);   // te_tf: text_encoder/model.safetensors
 *   loom_clip_load(&clip, &w, LOOM_CLIP_PREFIX_SD1, &cc);
 *
 *   loom_vae_config vc;  loom_vae_config_from_diffusers("vae/config.json", &vc);
 *   loom_diffusers_vae_keys vk;
 *   loom_vae_add_file(&w, vae_tf, LOOM_VAE_PREFIX, &vk, NULL);   // vae/diffusion_pytorch_model.safetensors
 *   loom_vae_load(&vae, &w, LOOM_VAE_PREFIX, &vc);
 *
 * Text encoder: HF CLIPTextModel keys are the LDM ones after the prefix
 * ("text_model.encoder.layers.0.mlp.fc1.weight"); transformers 5 saves them
 * without "text_model." — both are read. VAE: the inverse of
 * scripts/ldm_convert.py vae_to_ldm (proven by diffusers' single-file converter
 * in the fixture generators), plus the attention names of files written by
 * diffusers < 0.14 (query/key/value/proj_attn, which diffusers still converts
 * on load). */
#ifndef LOOM_DIFFUSERS_KEYS_CLIP_VAE_H
#define LOOM_DIFFUSERS_KEYS_CLIP_VAE_H

#include "weights.h"

typedef struct loom_diffusers_clip_keys {
    const char *prefix;   /* the LDM prefix the model binds under, e.g. LOOM_CLIP_PREFIX_SD1 (not copied) */
    int text_model_level; /* the file's keys start with "text_model." */
} loom_diffusers_clip_keys;

void loom_diffusers_clip_keys_init(loom_diffusers_clip_keys *k, const loom_tfile *tf, const char *prefix);
/* ctx: a loom_diffusers_clip_keys. "cond_stage_model.transformer.text_model.final_layer_norm.weight"
 * → "text_model.final_layer_norm.weight" or "final_layer_norm.weight"; NULL outside the prefix. */
const char *loom_diffusers_clip_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len);

typedef struct loom_diffusers_vae_keys {
    const char *prefix;   /* "first_stage_model." (not copied) */
    int levels;           /* len(block_out_channels): diffusers numbers the decoder's levels from the deepest */
    int old_attention;    /* query/key/value/proj_attn instead of to_q/to_k/to_v/to_out.0 */
} loom_diffusers_vae_keys;

/* Levels and attention naming from the file's keys; fails naming the file when it holds no diffusers VAE. */
loom_status loom_diffusers_vae_keys_init(loom_diffusers_vae_keys *k, const loom_tfile *tf, const char *prefix);
/* ctx: a loom_diffusers_vae_keys. "first_stage_model.decoder.up.3.block.0.nin_shortcut.weight"
 * → "decoder.up_blocks.0.resnets.0.conv_shortcut.weight" (4 levels); NULL outside the VAE. */
const char *loom_diffusers_vae_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len);

/* Adds a VAE-only file (--vae, or a diffusers vae/ weights file) to w under
 * `prefix`, whatever its naming: LDM keys with the prefix (as in a
 * checkpoint), LDM keys without it (vae-ft-mse-840000-ema-pruned), or
 * diffusers keys (through `keys`, which must outlive w). `layout` (may be
 * NULL) receives "ldm" or "diffusers". Fails naming the file when it is not a VAE. */
loom_status loom_vae_add_file(loom_weights *w, const loom_tfile *tf, const char *prefix, loom_diffusers_vae_keys *keys,
                              const char **layout);

#endif
