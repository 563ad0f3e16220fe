/* unet.h — the SD1.x/SD2.x UNet (LDM's openaimodel.UNetModel, eps or v
 * prediction alike: the graph is the same) built from loom_ops calls.
 *
 * Modules are named by their LDM checkpoint key (style.md: "Name modules by
 * checkpoint key"): input_blocks.N.M…, middle_block.M…, output_blocks.N.M…,
 * time_embed.{0,2}, out.{0,2}; struct fields spell the key with '_' for '.'
 * (in_layers_2 is "in_layers.2"). Weights are bound by loom_weights at load,
 * so a diffusers folder only needs a key map (diffusers_keys.h).
 *
 * The configuration comes from the checkpoint's shapes (LDM single files,
 * loom_unet_config_infer) or a diffusers config.json
 * (loom_unet_config_from_diffusers); loading checks every tensor's shape
 * against it. SD2's Linear proj_in/proj_out and head_dim 64 are config bits,
 * so an SD2.x UNet is a data change. SDXL (label_emb) is not handled yet.
 *
 * Activations are NHWC ([B,H,W,C] == [B,HW,C] for the transformers), f32 on
 * the CPU backend. Forward allocates its activations per call with
 * tensor_alloc and frees each as soon as it is consumed. Peak for SD1.5 at a
 * 64×64 latent (512×512 px), batch 2: the 12 skip maps of the input blocks
 * (≈ 53 MB) plus the largest block's working set, a level-0
 * SpatialTransformer (its x, normed and hidden tokens, q/k/v: 6 × 10.5 MB,
 * then the GEGLU input [2,4096,2560] 84 MB and output 42 MB): ≈ 0.2 GB
 * (measured: peak RSS 0.25 GB above the 8×8 run), on top of the f32 weights
 * (3.44 GB). On a device the activations come from the UNet's planned arena
 * (device_arena.h: recorded on the first step, the same addresses every step
 * after, sized by the peak of live tensors — `loom bench` prints it), and
 * cross-attention K/V from the per-request cache (unet_kv.h). */
#ifndef LOOM_UNET_H
#define LOOM_UNET_H

#include "model_ad.h"
#include "ops.h"
#include "weights.h"

#define LOOM_UNET_MAX_LEVELS 8
#define LOOM_UNET_MAX_RES_BLOCKS 8
#define LOOM_UNET_MAX_DEPTH 16 /* transformer blocks per SpatialTransformer (SDXL: 10) */
#define LOOM_UNET_PREFIX "model.diffusion_model."

typedef struct loom_unet_config {
    int in_channels, out_channels;             /* SD1: 4, 4 (inpainting: 9 in) */
    int n_levels;                              /* SD1: 4 */
    int channels[LOOM_UNET_MAX_LEVELS];        /* model_channels·channel_mult (SD1: 320, 640, 1280, 1280) */
    int num_res_blocks;                        /* ResBlocks per level on the way down (SD1: 2) */
    int depth[LOOM_UNET_MAX_LEVELS];           /* transformer blocks per SpatialTransformer; 0: none (SD1: 1,1,1,0) */
    int heads[LOOM_UNET_MAX_LEVELS];           /* attention heads per level (SD1: 8; SD2: channels/64) */
    int mid_depth, mid_heads;                  /* middle_block.1 */
    int context_dim;                           /* SD1: 768, SD2: 1024 */
    int use_linear_in_transformer;             /* SD2: proj_in/proj_out are Linear, SD1: 1×1 convs */
    int time_embed_dim;                        /* 4·channels[0] */
    int norm_groups;                           /* 32 (LDM hard-codes it; diffusers: norm_num_groups) */
    float norm_eps;                            /* ResBlock and out GroupNorm: 1e-5 */
    float transformer_norm_eps;                /* SpatialTransformer GroupNorm: 1e-6 */
    float layer_norm_eps;                      /* BasicTransformerBlock LayerNorms: 1e-5 */
    int flip_sin_to_cos;                       /* LDM's timestep_embedding: [cos | sin] */
    float freq_shift;                          /* 0 */
} loom_unet_config;

/* From LDM key shapes. What shapes cannot tell gets the SD values: 32 norm
 * groups; 8 heads (SD1), or 64 channels per head when proj_in is Linear and
 * context_dim is 1024 (SD2). A caller with better knowledge (a tiny model's
 * config) changes norm_groups / calls loom_unet_config_set_heads; the
 * result is checked by loom_unet_load (or loom_unet_config_check). */
loom_status loom_unet_config_infer(const loom_weights *w, loom_unet_config *cfg);
/* From a diffusers UNet2DConditionModel config.json; architecture options
 * loom does not implement are refused naming the file and field. */
loom_status loom_unet_config_from_diffusers(const char *path, loom_unet_config *cfg);
/* Heads for every level and the middle block: num_heads > 0 fixes the count
 * (LDM num_heads), else head_dim > 0 fixes channels per head (num_head_channels). */
loom_status loom_unet_config_set_heads(loom_unet_config *cfg, int num_heads, int head_dim);
/* Consistency (ranges, divisibility of groups and heads); `what` names the source in messages. */
loom_status loom_unet_config_check(const loom_unet_config *cfg, const char *what);

