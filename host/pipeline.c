/* pipeline.c — one generation request (pipeline.h).
 *
 * The sampler's state x is kept in torch's layout [B, 4, h, w] (NCHW), the
 * layout the seed-compatible RNGs draw in, so noise and x line up element for
 * element as in A1111; the denoiser converts to the ops' NHWC around the UNet. */
#define _POSIX_C_SOURCE 200809L
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "device_arena.h"
#include "hash_cache.h"
#include "log.h"
#include "pipeline_adapters.h"
#include "pipeline_cond.h"
#include "pipeline_out.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"
#include "sd_model.h"
#include "tensor_alloc.h"
#include "unet_kv.h"

/* [B, C, hw] ↔ [B, hw, C] */
void loom_nchw_to_nhwc(const float *src, float *dst, int64_t b, int64_t c, int64_t hw)
{
    for (int64_t i = 0; i < b; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t p = 0; p < hw; p++) dst[(i * hw + p) * c + k] = src[(i * c + k) * hw + p];
}

void loom_nhwc_to_nchw(const float *src, float *dst, int64_t b, int64_t c, int64_t hw)
{
    for (int64_t i = 0; i < b; i++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t p = 0; p < hw; p++) dst[(i * c + k) * hw + p] = src[(i * hw + p) * c + k];
}

/* ---- the denoiser: CFG around the UNet (A1111 CFGDenoiser + CompVisDenoiser) ---- */

typedef struct denoiser {
    const loom_sd_model *model;
    const loom_ops *ops;
    const loom_cond *const *cond_of, *const *uncond_of; /* [B]: each image's prompt and negative */
    const int *set_of_item;  /* [B]: each image's adapter set (its uncond half uses the same) */
    const loom_adapter_plans *plans; /* NULL: no adapters */
    const loom_adapter_plans_device *dplans; /* their GPU copy (CUDA backend) */
    const loom_schedule *sched;
    int lcm;            /* A1111's LCM output scaling */
    double cfg_scale;
    int64_t b, c, h, w; /* latent batch and shape */
    int calls;          /* A1111's CFGDenoiser.step: one per model evaluation */
    float *xin, *eps;   /* NHWC scratch for 2B images */
    float *den_u;       /* NCHW scratch for B images */
    float *tbuf, *cbuf; /* timesteps [2B] and contexts [2B, S_max, C]: allocated once per batch */
    const loom_tensor **row_ctx; /* [2B]: the context of each UNet row this call */
    int *row_set;       /* [2B]: its adapter set */
} denoiser;

/* eps for `rows` images of d->xin starting at row `first`, whose contexts (d->row_ctx) have the
 * same length: rows of equal length ride in one UNet batch, as cond and uncond do in A1111. */
static loom_status unet_rows(denoiser *d, int64_t first, int64_t rows, float t)
{
    int64_t per = d->c * d->h * d->w, S = d->row_ctx[first]->shape[0], C = d->row_ctx[first]->shape[1];
    int64_t xs[4] = {rows, d->h, d->w, d->c}, ts[1] = {rows}, cs[3] = {rows, S, C};
    loom_tensor x = loom_tensor_view(d->xin + first * per, LOOM_F32, 4, xs);
    loom_tensor o = loom_tensor_view(d->eps + first * per, LOOM_F32, 4, xs);
    loom_tensor tt = loom_tensor_view(d->tbuf, LOOM_F32, 1, ts), cx = loom_tensor_view(d->cbuf, LOOM_F32, 3, cs);
    for (int64_t i = 0; i < rows; i++) {
        d->tbuf[i] = t;
        memcpy(d->cbuf + i * S * C, d->row_ctx[first + i]->data, (size_t)(S * C) * sizeof(float));
    }
    loom_model_ad ad = {&d->model->adapter_map, d->plans, (int)rows, d->row_set + first, d->dplans};
    /* x [rows,h,w,4], t [rows], context [rows,S,768] → eps [rows,h,w,4] */
    return loom_unet_forward_ad(&d->model->unet, d->ops, &ad, &x, &tt, &cx, &o);
}

