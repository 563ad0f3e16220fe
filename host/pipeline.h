/* pipeline.h — one text-to-image (or img2img) request, end to end:
 * prompt → tokens/chunks → CLIP context → initial noise → sampler steps of
 * the UNet with classifier-free guidance → VAE decode → PNG. */
#ifndef LOOM_PIPELINE_H
#define LOOM_PIPELINE_H

#include <stdint.h>

#include "backend.h"

typedef struct loom_gen_request {
    const char *model_path;       /* single-file checkpoint or diffusers folder; NULL: the demo model */
    const char *vae_path;         /* optional separate VAE */
    const char *prompt;
    const char *negative_prompt;
    int width, height;            /* pixels, multiples of 8 */
    int steps;
    double cfg_scale;
    int64_t seed;                 /* < 0: random */
    const char *sampler;          /* any accepted spelling */
    const char *scheduler;        /* NULL: the sampler's default ("normal") */
    int clip_skip;                /* <= 0: the model's default (1 for SD1.x) */
    const char *rng;              /* "cuda" (A1111 default, Philox) or "cpu" (torch CPU) */
    int comfy_noise;              /* 1: ComfyUI's one draw for the whole batch */
    int batch_count;              /* sequential images, seed + i */
    int batch_size;               /* images per UNet batch */
    const char *init_image;       /* img2img source PNG/JPEG, NULL for txt2img */
    double strength;              /* img2img denoising strength */
    int threads;                  /* CPU threads (0: all cores) */
    loom_backend backend;
    int vendor_kernels;           /* --kernels vendor: cuBLAS/cuDNN where they have the op (CUDA only) */
    int bf16;                     /* --dtype bf16: CUDA storage in bf16 instead of f16 */
    const char *output;           /* path; "%d"/"%03d" patterns number the images */
    const char *dump_latent;      /* optional .safetensors with the final latent(s) */
    int progress;                 /* 1: progress bar on stderr */
    /* live adapters (issue 4; pipeline_adapters.h) */
    const char *lora_dir;         /* --lora-model-dir: where <lora:NAME> and --lora NAME are found */
    const char *const *loras;     /* --lora specs (NAME[:w] | NAME:te:unet), applied before the prompt's tags */
    int n_loras;
    int strict_adapters;          /* adapter modules matching nothing in the model are an error */
    int skip_broken_adapters;     /* a missing or broken adapter is a warning and left out, not an error */
    /* Per batch item prompts (batch_size of them, or NULL: every item uses `prompt`): each item's
     * <lora:…> tags give that image its own adapter set; a batch mixing sets renders each image
     * as it renders alone (issue 4 item 5). */
    const char *const *item_prompts;
} loom_gen_request;

/* Runs the whole request; writes the images (atomically) and returns LOOM_OK,
 * or an error whose message names what failed. No partial outputs. */
loom_status loom_generate(const loom_gen_request *req);

#endif
