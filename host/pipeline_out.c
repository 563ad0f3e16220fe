/* pipeline_out.c — see pipeline_out.h. */
#define _POSIX_C_SOURCE 200809L
#include "pipeline_out.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stb_image.h>

#include "infotext.h"
#include "png_write.h"
#include "safetensors_write.h"
#include "tensor_alloc.h"

#ifndef LOOM_VERSION
#define LOOM_VERSION "dev"
#endif

/* -o may hold one printf integer conversion (%d, %03d, %5d) and %% escapes;
 * anything else would hand user text to printf as a format. */
static int pattern_ok(const char *p, int *has_conv)
{
    *has_conv = 0;
    for (const char *c = p; *c; c++) {
        if (*c != '%') continue;
        if (c[1] == '%') {
            c++;
            continue;
        }
        c++;
        while (*c == '0') c++;
        while (isdigit((unsigned char)*c)) c++;
        if (*c != 'd' || *has_conv) return 0;
        *has_conv = 1;
    }
    return 1;
}

loom_status loom_gen_output_check(const loom_gen_request *req)
{
    int conv;
    if (!req->output || !req->output[0]) return loom_fail(LOOM_E_INVALID, "-o: empty output path");
    if (!pattern_ok(req->output, &conv))
        return loom_fail(LOOM_E_INVALID, "-o %s: only one %%d-style number pattern (%%d, %%03d) is allowed",
                         req->output);
    if (strlen(req->output) > 3500) return loom_fail(LOOM_E_INVALID, "-o: path too long");
    /* the folder must exist: finding out after minutes of sampling helps nobody */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", req->output);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        struct stat st;
        if (dir[0] && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
            return loom_fail(LOOM_E_IO, "%s: the output folder %s does not exist", req->output, dir);
    }
    return LOOM_OK;
}

loom_status loom_gen_output_init(loom_gen_output *o, const loom_gen_request *req, loom_sampler sampler,
                                 loom_scheduler scheduler, loom_rng_kind rng, uint64_t seed, int clip_skip,
                                 const loom_sd_model *model)
{
    memset(o, 0, sizeof *o);
    o->req = req;
    o->sampler = sampler;
    o->scheduler = scheduler;
    o->rng = rng;
    o->seed = seed;
    o->clip_skip = clip_skip;
    o->model_name = model->name;
    o->vae_name = model->vae_name[0] ? model->vae_name : NULL;
    o->tty = req->progress && isatty(2);
    return LOOM_OK;
}

/* The file name of image `index` of `total`. */
static void image_path(const loom_gen_request *req, int index, int total, char *buf, size_t n)
{
    int conv;
    pattern_ok(req->output, &conv);
    if (conv) {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
        snprintf(buf, n, req->output, index); /* validated by pattern_ok: one integer conversion */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
        return;
    }
    if (total == 1) {
        snprintf(buf, n, "%s", req->output);
        return;
    }
    /* several images and no pattern: name-<i>.ext */
    const char *slash = strrchr(req->output, '/');
    const char *dot = strrchr(req->output, '.');
    if (dot && (!slash || dot > slash))
        snprintf(buf, n, "%.*s-%d%s", (int)(dot - req->output), req->output, index, dot);
    else
        snprintf(buf, n, "%s-%d", req->output, index);
}

