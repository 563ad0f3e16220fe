/* sampler.h — the samplers, identical to k-diffusion's sampling.py as A1111
 * runs it (and A1111's own DDIM and LCM), over a sigma table from schedule.h.
 *
 * The model is a callback that returns the k-diffusion "denoised" estimate
 * D(x, sigma) for the whole batch (classifier-free guidance lives inside it);
 * for an eps-prediction UNet that is x - sigma * eps(x / sqrt(1 + sigma^2),
 * sigma_to_t(sigma)). Latents are float32, as in A1111; each update is
 * computed in double and rounded once when stored.
 *
 * Noise, in the order A1111 draws it (its TorchHijack routes k-diffusion's
 * torch.randn_like to the per-image generators, modules/rng.py ImageRNG):
 *   - euler, heun, dpm2 draw one randn_like per step even when s_churn is 0
 *     and the draw is unused (k-diffusion draws before testing gamma);
 *   - euler_a, dpm++2s_a and lcm draw one per step except the last (sigma_next 0);
 *   - ddim (A1111 sd_samplers_timesteps_impl) draws one per step, times
 *     sigma_t = 0 when eta is 0;
 *   - dpm++2m_sde: A1111 uses a Brownian tree per image seeded with the image
 *     seed (sd_samplers_common.create_noise_sampler, k-diffusion
 *     BrownianTreeNoiseSampler over torchsde.BrownianTree), whose normal draws
 *     are randn_local(seed, shape) from a fresh generator (A1111 patches
 *     torchsde's _randn); see sampler_brownian.h. Without seeds it falls back
 *     to randn_like (A1111's option no_dpmpp_sde_batch_determinism).
 * A deterministic sampler needs no noise callback; when one is given the
 * unused draws are made all the same, so the stream stays where A1111 leaves it. */
#ifndef LOOM_SAMPLER_H
#define LOOM_SAMPLER_H

#include "loom_base.h"
#include "schedule.h"

typedef enum loom_sampler {
    LOOM_SAMPLER_EULER = 0,
    LOOM_SAMPLER_EULER_A,
    LOOM_SAMPLER_HEUN,
    LOOM_SAMPLER_DPM2,
    LOOM_SAMPLER_DPMPP_2S_A,
    LOOM_SAMPLER_DPMPP_2M,
    LOOM_SAMPLER_DPMPP_2M_SDE,
    LOOM_SAMPLER_LMS,
    LOOM_SAMPLER_DDIM,
    LOOM_SAMPLER_LCM,
    LOOM_SAMPLER_COUNT
} loom_sampler;

const char *loom_sampler_name(loom_sampler s);       /* canonical: "dpm++2m" */
const char *loom_sampler_a1111_name(loom_sampler s); /* "DPM++ 2M" (infotext "Sampler:") */
const char *loom_sampler_comfy_name(loom_sampler s); /* "dpmpp_2m" */
/* The comma-separated canonical names, for messages and --help. */
const char *loom_sampler_names(void);

/* Any of the three spellings (style.md "Sampler names"), A1111's k_* aliases
 * and its legacy combined names ("DPM++ 2M Karras", "k_dpmpp_2m_ka"), case-
 * insensitive. A legacy name also yields its scheduler: *has_sched is set to 1
 * and *sched_out to it (both may be NULL). Unknown: LOOM_E_INVALID, one line
 * listing the valid names. */
loom_status loom_sampler_parse(const char *name, loom_sampler *out, loom_scheduler *sched_out, int *has_sched);
/* What A1111's "Automatic" scheduler picks for a sampler (its samplers table):
 * karras for dpm2, dpm++2s_a, dpm++2m; exponential for dpm++2m_sde; normal otherwise. */
loom_scheduler loom_sampler_default_scheduler(loom_sampler s);
/* A scheduler name for `s`: NULL, "", "automatic" or "auto" give the default above. */
loom_status loom_scheduler_resolve(const char *name, loom_sampler s, loom_scheduler *out);
/* 1 when the sampler's result depends on the noise it draws (with default options). */
int loom_sampler_is_stochastic(loom_sampler s);

