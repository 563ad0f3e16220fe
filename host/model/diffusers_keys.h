/* diffusers_keys.h — LDM UNet keys → diffusers UNet2DConditionModel keys, as a
 * loom_key_map_fn, so the model code only knows LDM names (weights.h) and a
 * diffusers `unet/` folder loads like a single-file checkpoint:
 *
 *   loom_unet_config cfg;   loom_unet_config_from_diffusers("unet/config.json", &cfg);
 *   loom_diffusers_unet_keys keys = {cfg.num_res_blocks};
 *   loom_weights_add(&w, tf, loom_diffusers_unet_key, &keys);   // tf: unet/diffusion_pytorch_model.safetensors
 *
 * The renaming is the inverse of scripts/ldm_convert.py (adapters.md §4.3),
 * which the fixture generator proves with diffusers' own converter. */
#ifndef LOOM_DIFFUSERS_KEYS_H
#define LOOM_DIFFUSERS_KEYS_H

#include "weights.h"

typedef struct loom_diffusers_unet_keys {
    int layers_per_block; /* = loom_unet_config.num_res_blocks */
} loom_diffusers_unet_keys;

/* ctx: a loom_diffusers_unet_keys. "model.diffusion_model.input_blocks.1.0.in_layers.2.weight"
 * → "down_blocks.0.resnets.0.conv1.weight"; NULL for keys outside the UNet. */
const char *loom_diffusers_unet_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len);

#endif