static loom_status denoise_cb(void *ctx, const float *x, double sigma, float *den, int64_t n)
{
    denoiser *d = ctx;
    int64_t B = d->b, per = d->c * d->h * d->w, hw = d->h * d->w;
    if (n != B * per) return loom_fail(LOOM_E_INVALID, "denoiser: got %lld values, expected %lld", (long long)n,
                                       (long long)(B * per));
    const double c_in = 1.0 / sqrt(sigma * sigma + 1.0);
    const float t = (float)loom_schedule_sigma_to_t(d->sched, sigma);
    int use_uncond = d->cfg_scale != 1.0; /* cfg 1: uncond + (cond − uncond) = cond */

    /* rows [0, B): cond; rows [B, 2B): uncond — the same scaled x, the same adapter sets */
    loom_nchw_to_nhwc(x, d->xin, B, d->c, hw);
    for (int64_t i = 0; i < B * per; i++) d->xin[i] = (float)(d->xin[i] * c_in);
    if (use_uncond) memcpy(d->xin + B * per, d->xin, (size_t)(B * per) * sizeof(float));
    const int64_t rows = use_uncond ? 2 * B : B;
    for (int64_t i = 0; i < B; i++) {
        d->row_ctx[i] = loom_cond_at(d->cond_of[i], d->calls);
        d->row_set[i] = d->set_of_item[i];
        if (!use_uncond) continue;
        d->row_ctx[B + i] = loom_cond_at(d->uncond_of[i], d->calls);
        d->row_set[B + i] = d->set_of_item[i];
    }
    /* runs of rows with equal context length share a UNet batch (A1111 runs cond and uncond
     * apart when their chunk counts differ); every op is batch-invariant, so the grouping never
     * changes an image */
    loom_status s = LOOM_OK;
    for (int64_t a = 0, e; s == LOOM_OK && a < rows; a = e) {
        for (e = a + 1; e < rows && d->row_ctx[e]->shape[0] == d->row_ctx[a]->shape[0]; e++) {
        }
        s = unet_rows(d, a, e - a, t);
    }
    if (s != LOOM_OK) return s;

    double c_skip = 0, c_out = 1;
    if (d->lcm) loom_schedule_lcm_scalings(d->sched, sigma, &c_skip, &c_out);
    /* denoised = x − σ·eps (CompVisDenoiser), then LCM's c_skip·x + c_out·denoised */
    loom_nhwc_to_nchw(d->eps, den, B, d->c, hw);
    for (int64_t i = 0; i < B * per; i++) {
        double v = x[i] - sigma * den[i];
        den[i] = (float)(d->lcm ? c_skip * x[i] + c_out * v : v);
    }
    if (use_uncond) {
        loom_nhwc_to_nchw(d->eps + B * per, d->den_u, B, d->c, hw);
        for (int64_t i = 0; i < B * per; i++) {
            double u = x[i] - sigma * d->den_u[i];
            if (d->lcm) u = c_skip * x[i] + c_out * u;
            /* A1111 combine_denoised: uncond + (cond − uncond)·scale */
            den[i] = (float)(u + ((double)den[i] - u) * d->cfg_scale);
        }
    }
    d->calls++;
    return LOOM_OK;
}

/* ---- noise -------------------------------------------------------------- */

static loom_status noise_cb(void *ctx, float *out, int64_t n)
{
    (void)n;
    return loom_noise_next(ctx, out);
}

typedef struct seeded_ctx {
    loom_rng *rng;
} seeded_ctx;

static loom_status randn_seeded_cb(void *ctx, uint64_t seed, float *out, int64_t n)
{
    seeded_ctx *c = ctx;
    loom_rng_reseed(c->rng, seed);
    return loom_rng_randn(c->rng, out, n);
}

/* ---- the request ---------------------------------------------------------- */

