/* sampler_impl.h — what the sampler files share (not a public header): the
 * running state, the model/noise helpers and one entry point per family. */
#ifndef LOOM_SAMPLER_IMPL_H
#define LOOM_SAMPLER_IMPL_H

#include "sampler.h"
#include "sampler_brownian.h"

#define LOOM_SAMPLER_BUFS 5

typedef struct loom_sampler_ctx {
    loom_sample_job *job;
    float *x;
    int64_t n;
    const double *sig; /* job->sigmas */
    int steps;         /* job->n_sigmas - 1 */
    float *buf[LOOM_SAMPLER_BUFS]; /* n floats each */
    loom_bt_noise *bt; /* dpm++2m_sde with seeds */
} loom_sampler_ctx;

/* denoised = D(x, sigma), with the callback's failure wrapped. */
loom_status loom_sctx_denoise(loom_sampler_ctx *c, const float *x, double sigma, float *out);
/* One randn_like draw into out. `used` says whether the value matters: an
 * unused draw is skipped when there is no noise callback (*drawn = 0), a used
 * one then fails. */
loom_status loom_sctx_randn(loom_sampler_ctx *c, int used, float *out, int *drawn);
/* k-diffusion noise_sampler(sigma, sigma_next): the Brownian tree when there
 * is one, randn_like otherwise. */
loom_status loom_sctx_noise(loom_sampler_ctx *c, double sigma, double sigma_next, float *out);
void loom_sctx_step_done(loom_sampler_ctx *c, int i, const float *denoised);

/* k-diffusion get_ancestral_step */
void loom_ancestral_step(double sigma_from, double sigma_to, double eta, double *down, double *up);

loom_status loom_run_euler(loom_sampler_ctx *c);
loom_status loom_run_euler_a(loom_sampler_ctx *c);
loom_status loom_run_heun(loom_sampler_ctx *c);
loom_status loom_run_dpm2(loom_sampler_ctx *c);
loom_status loom_run_dpmpp_2s_a(loom_sampler_ctx *c);
loom_status loom_run_dpmpp_2m(loom_sampler_ctx *c);
loom_status loom_run_dpmpp_2m_sde(loom_sampler_ctx *c);
loom_status loom_run_lcm(loom_sampler_ctx *c);
loom_status loom_run_lms(loom_sampler_ctx *c);
loom_status loom_run_ddim(loom_sampler_ctx *c);

#endif
