/* sampler_ddim.c — DDIM as A1111 runs it today (modules/sd_samplers_timesteps_impl.py
 * ddim, with the timesteps of sd_samplers_timesteps.CompVisSampler.get_timesteps).
 *
 * A1111 works on the unscaled (variance-preserving) latent x_t with an eps
 * model at integer timesteps. loom's model callback is the k-diffusion
 * denoiser, so each step converts: the table holds sigma(t) for A1111's
 * timesteps (descending), alpha_t = 1 / (1 + sigma^2) (= alphas_cumprod[t]),
 * the denoiser sees x * sqrt(1 + sigma^2) at sigma (its UNet input is then x
 * again, and sigma_to_t(sigma) is t exactly), and eps = (x_ve - D) / sigma.
 * The update is A1111's:
 *   pred_x0 = (x - sqrt(1 - a_t) * e_t) / sqrt(a_t)
 *   dir_xt  = sqrt(1 - a_prev - sigma_t^2) * e_t
 *   x       = sqrt(a_prev) * pred_x0 + dir_xt + sigma_t * randn_like(x)
 * with sigma_t = eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).
 * A1111 loops len(timesteps) - 1 times, so the last step lands on t = 1 and
 * that latent is returned; the noise is drawn every step, even at eta 0. */
#include "sampler_impl.h"

#include <math.h>

loom_status loom_run_ddim(loom_sampler_ctx *c)
{
    double eta = c->job->opts.eta;
    float *x = c->x, *xve = c->buf[0], *den = c->buf[1], *noise = c->buf[2];
    for (int i = 0; i < c->steps; i++) {
        double st = c->sig[i], sp = c->sig[i + 1];
        double a_t = 1.0 / (1.0 + st * st), a_prev = 1.0 / (1.0 + sp * sp);
        double sig_t = eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev));
        double to_ve = sqrt(1.0 + st * st);
        for (int64_t k = 0; k < c->n; k++) xve[k] = (float)(x[k] * to_ve);
        LOOM_TRY(loom_sctx_denoise(c, xve, st, den));
        int drawn;
        LOOM_TRY(loom_sctx_randn(c, sig_t != 0, noise, &drawn));
        double sq1m = sqrt(1 - a_t), sqa = sqrt(a_t), sqap = sqrt(a_prev);
        double dir = sqrt(1.0 - a_prev - sig_t * sig_t);
        for (int64_t k = 0; k < c->n; k++) {
            double e_t = ((double)xve[k] - den[k]) / st;
            double pred_x0 = (x[k] - sq1m * e_t) / sqa;
            double v = sqap * pred_x0 + dir * e_t;
            if (drawn) v += sig_t * noise[k];
            x[k] = (float)v;
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}
