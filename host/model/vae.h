/* vae.h — the SD VAE (LDM's AutoencoderKL: Encoder, Decoder, quant convs)
 * built from loom_ops calls.
 *
 * Decoder: post_quant_conv (1×1) → conv_in → mid (ResBlock, single-head
 * attention over H·W, ResBlock) → up levels from the deepest (num_res_blocks+1
 * ResBlocks each, then nearest ×2 + conv 3×3 except at level 0) → GroupNorm +
 * SiLU → conv_out. Encoder: conv_in → down levels (num_res_blocks ResBlocks,
 * then a stride-2 conv 3×3 with LDM's asymmetric padding — zero row/column
 * added at the bottom/right only, diffusers Downsample2D(padding=0) — except at
 * the last level) → mid → GroupNorm + SiLU → conv_out → quant_conv → moments
 * [mean | logvar]; the latent is the mean, or mean + exp(logvar/2)·noise with
 * logvar clamped to [−30, 20] (DiagonalGaussianDistribution).
 *
 * Latent scaling is the caller's job: decode/encode work on the VAE's own
 * latent space, as diffusers' vae.decode/encode do. Sampler latents are
 * divided by cfg.scale_factor before decode (0.18215 for SD1/SD2) and encoder
 * output is multiplied by it (loom_vae_scale_latent).
 *
 * Modules are named by LDM checkpoint key under a prefix (single files:
 * "first_stage_model."; a separate VAE file: "" or a key map —
 * diffusers_clip_vae.h): encoder.down.<i>.block.<j>.conv1,
 * decoder.up.<i>.upsample.conv, decoder.mid.attn_1.q, … Struct fields spell
 * the key with '_' for '.'.
 *
 * Activations are NHWC f32 (kernels/ops.h). Images are [N, H, W, 3] in the
 * model's range (about −1..1); H and W of a decode are the latent's times
 * 2^(levels−1). Forward allocates per call and frees each activation once
 * consumed; the peak is about four activations of the largest level
 * (512×512 decode: 4 × 128 MB). The encoder's bottom/right padding is a host
 * copy (CPU backend). */
#ifndef LOOM_VAE_H
#define LOOM_VAE_H

#include "ops.h"
#include "weights.h"

#define LOOM_VAE_PREFIX "first_stage_model."
#define LOOM_VAE_MAX_LEVELS 8
#define LOOM_VAE_MAX_RES_BLOCKS 8
#define LOOM_VAE_SCALE_SD1 0.18215f

enum { LOOM_VAE_DECODER = 1, LOOM_VAE_ENCODER = 2 };

typedef struct loom_vae_config {
    unsigned parts;                       /* LOOM_VAE_DECODER | LOOM_VAE_ENCODER present */
    int levels;                           /* len(ch_mult): 4 */
    int64_t ch[LOOM_VAE_MAX_LEVELS];      /* ch·ch_mult[i]: 128, 256, 512, 512 */
    int num_res_blocks;                   /* 2 (the decoder's levels have one more) */
    int64_t z_channels;                   /* 4: decoder conv_in input; encoder conv_out gives 2·z */
    int64_t embed_dim;                    /* 4: the latent's channels (quant convs) */
    int64_t in_channels, out_channels;    /* 3, 3 */
    int groups;                           /* 32: LDM's Normalize; not in the file */
    float eps;                            /* 1e-6 */
    float scale_factor;                   /* 0.18215: not in the file */
} loom_vae_config;

/* From the shapes under `prefix`, for the parts that are present (at least
 * one). Groups, eps and scale factor get SD's values (32, 1e-6, 0.18215); a
 * caller that knows better (a tiny test model) changes them before
 * loom_vae_load, which checks the result. */
loom_status loom_vae_config_infer(const loom_weights *w, const char *prefix, loom_vae_config *cfg);
/* From a diffusers AutoencoderKL config.json (vae/config.json); `parts` is
 * set to both. Architecture options loom does not implement are refused. */
loom_status loom_vae_config_from_diffusers(const char *path, loom_vae_config *cfg);
/* Ranges and divisibility (every channel count by groups). */
loom_status loom_vae_config_check(const loom_vae_config *cfg, const char *what);

/* ---- modules, by checkpoint key ---------------------------------------- */

typedef struct loom_vae_wb {
    loom_tensor weight, bias; /* conv OHWI; attention q/k/v/proj_out as [C, C]; norms [C] */
} loom_vae_wb;

typedef struct loom_vae_resblock {
    int64_t in_ch, out_ch;
    loom_vae_wb norm1, conv1, norm2, conv2;
    loom_vae_wb nin_shortcut; /* 1×1 conv; weight.data NULL when in == out */
} loom_vae_resblock;

typedef struct loom_vae_attn { /* mid.attn_1: single head over H·W */
    loom_vae_wb norm, q, k, v, proj_out;
} loom_vae_attn;

typedef struct loom_vae_mid {
    loom_vae_resblock block_1, block_2;
    loom_vae_attn attn_1;
} loom_vae_mid;

typedef struct loom_vae_level { /* encoder.down.<i> / decoder.up.<i> */
    int n_blocks;
    loom_vae_resblock block[LOOM_VAE_MAX_RES_BLOCKS + 1];
    loom_vae_wb conv;             /* downsample.conv / upsample.conv; weight.data NULL at the end level */
} loom_vae_level;

typedef struct loom_vae_coder { /* encoder / decoder */
    loom_vae_wb conv_in;
    loom_vae_level level[LOOM_VAE_MAX_LEVELS];
    loom_vae_mid mid;
    loom_vae_wb norm_out, conv_out;
} loom_vae_coder;

typedef struct loom_vae {
    loom_vae_config cfg;
    loom_vae_coder encoder, decoder;
    loom_vae_wb quant_conv, post_quant_conv;
    uint64_t weight_bytes;
    struct loom_device_arena *arena_decode; /* activations of a decode on a device (device_arena.h) */
} loom_vae;

/* Binds the weights of the parts in cfg->parts under `prefix` (checked against
 * cfg). On failure nothing stays allocated. */
loom_status loom_vae_load(loom_vae *m, loom_weights *w, const char *prefix, const loom_vae_config *cfg);
void loom_vae_free(loom_vae *m);

/* z [N, h, w, embed_dim] (unscaled) → img [N, h·2^(L−1), w·2^(L−1), out_channels], caller-allocated. */
loom_status loom_vae_decode(const loom_vae *m, const loom_ops *ops, const loom_tensor *z, loom_tensor *img);
/* img [N, H, W, in_channels] → latent [N, h, w, embed_dim] (unscaled; h from
 * H by L−1 halvings h' = ⌊(h−1)/2⌋+1, see loom_vae_latent_size): the mean, or
 * mean + std·noise when noise (same shape as latent) is given. */
loom_status loom_vae_encode(const loom_vae *m, const loom_ops *ops, const loom_tensor *img, const loom_tensor *noise,
                            loom_tensor *latent);
/* The encoder's output size for an H×W image. */
void loom_vae_latent_size(const loom_vae_config *cfg, int64_t h, int64_t w, int64_t *lh, int64_t *lw);
/* x *= factor in place (host f32): 1/scale_factor before decode, scale_factor after encode. */
loom_status loom_vae_scale_latent(loom_tensor *x, float factor);

#endif