static loom_status write_png(loom_gen_output *o, const float *img, int64_t H, int64_t W, int index, uint64_t seed)
{
    const loom_gen_request *q = o->req;
    size_t npx = (size_t)(H * W * 3);
    uint8_t *rgb = malloc(npx);
    if (!rgb) return loom_fail(LOOM_E_NOMEM, "out of memory for an image");
    /* A1111: clamp((x + 1) / 2, 0, 1) · 255, truncated by astype(uint8) */
    for (size_t i = 0; i < npx; i++) {
        float v = (img[i] + 1.0f) / 2.0f;
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        rgb[i] = (uint8_t)(255.0f * v);
    }
    loom_infotext it;
    memset(&it, 0, sizeof it);
    it.prompt = q->item_prompts ? q->item_prompts[index % q->batch_size] : q->prompt; /* with its tags, as A1111 */
    it.negative_prompt = q->negative_prompt;
    it.steps = q->steps;
    it.sampler = loom_sampler_a1111_name(o->sampler);
    it.schedule_type = loom_scheduler_label(o->scheduler);
    it.cfg_scale = q->cfg_scale;
    it.seed = (int64_t)seed;
    it.width = (int)W;
    it.height = (int)H;
    it.model_hash = o->model_hash;
    it.model = o->model_name;
    it.vae_hash = o->vae_hash;
    it.vae = o->vae_name;
    it.denoising_strength = q->init_image ? q->strength : -1;
    it.clip_skip = o->clip_skip;
    it.rng = o->rng == LOOM_RNG_CPU ? "CPU" : NULL; /* cuda is A1111's default "GPU" noise */
    char version[64];
    snprintf(version, sizeof version, "loom %s", LOOM_VERSION);
    it.version = version;
    char *text = loom_infotext_format(&it);
    uint8_t *png = NULL;
    size_t len = 0;
    loom_status s = text ? loom_png_encode(rgb, (int)W, (int)H, "parameters", text, &png, &len) : LOOM_E_NOMEM;
    free(rgb);
    free(text);
    if (s != LOOM_OK) return s;
    char path[4096];
    image_path(q, index, q->batch_count * q->batch_size, path, sizeof path);
    s = loom_write_file_atomic(path, png, len);
    free(png);
    if (s == LOOM_OK) {
        o->images_written++;
        fprintf(stderr, "loom: wrote %s (seed %llu)\n", path, (unsigned long long)seed);
    }
    return s;
}

loom_status loom_gen_output_batch(loom_gen_output *o, const loom_sd_model *model, const loom_ops *ops, const float *x,
                                  int64_t B, int64_t c, int64_t h, int64_t w, int batch_index, uint64_t seed0)
{
    const loom_gen_request *q = o->req;
    int64_t per = c * h * w;
    if (q->dump_latent) {
        float *p = realloc(o->latents, (size_t)((o->n_latents + B) * per) * sizeof(float));
        if (!p) return loom_fail(LOOM_E_NOMEM, "out of memory keeping latents for --dump-latent");
        o->latents = p;
        memcpy(p + o->n_latents * per, x, (size_t)(B * per) * sizeof(float));
        o->n_latents += B;
    }
    /* z = x / scale_factor, NCHW → NHWC, decode one image at a time (VAE memory) */
    int64_t zs[4] = {1, h, w, c}, H = h * 8, W = w * 8;
    int64_t is[4] = {1, H, W, model->vae.cfg.out_channels};
    loom_tensor z, img;
    LOOM_TRY(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, zs, &z));
    loom_status s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, is, &img);
    for (int64_t i = 0; i < B && s == LOOM_OK; i++) {
        loom_nchw_to_nhwc(x + i * per, z.data, 1, c, h * w);
        s = loom_vae_scale_latent(&z, 1.0f / model->vae.cfg.scale_factor);
        /* z [1,h,w,4] → img [1,8h,8w,3] */
        if (s == LOOM_OK) s = loom_vae_decode(&model->vae, ops, &z, &img);
        if (s == LOOM_OK) s = write_png(o, img.data, H, W, batch_index * (int)B + (int)i, seed0 + (uint64_t)i);
    }
    loom_tensor_free(&z);
    loom_tensor_free(&img);
    return s;
}

loom_status loom_gen_output_finish(loom_gen_output *o)
{
    const loom_gen_request *q = o->req;
    if (!q->dump_latent || !o->n_latents) return LOOM_OK;
    /* [N, 4, h, w] as torch holds it (diffusers' output_type="latent"), unscaled by the VAE factor */
    int64_t shape[4] = {o->n_latents, 4, o->height / 8, o->width / 8};
    loom_tensor t = loom_tensor_view(o->latents, LOOM_F32, 4, shape);
    const char *names[1] = {"latent"};
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    loom_tf_meta meta[3] = {{"loom.sampler", loom_sampler_name(o->sampler)},
                            {"loom.scheduler", loom_scheduler_name(o->scheduler)},
                            {"loom.seed", seed}};
    return loom_safetensors_write_tensors(q->dump_latent, names, &t, 1, meta, 3);
}