typedef struct run {
    const loom_gen_request *req;
    loom_sampler sampler;
    loom_scheduler scheduler;
    loom_rng_kind rng_kind;
    loom_schedule base, lcm;
    const loom_schedule *sched;
    double *sigmas;
    int n_sigmas;
    uint64_t seed;
    int clip_skip;
    loom_sd_model model;
    int model_loaded;
    loom_tokenizer *tok;
    int n_items;              /* batch_size: items of one UNet batch (item_prompts index) */
    char **item_text;         /* [n_items] each item's prompt without its adapter tags */
    loom_net_list *item_nets; /* [n_items] its tags */
    char *negative;           /* the negative prompt (no tags) */
    loom_gen_adapters ads;
    int n_conds;              /* distinct (prompt, adapter set) pairs, then one negative per set */
    loom_cond *conds;
    const loom_cond **cond_of, **uncond_of; /* [n_items] */
    const loom_ops *ops;
    loom_gen_output out;
    int width, height;    /* the request's, or the init image's */
    float *init_latent;   /* img2img: [4, h, w] NCHW, scaled by the VAE factor */
} run;

static loom_status check_request(run *r)
{
    const loom_gen_request *q = r->req;
    loom_scheduler legacy;
    int has_legacy = 0;
    LOOM_TRY(loom_sampler_parse(q->sampler, &r->sampler, &legacy, &has_legacy));
    if (q->scheduler && q->scheduler[0]) LOOM_TRY(loom_scheduler_resolve(q->scheduler, r->sampler, &r->scheduler));
    else if (has_legacy) r->scheduler = legacy;
    else LOOM_TRY(loom_scheduler_resolve(NULL, r->sampler, &r->scheduler));
    LOOM_TRY(loom_rng_kind_parse(q->rng, &r->rng_kind));
    /* img2img takes its size from the image unless -W/-H were given (0 here) */
    if (!(q->init_image && q->width == 0 && q->height == 0) &&
        (q->width <= 0 || q->height <= 0 || q->width % 64 || q->height % 64))
        return loom_fail(LOOM_E_INVALID, "size %dx%d: width and height must be positive multiples of 64", q->width,
                         q->height);
    if (q->steps < 1) return loom_fail(LOOM_E_INVALID, "steps must be at least 1, got %d", q->steps);
    if (q->batch_count < 1 || q->batch_size < 1) return loom_fail(LOOM_E_INVALID, "batch count and size must be >= 1");
    if (q->init_image && r->sampler == LOOM_SAMPLER_DDIM)
        return loom_fail(LOOM_E_UNSUPPORTED, "img2img with ddim is not supported yet; pick another sampler");
    if (q->init_image && !(q->strength > 0 && q->strength <= 1))
        return loom_fail(LOOM_E_INVALID, "--strength %g: must be in (0, 1]", q->strength);
    LOOM_TRY(loom_gen_output_check(q));
    if (q->vendor_kernels && q->backend != LOOM_BACKEND_CUDA)
        return loom_fail(LOOM_E_INVALID, "--kernels vendor needs --backend cuda");
    if (q->bf16 && q->backend != LOOM_BACKEND_CUDA)
        return loom_fail(LOOM_E_INVALID, "--dtype bf16 needs --backend cuda (the CPU backend computes in f32)");
    if (q->backend == LOOM_BACKEND_CUDA) { /* before the model loads: no GPU, or one this build has no code for */
        loom_status ps = loom_cuda_probe(0, NULL, 0);
        if (ps != LOOM_OK) return loom_fail_wrap(ps, "--backend cuda");
    }
    return LOOM_OK;
}

static uint64_t pick_seed(int64_t seed)
{
    if (seed >= 0) return (uint64_t)seed;
    /* A1111: random.randrange(4294967294) */
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&v, sizeof v, 1, f) != 1) v = (uint64_t)time(NULL) * 2654435761u;
    if (f) fclose(f);
    return v % 4294967294u;
}

