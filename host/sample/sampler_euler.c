/* sampler_euler.c — k-diffusion's Karras-ODE samplers: sample_euler,
 * sample_euler_ancestral, sample_heun, sample_dpm_2 (sampling.py). The
 * comments give the k-diffusion line each update restates; per element the
 * arithmetic is double, x is stored float32 like A1111's tensors. */
#include "sampler_impl.h"

#include <math.h>

void loom_ancestral_step(double sigma_from, double sigma_to, double eta, double *down, double *up)
{
    if (eta == 0) { /* `if not eta: return sigma_to, 0.` */
        *down = sigma_to;
        *up = 0;
        return;
    }
    double u = eta * sqrt(sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to) /
                          (sigma_from * sigma_from));
    if (!(u < sigma_to)) u = sigma_to; /* min(sigma_to, ...) */
    *up = u;
    *down = sqrt(sigma_to * sigma_to - u * u);
}

/* The churn prologue shared by euler, heun and dpm2:
 *   gamma = min(s_churn / steps, 2**0.5 - 1) if s_tmin <= sigma <= s_tmax else 0
 *   eps = randn_like(x) * s_noise          (drawn every step, used only when gamma > 0)
 *   sigma_hat = sigma * (gamma + 1)
 *   if gamma > 0: x = x + eps * (sigma_hat**2 - sigma**2) ** 0.5 */
static loom_status churn(loom_sampler_ctx *c, int i, float *eps, double *sigma_hat)
{
    const loom_sampler_opts *o = &c->job->opts;
    double si = c->sig[i];
    double gamma = 0;
    if (o->s_tmin <= si && si <= o->s_tmax) {
        gamma = o->s_churn / c->steps;
        if (gamma > sqrt(2.0) - 1) gamma = sqrt(2.0) - 1;
    }
    int drawn;
    LOOM_TRY(loom_sctx_randn(c, gamma > 0, eps, &drawn));
    double sh = si * (gamma + 1);
    if (gamma > 0) {
        double add = sqrt(sh * sh - si * si);
        for (int64_t k = 0; k < c->n; k++) c->x[k] = (float)(c->x[k] + (double)eps[k] * o->s_noise * add);
    }
    *sigma_hat = sh;
    return LOOM_OK;
}

loom_status loom_run_euler(loom_sampler_ctx *c)
{
    float *x = c->x, *den = c->buf[0], *eps = c->buf[1];
    for (int i = 0; i < c->steps; i++) {
        double sh;
        LOOM_TRY(churn(c, i, eps, &sh));
        LOOM_TRY(loom_sctx_denoise(c, x, sh, den));
        double dt = c->sig[i + 1] - sh; /* x = x + to_d(x, sigma_hat, denoised) * dt */
        for (int64_t k = 0; k < c->n; k++) {
            double d = ((double)x[k] - den[k]) / sh;
            x[k] = (float)(x[k] + d * dt);
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}

loom_status loom_run_euler_a(loom_sampler_ctx *c)
{
    const loom_sampler_opts *o = &c->job->opts;
    float *x = c->x, *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < c->steps; i++) {
        double si = c->sig[i], sn = c->sig[i + 1], sd, su;
        LOOM_TRY(loom_sctx_denoise(c, x, si, den));
        loom_ancestral_step(si, sn, o->eta, &sd, &su);
        double dt = sd - si;
        int add_noise = sn > 0; /* if sigmas[i + 1] > 0: x = x + noise_sampler(...) * s_noise * sigma_up */
        if (add_noise) LOOM_TRY(loom_sctx_noise(c, si, sn, noise));
        double ns = o->s_noise * su;
        for (int64_t k = 0; k < c->n; k++) {
            double d = ((double)x[k] - den[k]) / si;
            double v = x[k] + d * dt;
            if (add_noise) v += (double)noise[k] * ns;
            x[k] = (float)v;
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}

loom_status loom_run_heun(loom_sampler_ctx *c)
{
    float *x = c->x, *den = c->buf[0], *eps = c->buf[1], *x2 = c->buf[2], *den2 = c->buf[3];
    for (int i = 0; i < c->steps; i++) {
        double sh, sn = c->sig[i + 1];
        LOOM_TRY(churn(c, i, eps, &sh));
        LOOM_TRY(loom_sctx_denoise(c, x, sh, den));
        double dt = sn - sh;
        if (sn == 0) { /* Euler method */
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / sh;
                x[k] = (float)(x[k] + d * dt);
            }
        } else { /* Heun's method: x_2 = x + d*dt; d_prime = (d + d_2) / 2 */
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / sh;
                x2[k] = (float)(x[k] + d * dt);
            }
            LOOM_TRY(loom_sctx_denoise(c, x2, sn, den2));
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / sh;
                double d2 = ((double)x2[k] - den2[k]) / sn;
                x[k] = (float)(x[k] + (d + d2) / 2 * dt);
            }
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}

loom_status loom_run_dpm2(loom_sampler_ctx *c)
{
    float *x = c->x, *den = c->buf[0], *eps = c->buf[1], *x2 = c->buf[2], *den2 = c->buf[3];
    for (int i = 0; i < c->steps; i++) {
        double sh, sn = c->sig[i + 1];
        LOOM_TRY(churn(c, i, eps, &sh));
        LOOM_TRY(loom_sctx_denoise(c, x, sh, den));
        if (sn == 0) { /* Euler method */
            double dt = sn - sh;
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / sh;
                x[k] = (float)(x[k] + d * dt);
            }
        } else {
            /* DPM-Solver-2: sigma_mid = sigma_hat.log().lerp(sigma_next.log(), 0.5).exp();
             * torch.lerp with weight >= 0.5 evaluates end - (end - start) * (1 - weight) */
            double la = log(sh), lb = log(sn);
            double smid = exp(lb - (lb - la) * 0.5);
            double dt1 = smid - sh, dt2 = sn - sh;
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / sh;
                x2[k] = (float)(x[k] + d * dt1);
            }
            LOOM_TRY(loom_sctx_denoise(c, x2, smid, den2));
            for (int64_t k = 0; k < c->n; k++) {
                double d2 = ((double)x2[k] - den2[k]) / smid;
                x[k] = (float)(x[k] + d2 * dt2);
            }
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}
