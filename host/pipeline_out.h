/* pipeline_out.h — what a generation leaves behind: PNGs with A1111's
 * parameters text (numbered with the -o pattern), the optional latent dump,
 * and the progress bar. Every file is written atomically; a failed request
 * leaves no partial image. */
#ifndef LOOM_PIPELINE_OUT_H
#define LOOM_PIPELINE_OUT_H

#include "pipeline.h"
#include "rng.h"
#include "sampler.h"
#include "sd_model.h"

typedef struct loom_gen_output {
    const loom_gen_request *req;
    loom_sampler sampler;
    loom_scheduler scheduler;
    loom_rng_kind rng;
    uint64_t seed;
    int clip_skip;
    const char *model_name, *vae_name;
    const char *model_hash, *vae_hash; /* 10 hex, or NULL */
    float *latents;      /* every final latent [N, 4, h, w], for --dump-latent */
    int64_t n_latents;
    int images_written;
    int width, height;   /* of the images (img2img: the init image's) */
    /* progress */
    int tty, total_steps;
    double t0;
} loom_gen_output;

/* Checks -o (only %d-style conversions; the folder exists) before any work. */
loom_status loom_gen_output_check(const loom_gen_request *req);
loom_status loom_gen_output_init(loom_gen_output *o, const loom_gen_request *req, loom_sampler sampler,
                                 loom_scheduler scheduler, loom_rng_kind rng, uint64_t seed, int clip_skip,
                                 const loom_sd_model *model);
/* Decodes the batch's final latents x [B, c, h, w] (NCHW) and writes image
 * batch_index·B + i with seed seed0 + i. */
loom_status loom_gen_output_batch(loom_gen_output *o, const loom_sd_model *model, const loom_ops *ops, const float *x,
                                  int64_t B, int64_t c, int64_t h, int64_t w, int batch_index, uint64_t seed0);
/* Writes the latent dump when asked for. */
loom_status loom_gen_output_finish(loom_gen_output *o);
void loom_gen_output_free(loom_gen_output *o);

/* The progress bar (stderr, only on a terminal). */
void loom_gen_progress_start(loom_gen_output *o, int total_steps);
void loom_gen_progress(void *ctx, int step, int total, const float *x, const float *denoised, int64_t n);
void loom_gen_progress_end(loom_gen_output *o);

/* img2img: the image at `path` (PNG/JPEG…) encoded to a latent [4, h, w]
 * (NCHW, times the VAE scale factor; the mean of the VAE's distribution). A
 * size of 0×0 takes the image's; otherwise the image must have that size. */
loom_status loom_init_latent(const loom_sd_model *model, const loom_ops *ops, const char *path, int *width, int *height,
                             float **latent);

/* [B, C, hw] ↔ [B, hw, C] (pipeline.c) */
void loom_nchw_to_nhwc(const float *src, float *dst, int64_t b, int64_t c, int64_t hw);
void loom_nhwc_to_nchw(const float *src, float *dst, int64_t b, int64_t c, int64_t hw);

#endif