static loom_status sample_batch(run *r, int batch_index)
{
    const loom_gen_request *q = r->req;
    int64_t B = q->batch_size, h = r->height / 8, w = r->width / 8, c = r->model.unet.cfg.in_channels;
    int64_t per = c * h * w, n = B * per;
    uint64_t seed0 = r->seed + (uint64_t)batch_index * (uint64_t)B;
    loom_noise_cfg ncfg = {r->rng_kind, q->comfy_noise ? LOOM_NOISE_COMFY : LOOM_NOISE_A1111, seed0, (int)B, per, 0, 0};
    loom_noise *nz = NULL;
    float *x = malloc((size_t)n * sizeof *x);
    denoiser d = {&r->model, r->ops, r->cond_of, r->uncond_of, r->ads.set_of_item, r->ads.plans, r->ads.dplans, r->sched,
                  r->sampler == LOOM_SAMPLER_LCM, q->cfg_scale, B, c, h, w, 0,
                  malloc((size_t)(2 * n) * sizeof(float)), malloc((size_t)(2 * n) * sizeof(float)),
                  malloc((size_t)n * sizeof(float)), NULL, NULL, NULL, NULL};
    /* UNet inputs built per call go into buffers made once here (no setup in the step loop) */
    int64_t s_max = 0, ctx_w = r->conds[0].ctx[0].shape[1];
    for (int k = 0; k < r->n_conds; k++)
        for (int v = 0; v < r->conds[k].n_variants; v++)
            if (r->conds[k].ctx[v].shape[0] > s_max) s_max = r->conds[k].ctx[v].shape[0];
    d.tbuf = malloc((size_t)(2 * B) * sizeof(float));
    d.cbuf = malloc((size_t)(2 * B * s_max * ctx_w) * sizeof(float));
    d.row_ctx = malloc((size_t)(2 * B) * sizeof *d.row_ctx);
    d.row_set = malloc((size_t)(2 * B) * sizeof *d.row_set);
    uint64_t *seeds = malloc((size_t)B * sizeof *seeds);
    seeded_ctx sc = {loom_rng_new(r->rng_kind, 0)};
    loom_status s = LOOM_OK;
    if (!x || !d.xin || !d.eps || !d.den_u || !d.tbuf || !d.cbuf || !d.row_ctx || !d.row_set || !seeds || !sc.rng) {
        s = loom_fail(LOOM_E_NOMEM, "out of memory for a batch of %lld latents", (long long)B);
        goto done;
    }
    if ((s = loom_noise_new(&ncfg, &nz)) != LOOM_OK) goto done;
    if ((s = loom_noise_next(nz, x)) != LOOM_OK) goto done; /* initial noise [B,4,h,w] */
    const double *sigmas = r->sigmas;
    int n_sigmas = r->n_sigmas;
    if (r->init_latent) {
        /* A1111 img2img (sd_samplers_kdiffusion.sample_img2img): t_enc =
         * int(min(strength, 0.999)·steps), run the tail sigmas[steps − t_enc − 1:],
         * starting from init + noise·sigma_sched[0] */
        int t_enc = (int)((q->strength < 0.999 ? q->strength : 0.999) * q->steps);
        int first = q->steps - t_enc - 1;
        if (first < 0) first = 0;
        sigmas += first;
        n_sigmas -= first;
        for (int64_t i = 0; i < n; i++) x[i] = (float)(r->init_latent[i % per] + x[i] * sigmas[0]);
    } else {
        double scale = loom_sampler_noise_scale(r->sampler, r->sigmas, r->n_sigmas, 0);
        for (int64_t i = 0; i < n; i++) x[i] = (float)(x[i] * scale);
    }
    for (int64_t i = 0; i < B; i++) seeds[i] = seed0 + (uint64_t)i;

    loom_sample_job job;
    memset(&job, 0, sizeof job);
    job.sampler = r->sampler;
    job.sigmas = sigmas;
    job.n_sigmas = n_sigmas;
    job.opts = loom_sampler_default_opts(r->sampler);
    job.denoise = denoise_cb;
    job.denoise_ctx = &d;
    job.noise = noise_cb;
    job.noise_ctx = nz;
    if (!q->comfy_noise) { /* A1111's per-image Brownian trees for dpm++2m_sde */
        job.seeds = seeds;
        job.n_seeds = (int)B;
    } else {
        job.seeds = seeds;
        job.n_seeds = 1;
    }
    job.randn_seeded = randn_seeded_cb;
    job.randn_seeded_ctx = &sc;
    job.on_step = loom_gen_progress;
    job.step_ctx = &r->out;
    loom_gen_progress_start(&r->out, n_sigmas - 1);
    if ((s = loom_sample(&job, x, n)) != LOOM_OK) goto done;
    loom_gen_progress_end(&r->out);
    s = loom_gen_output_batch(&r->out, &r->model, r->ops, x, B, c, h, w, batch_index, seed0);
done:
    if (nz) loom_noise_free(nz);
    if (sc.rng) loom_rng_free(sc.rng);
    free(x);
    free(d.xin);
    free(d.eps);
    free(d.den_u);
    free(d.tbuf);
    free(d.cbuf);
    free((void *)d.row_ctx);
    free(d.row_set);
    free(seeds);
    return s;
}