/* ---- modules, by checkpoint key ---------------------------------------- */

typedef struct loom_unet_wb {
    loom_tensor weight, bias; /* bias.data is NULL for a layer without bias */
    int ad_slot;              /* adapter key-table row + 1, 0: none (model_ad.h) */
} loom_unet_wb;

typedef struct loom_unet_resblock {   /* <block>.0 (ResBlock) */
    int64_t in_ch, out_ch;
    loom_unet_wb in_layers_0;         /* GroupNorm(in_ch), then SiLU */
    loom_unet_wb in_layers_2;         /* conv 3×3 in→out, OHWI */
    loom_unet_wb emb_layers_1;        /* SiLU(emb) → Linear(time_embed_dim → out) */
    loom_unet_wb out_layers_0;        /* GroupNorm(out), then SiLU */
    loom_unet_wb out_layers_3;        /* conv 3×3 out→out */
    loom_unet_wb skip_connection;     /* conv 1×1 in→out; weight.data NULL when in == out */
} loom_unet_resblock;

typedef struct loom_unet_attention { /* attn1 (self) / attn2 (cross) */
    loom_unet_wb to_q, to_k, to_v;    /* [C, C] / [C, context_dim], no bias */
    loom_unet_wb to_out_0;            /* [C, C] + bias */
} loom_unet_attention;

typedef struct loom_unet_tblock {     /* transformer_blocks.N (BasicTransformerBlock) */
    loom_unet_wb norm1, norm2, norm3; /* LayerNorm(C) */
    loom_unet_attention attn1, attn2;
    loom_unet_wb ff_net_0_proj;       /* Linear(C → 2F), GEGLU */
    loom_unet_wb ff_net_2;            /* Linear(F → C) */
} loom_unet_tblock;

typedef struct loom_unet_transformer { /* <block>.1 (SpatialTransformer) */
    int64_t channels;
    int heads, depth;
    loom_unet_wb norm;                /* GroupNorm(C), eps 1e-6 */
    loom_unet_wb proj_in, proj_out;   /* always [C, C]: SD1's 1×1 conv weights are the same matrix */
    loom_unet_tblock *transformer_blocks;
} loom_unet_transformer;

typedef enum loom_unet_block_kind {
    LOOM_UNET_CONV_IN = 0,            /* input_blocks.0.0: conv 3×3 in_channels → channels[0] */
    LOOM_UNET_RES,                    /* .0 ResBlock [+ .1 SpatialTransformer] [+ upsampler] */
    LOOM_UNET_DOWN,                   /* input_blocks.N.0.op: conv 3×3 stride 2 */
} loom_unet_block_kind;

typedef struct loom_unet_block {      /* one entry of input_blocks / output_blocks */
    loom_unet_block_kind kind;
    int has_attn, has_up;
    loom_unet_resblock res;           /* .0 */
    loom_unet_transformer attn;       /* .1 when has_attn */
    loom_unet_wb conv;                /* input_blocks.0.0, input_blocks.N.0.op, or the upsampler
                                         output_blocks.N.{1,2}.conv (nearest ×2, conv 3×3) */
} loom_unet_block;

typedef struct loom_unet {
    loom_unet_config cfg;
    loom_unet_wb time_embed_0, time_embed_2;
    int n_input, n_output;
    loom_unet_block *input_blocks, *output_blocks;
    loom_unet_resblock middle_block_0, middle_block_2;
    loom_unet_transformer middle_block_1;
    loom_unet_wb out_0, out_2;        /* GroupNorm + SiLU, conv 3×3 → out_channels */
    uint64_t weight_bytes;
    struct loom_device_arena *arena;  /* activations of a forward on a device (device_arena.h) */
    struct loom_unet_kv *kv;          /* cross-attention K/V once per request (unet_kv.h) */
} loom_unet;

/* Binds every weight (checked against cfg). On failure nothing stays allocated. */
loom_status loom_unet_load(loom_unet *u, loom_weights *w, const loom_unet_config *cfg);
void loom_unet_free(loom_unet *u);
/* Calls fn on every module (weight + bias) of the UNet, loaded or not. */
void loom_unet_each_wb(loom_unet *u, void (*fn)(void *user, loom_unet_wb *wb), void *user);

/* eps (or v) = UNet(x, t, context):
 *   x [B,H,W,in_channels] NHWC, H and W multiples of 2^(n_levels−1);
 *   t [B] f32 timesteps (fractional allowed); context [B,S,context_dim] (S = 77·k);
 *   out [B,H,W,out_channels], caller-allocated. */
loom_status loom_unet_forward(const loom_unet *u, const loom_ops *ops, const loom_tensor *x, const loom_tensor *t,
                              const loom_tensor *context, loom_tensor *out);
/* The same with live adapters: ad->set_of names each sample's adapter set (ad->batch == B). */
loom_status loom_unet_forward_ad(const loom_unet *u, const loom_ops *ops, const loom_model_ad *ad,
                                 const loom_tensor *x, const loom_tensor *t, const loom_tensor *context,
                                 loom_tensor *out);

#endif
