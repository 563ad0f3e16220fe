/* sd_model.h — an SD1.x model ready to run: text encoder, UNet and VAE bound
 * to their weights, from a single-file checkpoint (.safetensors / .ckpt) or a
 * diffusers folder (unet/, text_encoder/, vae/ with config.json), plus an
 * optional separate VAE file (--vae). */
#ifndef LOOM_SD_MODEL_H
#define LOOM_SD_MODEL_H

#include "clip.h"
#include "diffusers_keys.h"
#include "keymap.h"
#include "diffusers_keys_clip_vae.h"
#include "unet.h"
#include "vae.h"
#include "weights.h"

#define LOOM_SD_MODEL_MAX_FILES 4

typedef struct loom_sd_model {
    loom_tfile *files[LOOM_SD_MODEL_MAX_FILES];
    int n_files;
    loom_weights w;
    loom_diffusers_unet_keys unet_keys;
    loom_diffusers_clip_keys clip_keys;
    loom_diffusers_vae_keys vae_keys, vae_file_keys;
    loom_clip clip;
    loom_unet unet;
    loom_vae vae;
    int has_clip, has_unet, has_vae;
    loom_keymap_table adapter_map; /* the family's adapter key table fitted to this model (keymap.h) */
    char name[256]; /* checkpoint file stem (infotext "Model") */
    char vae_name[256];
} loom_sd_model;

/* Loads everything; on failure nothing stays allocated and the message names
 * the file and what is wrong ("x.safetensors: this is an SDXL checkpoint; loom
 * runs SD1.x models for now"). */
loom_status loom_sd_model_load(loom_sd_model *m, const char *path, const char *vae_path, loom_backend backend);
/* The same with the CUDA storage type (LOOM_F16 or LOOM_BF16; the CPU backend takes LOOM_F32). */
loom_status loom_sd_model_load_dtype(loom_sd_model *m, const char *path, const char *vae_path, loom_backend backend,
                                     loom_dtype dtype);
void loom_sd_model_free(loom_sd_model *m);
/* 1 when path is a folder (a diffusers model). */
int loom_path_is_dir(const char *path);

#endif