/* Each item's prompt without its adapter tags, and the tags (kinds lora/lyco). */
static loom_status split_prompts(run *r)
{
    const loom_gen_request *q = r->req;
    static const char *const accepted[] = {"lora", "lyco", NULL};
    r->n_items = q->batch_size;
    r->item_text = calloc((size_t)r->n_items, sizeof *r->item_text);
    r->item_nets = calloc((size_t)r->n_items, sizeof *r->item_nets);
    if (!r->item_text || !r->item_nets) return loom_fail(LOOM_E_NOMEM, "out of memory for the prompts");
    for (int i = 0; i < r->n_items; i++) {
        const char *p = q->item_prompts ? q->item_prompts[i] : q->prompt;
        const char *where = q->item_prompts ? "item prompt" : "prompt";
        if (!p) return loom_fail(LOOM_E_INVALID, "item prompt %d is missing", i);
        loom_status s = loom_prompt_extract_networks(p, strlen(p), &r->item_text[i], NULL, &r->item_nets[i]);
        if (s != LOOM_OK) return loom_fail_wrap(s, "%s", where);
        LOOM_TRY(loom_net_list_check(&r->item_nets[i], accepted, where));
        /* A1111 splits the positive prompt on AND (composable diffusion, addons.md §4.3):
         * refuse it clearly rather than render "AND" as a word */
        loom_prompt_parts parts = {0};
        LOOM_TRY(loom_prompt_split_and(r->item_text[i], strlen(r->item_text[i]), &parts));
        int n_parts = parts.n;
        loom_prompt_parts_free(&parts);
        if (n_parts > 1) return loom_fail(LOOM_E_UNSUPPORTED, "%s: AND (composable diffusion) is not supported yet", where);
    }
    /* the negative prompt's half of CFG runs with the image's adapter set (adapters.md §6.13);
     * tags in it would be ambiguous, so they are refused with a pointer to the prompt */
    loom_net_list nets = {0};
    loom_status s = loom_prompt_extract_networks(q->negative_prompt, strlen(q->negative_prompt), &r->negative, NULL,
                                                 &nets);
    if (s != LOOM_OK) return loom_fail_wrap(s, "negative prompt");
    if (nets.n > 0)
        s = loom_fail(LOOM_E_UNSUPPORTED, "negative prompt: %s: extra-network tags go in the prompt (an image's "
                      "adapters apply to both halves of CFG)", nets.v[0].tag);
    loom_net_list_free(&nets);
    return s;
}

