/* sd1_layout.h — every tensor of an SD1.x single-file (LDM) checkpoint, by
 * name and shape, for a given architecture; and the random-weights
 * checkpoints `loom make-checkpoint` writes from it (demo and tests).
 *
 * The names are those of the original CompVis/RunwayML .ckpt/.safetensors:
 *   model.diffusion_model.*                     UNet (openaimodel.UNetModel)
 *   cond_stage_model.transformer.text_model.*   CLIP ViT-L text tower (HF CLIPTextModel, 4.x names,
 *                                               with the int64 position_ids buffer [1, max_pos])
 *   first_stage_model.*                         VAE (AutoencoderKL: encoder, decoder, quant convs)
 * The sd15 preset's list is proven against the reference implementations
 * (diffusers / transformers models renamed by scripts/ldm_convert.py):
 * tests/fixtures/layout/sd15_keys.tsv, scripts/gen_fixtures_layout.py.
 *
 * Each tensor carries how to initialise it (sd1_random.c), so the enumerator
 * is the single place that knows what a weight is. */
#ifndef LOOM_SD1_LAYOUT_H
#define LOOM_SD1_LAYOUT_H

#include "loom_base.h"
#include "tensor_file.h" /* loom_tf_meta */

#define LOOM_SD1_MAX_LEVELS 8
#define LOOM_SD1_NAME_MAX 128

typedef struct loom_sd1_config {
    /* UNet (v1-inference.yaml unet_config.params) */
    int unet_in, unet_out;                  /* 4, 4 */
    int model_channels;                     /* 320 */
    int unet_levels;                        /* len(channel_mult): 4 */
    int channel_mult[LOOM_SD1_MAX_LEVELS];  /* 1, 2, 4, 4 */
    int num_res_blocks;                     /* 2 */
    int attn[LOOM_SD1_MAX_LEVELS];          /* 1 where the level has a SpatialTransformer: 1, 1, 1, 0 */
    int transformer_depth;                  /* 1 */
    int context_dim;                        /* 768 = the CLIP width */
    /* CLIP text encoder */
    int clip_width, clip_layers, clip_mlp;  /* 768, 12, 3072 */
    int clip_vocab, clip_max_pos;           /* 49408, 77 */
    /* VAE (first_stage_config.params.ddconfig) */
    int vae_ch;                             /* 128 */
    int vae_levels;                         /* 4 */
    int vae_ch_mult[LOOM_SD1_MAX_LEVELS];   /* 1, 2, 4, 4 */
    int vae_num_res_blocks;                 /* 2 */
    int z_channels, embed_dim;              /* 4, 4 */
} loom_sd1_config;

typedef enum loom_sd1_init {
    LOOM_SD1_INIT_UNIFORM = 0, /* uniform in ±scale (PyTorch's default for Linear/Conv: 1/√fan_in) */
    LOOM_SD1_INIT_ONES,        /* norm weights */
    LOOM_SD1_INIT_ZEROS,       /* norm biases */
    LOOM_SD1_INIT_ARANGE,      /* position_ids: 0, 1, 2, … */
} loom_sd1_init;

typedef struct loom_sd1_tensor {
    char name[LOOM_SD1_NAME_MAX];
    loom_dtype dtype;                 /* f16; i64 for position_ids */
    int ndim;
    int64_t shape[LOOM_MAX_DIMS];
    loom_sd1_init init;
    float scale;
} loom_sd1_tensor;

typedef struct loom_sd1_layout {
    int n, cap;
    loom_sd1_tensor *t;               /* in module order (UNet, CLIP, VAE) */
    uint64_t bytes;                   /* all tensor data */
} loom_sd1_layout;

/* "sd15": SD1.5's dimensions. "demo": a small model of the same structure
 * that loom's loaders take without hints (channels multiples of 32 for 32
 * norm groups and 8 UNet heads, CLIP width a multiple of 64, the real CLIP
 * vocabulary so the real tokenizer works). Unknown name: LOOM_E_INVALID. */
loom_status loom_sd1_preset(const char *name, loom_sd1_config *cfg);
/* Ranges the enumerator needs (every count ≥ 1, levels ≤ LOOM_SD1_MAX_LEVELS, …). */
loom_status loom_sd1_config_check(const loom_sd1_config *cfg);

/* Enumerates the checkpoint; free with loom_sd1_layout_free (also after a failure). */
loom_status loom_sd1_layout_build(const loom_sd1_config *cfg, loom_sd1_layout *out);
void loom_sd1_layout_free(loom_sd1_layout *l);

/* Elements [first, first + count) of tensor t, row-major, in t->dtype, from
 * a counter-based generator: the values depend on (seed, name, index) only,
 * not on chunking or on the other tensors. Uniform fp16 values are made by
 * truncation, not rounding (sd1_random.c). */
void loom_sd1_fill(const loom_sd1_tensor *t, uint64_t seed, uint64_t first, uint64_t count, void *out);

/* Writes the layout as an fp16 safetensors checkpoint with random weights
 * (atomically: nothing at `path` on failure), with `meta` as __metadata__. */
loom_status loom_sd1_write_random(const char *path, const loom_sd1_layout *l, uint64_t seed, const loom_tf_meta *meta,
                                  int n_meta);

#endif