/* The table A1111 hands the sampler (KDiffusionSampler.get_sigmas,
 * CompVisSampler.get_timesteps), malloc'd into *out (free it):
 *   - dpm2 computes steps + 1 sigmas and drops the next-to-last
 *     (discard_next_to_last_sigma);
 *   - ddim ignores the scheduler: sigma(t) for A1111's timesteps
 *     t = 1, 1 + k, 1 + 2k, ... (k = 1000 / steps), descending, without a final
 *     0 (A1111 stops at t = 1; there are len - 1 model calls);
 *   - everything else is loom_schedule_sigmas.
 * For A1111's LCM pass the schedule from loom_schedule_init_lcm here and in
 * the model wrapper (sigma_to_t and loom_schedule_lcm_scalings). */
loom_status loom_sampler_sigmas(const loom_schedule *s, loom_sampler sampler, loom_scheduler sched,
                                int steps, double **out, int *n_out);

/* The factor for the initial noise of txt2img: x = noise * factor.
 * A1111: sigmas[0]; with sqrt_one_plus (ComfyUI at full denoise, A1111's
 * sgm_noise_multiplier option): sqrt(1 + sigmas[0]^2). DDIM works on the
 * unscaled (variance-preserving) latent: 1. */
double loom_sampler_noise_scale(loom_sampler s, const double *sigmas, int n_sigmas, int sqrt_one_plus);

/* ---- running ------------------------------------------------------------ */

/* D(x, sigma) for n floats (the whole batch). sigma is the table value (double). */
typedef loom_status (*loom_denoise_fn)(void *ctx, const float *x, double sigma, float *denoised, int64_t n);
/* The next n standard normals of the image generators (A1111 rng.next()). */
typedef loom_status (*loom_noise_fn)(void *ctx, float *out, int64_t n);
/* n standard normals from a fresh generator seeded with `seed` (A1111 randn_local). */
typedef loom_status (*loom_randn_seeded_fn)(void *ctx, uint64_t seed, float *out, int64_t n);
/* After each step: x after the update and the step's (first) denoised. */
typedef void (*loom_step_fn)(void *ctx, int step, int total, const float *x, const float *denoised, int64_t n);

typedef struct loom_sampler_opts {
    double eta;     /* ancestral/SDE noise amount: A1111 eta_ancestral 1; ddim: eta_ddim 0 */
    double s_noise; /* 1 */
    double s_churn, s_tmin, s_tmax; /* euler, heun, dpm2: 0, 0, +inf */
    int sde_heun;   /* dpm++2m_sde solver_type "heun" instead of "midpoint" */
} loom_sampler_opts;

/* A1111's defaults for the sampler. */
loom_sampler_opts loom_sampler_default_opts(loom_sampler s);

typedef struct loom_sample_job {
    loom_sampler sampler;
    const double *sigmas; /* from loom_sampler_sigmas (or a tail of it for img2img) */
    int n_sigmas;
    loom_sampler_opts opts;
    loom_denoise_fn denoise;
    void *denoise_ctx;
    loom_noise_fn noise;  /* may be NULL for samplers that use no noise */
    void *noise_ctx;
    /* dpm++2m_sde with A1111's Brownian noise: one seed per image (n is split
     * evenly); NULL uses `noise` instead. */
    const uint64_t *seeds;
    int n_seeds;
    loom_randn_seeded_fn randn_seeded;
    void *randn_seeded_ctx;
    double bt_sigma_min, bt_sigma_max; /* tree interval; 0: the table's smallest positive / largest */
    loom_step_fn on_step; /* optional */
    void *step_ctx;
    int64_t draws;        /* out: randn_like calls made */
} loom_sample_job;

/* Runs the sampler over x[0 .. n-1] in place. For ddim x is the unscaled
 * latent in and out (A1111's DDIM returns the latent at t = 1, not at 0).
 * Fails with a one-line message on a bad table, a missing callback or a
 * callback's failure (x is then partly updated). */
loom_status loom_sample(loom_sample_job *job, float *x, int64_t n);

/* k-diffusion linear_multistep_coeff: the integral of the Lagrange basis
 * polynomial j over [t[i], t[i+1]], through the 21-point Gauss-Kronrod rule
 * that scipy's quad applies first (exact for these cubics, so quad returns it). */
loom_status loom_lms_coeff(int order, const double *t, int i, int j, double *out);

#endif