/* One conditioning per distinct (prompt, adapter set), one negative per set. */
static loom_status encode_conds(run *r)
{
    const loom_gen_request *q = r->req;
    const int n = r->n_items, n_sets = r->ads.n_sets > 0 ? r->ads.n_sets : 1;
    r->conds = calloc((size_t)(n + n_sets), sizeof *r->conds);
    r->cond_of = calloc((size_t)n, sizeof *r->cond_of);
    r->uncond_of = calloc((size_t)n, sizeof *r->uncond_of);
    int *cond_set = calloc((size_t)(n + n_sets), sizeof *cond_set), *text_of = calloc((size_t)n, sizeof *text_of);
    loom_status s = LOOM_OK;
    if (!r->conds || !r->cond_of || !r->uncond_of || !cond_set || !text_of)
        s = loom_fail(LOOM_E_NOMEM, "out of memory for the prompts");
    loom_model_ad ad = {&r->model.adapter_map, r->ads.plans, 0, NULL, r->ads.dplans};
    for (int i = 0; s == LOOM_OK && i < n; i++) {
        int set = r->ads.set_of_item[i], k = 0;
        for (; k < r->n_conds; k++)
            if (cond_set[k] == set && !strcmp(r->item_text[text_of[k]], r->item_text[i])) break;
        if (k == r->n_conds) {
            s = loom_cond_encode_ad(&r->model.clip, r->ops, ad.plans ? &ad : NULL, set, r->tok, r->item_text[i],
                                    q->steps, r->clip_skip, &r->conds[k]);
            if (s != LOOM_OK) break;
            cond_set[k] = set, text_of[k] = i, r->n_conds++;
        }
        r->cond_of[i] = &r->conds[k];
    }
    int first_uncond = r->n_conds;
    for (int j = 0; s == LOOM_OK && j < n_sets; j++) {
        s = loom_cond_encode_ad(&r->model.clip, r->ops, ad.plans ? &ad : NULL, j, r->tok, r->negative, q->steps,
                                r->clip_skip, &r->conds[r->n_conds]);
        if (s == LOOM_OK) r->n_conds++;
    }
    for (int i = 0; s == LOOM_OK && i < n; i++) r->uncond_of[i] = &r->conds[first_uncond + r->ads.set_of_item[i]];
    free(cond_set);
    free(text_of);
    return s;
}

static void free_items(run *r)
{
    for (int k = 0; r->conds && k < r->n_conds; k++) loom_cond_free(&r->conds[k]);
    free(r->conds);
    free((void *)r->cond_of);
    free((void *)r->uncond_of);
    for (int i = 0; i < r->n_items; i++) {
        if (r->item_text) free(r->item_text[i]);
        if (r->item_nets) loom_net_list_free(&r->item_nets[i]);
    }
    free(r->item_text);
    free(r->item_nets);
    free(r->negative);
    loom_gen_adapters_free(&r->ads);
}

/* -v on a GPU: each model's planned activation arena (its peak, device_arena.h), the shared block,
 * the K/V cache and the pool's high-water mark. */
static void log_gpu_memory(const loom_sd_model *m)
{
    const double mib = 1.0 / (1024.0 * 1024.0);
    const struct loom_device_arena *arenas[3] = {m->unet.arena, m->clip.arena, m->vae.arena_decode};
    size_t space = 0;
    for (int i = 0; i < 3; i++) {
        loom_device_arena_stats st;
        loom_device_arena_get_stats(arenas[i], &st);
        if (!st.name) continue;
        space = st.space_bytes;
        LOOM_DEBUG("GPU activations, %s: planned arena %.1f MiB (peak live %.1f MiB, %d tensors a call, %d plans, "
                   "%d replays)", st.name, st.planned_bytes * mib, st.peak_live_bytes * mib, st.n_allocs, st.n_plans,
                   st.n_replays);
    }
    loom_unet_kv_stats kv;
    loom_unet_kv_get_stats(m->unet.kv, &kv);
    loom_device_mem dm;
    if (loom_device_mem_info(&dm) != LOOM_OK) return;
    LOOM_DEBUG("GPU memory: shared activation block %.1f MiB; cross-attention K/V %.1f MiB (%d hits, %d misses); "
               "pool in use %.1f MiB, high-water %.1f MiB", space * mib, kv.bytes * mib, kv.hits, kv.misses,
               dm.in_use * mib, dm.peak * mib);
}