void loom_gen_output_free(loom_gen_output *o)
{
    free(o->latents);
    o->latents = NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void loom_gen_progress_start(loom_gen_output *o, int total_steps)
{
    o->total_steps = total_steps;
    o->t0 = now();
}

void loom_gen_progress(void *ctx, int step, int total, const float *x, const float *denoised, int64_t n)
{
    (void)x;
    (void)denoised;
    (void)n;
    loom_gen_output *o = ctx;
    if (!o->tty) return;
    int done = step + 1;
    double el = now() - o->t0, rate = el > 0 ? done / el : 0, eta = rate > 0 ? (total - done) / rate : 0;
    char bar[31];
    int fill = total > 0 ? (int)(30.0 * done / total) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    if (rate >= 1)
        fprintf(stderr, "\r  %3d/%-3d |%s| %5.2f it/s  ETA %4.0fs ", done, total, bar, rate, eta);
    else
        fprintf(stderr, "\r  %3d/%-3d |%s| %5.2f s/it  ETA %4.0fs ", done, total, bar, rate > 0 ? 1 / rate : 0, eta);
    fflush(stderr);
}

void loom_gen_progress_end(loom_gen_output *o)
{
    if (o->tty) fprintf(stderr, "\n");
}

loom_status loom_init_latent(const loom_sd_model *model, const loom_ops *ops, const char *path, int *width, int *height,
                             float **latent)
{
    *latent = NULL;
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    if (!px) return loom_fail(LOOM_E_FORMAT, "%s: cannot read the init image: %s", path, stbi_failure_reason());
    loom_status s = LOOM_OK;
    if (*width == 0 && *height == 0) {
        *width = w;
        *height = h;
    }
    if (w != *width || h != *height)
        s = loom_fail(LOOM_E_INVALID, "%s: the init image is %dx%d but the size asked for is %dx%d (leave out -W/-H to "
                      "use the image's size)", path, w, h, *width, *height);
    else if (w % 64 || h % 64)
        s = loom_fail(LOOM_E_INVALID, "%s: the init image is %dx%d; width and height must be multiples of 64", path, w,
                      h);
    if (s != LOOM_OK) {
        stbi_image_free(px);
        return s;
    }
    int64_t is[4] = {1, h, w, 3}, lh, lw;
    loom_vae_latent_size(&model->vae.cfg, h, w, &lh, &lw);
    int64_t c = model->vae.cfg.embed_dim, ls[4] = {1, lh, lw, c};
    loom_tensor img, lat;
    if ((s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, is, &img)) != LOOM_OK) {
        stbi_image_free(px);
        return s;
    }
    /* A1111: pixels / 255 · 2 − 1 */
    for (int64_t i = 0; i < (int64_t)w * h * 3; i++) ((float *)img.data)[i] = px[i] / 255.0f * 2.0f - 1.0f;
    stbi_image_free(px);
    if (!(model->vae.cfg.parts & LOOM_VAE_ENCODER))
        s = loom_fail(LOOM_E_FORMAT, "img2img needs the VAE encoder, and this model's VAE has none");
    if (s == LOOM_OK) s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, ls, &lat);
    if (s == LOOM_OK) {
        /* img [1,H,W,3] → latent [1,h,w,4]: the mean (A1111 samples it with an unseeded draw) */
        s = loom_vae_encode(&model->vae, ops, &img, NULL, &lat);
        if (s == LOOM_OK) s = loom_vae_scale_latent(&lat, model->vae.cfg.scale_factor);
        if (s == LOOM_OK) {
            *latent = malloc((size_t)(c * lh * lw) * sizeof(float));
            if (!*latent) s = loom_fail(LOOM_E_NOMEM, "out of memory for the init latent");
            else loom_nhwc_to_nchw(lat.data, *latent, 1, c, lh * lw);
        }
        loom_tensor_free(&lat);
    }
    loom_tensor_free(&img);
    return s;
}