loom_status loom_generate(const loom_gen_request *req)
{
    run r;
    memset(&r, 0, sizeof r);
    r.req = req;
    loom_status s = check_request(&r);
    if (s != LOOM_OK) return s;

    if ((s = split_prompts(&r)) != LOOM_OK ||
        (s = loom_gen_adapters_check_names(req, r.item_nets, r.n_items)) != LOOM_OK)
        goto done;

    loom_cpu_set_threads(req->threads);
    r.seed = pick_seed(req->seed);
    loom_schedule_init_sd(&r.base);
    r.sched = &r.base;
    if (r.sampler == LOOM_SAMPLER_LCM) { /* A1111's LCM denoiser: 50 original steps (sd_samplers_lcm.py) */
        if ((s = loom_schedule_init_lcm(&r.lcm, &r.base, 50)) != LOOM_OK) goto done;
        r.sched = &r.lcm;
    }
    if ((s = loom_sampler_sigmas(r.sched, r.sampler, r.scheduler, req->steps, &r.sigmas, &r.n_sigmas)) != LOOM_OK)
        goto done;

    if ((s = loom_tokenizer_open(NULL, &r.tok)) != LOOM_OK) goto done;
    if (!req->model_path) {
        s = loom_fail(LOOM_E_INVALID, "no model: pass -m FILE (scripts/demo.sh makes a demo checkpoint)");
        goto done;
    }
    r.ops = loom_backend_ops_dtype(req->backend, req->vendor_kernels, req->bf16 ? LOOM_BF16 : LOOM_F16);
    if ((s = loom_sd_model_load_dtype(&r.model, req->model_path, req->vae_path, req->backend, r.ops->dtype)) != LOOM_OK)
        goto done;
    r.model_loaded = 1;
    r.clip_skip = req->clip_skip > 0 ? req->clip_skip : 1;
    if (r.clip_skip > r.model.clip.cfg.layers) {
        s = loom_fail(LOOM_E_INVALID, "--clip-skip %d: the text encoder has %lld layers", r.clip_skip,
                      (long long)r.model.clip.cfg.layers);
        goto done;
    }
    r.width = req->width;
    r.height = req->height;
    if (req->init_image && (s = loom_init_latent(&r.model, r.ops, req->init_image, &r.width, &r.height,
                                                 &r.init_latent)) != LOOM_OK)
        goto done;
    if ((s = loom_gen_adapters_prepare(req, &r.model, r.item_nets, r.n_items, &r.ads)) != LOOM_OK ||
        (s = encode_conds(&r)) != LOOM_OK)
        goto done;
    if ((s = loom_gen_output_init(&r.out, req, r.sampler, r.scheduler, r.rng_kind, r.seed, r.clip_skip, &r.model)) !=
        LOOM_OK)
        goto done;
    r.out.width = r.width;
    r.out.height = r.height;
    /* A1111's "Model hash" / "VAE hash": the first 10 hex of the file's SHA-256
     * (addons.md §6.3), cached across runs; a diffusers folder has none */
    char model_hex[65], vae_hex[65];
    if (r.model.n_files && !loom_path_is_dir(req->model_path)) {
        if ((s = loom_file_sha256_cached(req->model_path, model_hex)) != LOOM_OK) goto done;
        model_hex[10] = 0;
        r.out.model_hash = model_hex;
    }
    if (req->vae_path) {
        if ((s = loom_file_sha256_cached(req->vae_path, vae_hex)) != LOOM_OK) goto done;
        vae_hex[10] = 0;
        r.out.vae_hash = vae_hex;
    }
    for (int b = 0; b < req->batch_count && s == LOOM_OK; b++) s = sample_batch(&r, b);
    if (s == LOOM_OK) s = loom_gen_output_finish(&r.out);
    if (s == LOOM_OK && req->backend != LOOM_BACKEND_CPU && loom_log_get_level() >= LOOM_LOG_DEBUG)
        log_gpu_memory(&r.model);
done:
    loom_gen_output_free(&r.out);
    free_items(&r);
    if (r.model_loaded) loom_sd_model_free(&r.model);
    if (r.tok) loom_tokenizer_close(r.tok);
    free(r.sigmas);
    free(r.init_latent);
    return s;
}
