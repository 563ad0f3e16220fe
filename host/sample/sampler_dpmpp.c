/* sampler_dpmpp.c — the DPM-Solver++ family of k-diffusion's sampling.py
 * (sample_dpmpp_2s_ancestral, sample_dpmpp_2m, sample_dpmpp_2m_sde), in
 * t = -log(sigma), and A1111's sample_lcm (sd_samplers_lcm.py, the same
 * update as ComfyUI's). Per element the arithmetic is double. */
#include "sampler_impl.h"

#include <math.h>

loom_status loom_run_dpmpp_2s_a(loom_sampler_ctx *c)
{
    const loom_sampler_opts *o = &c->job->opts;
    float *x = c->x, *den = c->buf[0], *x2 = c->buf[1], *den2 = c->buf[2], *noise = c->buf[3];
    for (int i = 0; i < c->steps; i++) {
        double si = c->sig[i], sn = c->sig[i + 1], sd, su;
        LOOM_TRY(loom_sctx_denoise(c, x, si, den));
        loom_ancestral_step(si, sn, o->eta, &sd, &su);
        if (sd == 0) { /* Euler method */
            double dt = sd - si;
            for (int64_t k = 0; k < c->n; k++) {
                double d = ((double)x[k] - den[k]) / si;
                x[k] = (float)(x[k] + d * dt);
            }
        } else {
            /* DPM-Solver++(2S): t = -log sigma, r = 1/2, s = t + r*h, sigma_fn(t) = exp(-t) */
            double t = -log(si), tn = -log(sd), h = tn - t, s = t + 0.5 * h;
            double a1 = exp(-s) / exp(-t), b1 = expm1(-h * 0.5);
            for (int64_t k = 0; k < c->n; k++) x2[k] = (float)(a1 * x[k] - b1 * den[k]);
            LOOM_TRY(loom_sctx_denoise(c, x2, exp(-s), den2));
            double a2 = exp(-tn) / exp(-t), b2 = expm1(-h);
            for (int64_t k = 0; k < c->n; k++) x[k] = (float)(a2 * x[k] - b2 * den2[k]);
        }
        if (sn > 0) { /* noise addition */
            LOOM_TRY(loom_sctx_noise(c, si, sn, noise));
            double ns = o->s_noise * su;
            for (int64_t k = 0; k < c->n; k++) x[k] = (float)(x[k] + (double)noise[k] * ns);
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}

loom_status loom_run_dpmpp_2m(loom_sampler_ctx *c)
{
    float *x = c->x, *den = c->buf[0], *old = c->buf[1];
    for (int i = 0; i < c->steps; i++) {
        double si = c->sig[i], sn = c->sig[i + 1];
        LOOM_TRY(loom_sctx_denoise(c, x, si, den));
        if (sn == 0) {
            /* (sigma_fn(t_next)/sigma_fn(t)) * x - (-h).expm1() * denoised with t_next = inf
             * is 0 * x + denoised */
            for (int64_t k = 0; k < c->n; k++) x[k] = den[k];
        } else {
            double t = -log(si), tn = -log(sn), h = tn - t;
            double a = exp(-tn) / exp(-t), b = expm1(-h);
            if (i == 0) { /* old_denoised is None */
                for (int64_t k = 0; k < c->n; k++) x[k] = (float)(a * x[k] - b * den[k]);
            } else {
                /* r = h_last / h; denoised_d = (1 + 1/(2r)) * denoised - (1/(2r)) * old_denoised */
                double h_last = t - (-log(c->sig[i - 1])), r = h_last / h;
                double w1 = 1 + 1 / (2 * r), w2 = 1 / (2 * r);
                for (int64_t k = 0; k < c->n; k++) {
                    double dd = w1 * den[k] - w2 * old[k];
                    x[k] = (float)(a * x[k] - b * dd);
                }
            }
        }
        loom_sctx_step_done(c, i, den);
        float *tmp = old; /* old_denoised = denoised */
        old = den;
        den = tmp;
    }
    return LOOM_OK;
}

loom_status loom_run_dpmpp_2m_sde(loom_sampler_ctx *c)
{
    const loom_sampler_opts *o = &c->job->opts;
    float *x = c->x, *den = c->buf[0], *old = c->buf[1], *noise = c->buf[2];
    double h_last = 0;
    for (int i = 0; i < c->steps; i++) {
        double si = c->sig[i], sn = c->sig[i + 1];
        LOOM_TRY(loom_sctx_denoise(c, x, si, den));
        if (sn == 0) { /* denoising step */
            for (int64_t k = 0; k < c->n; k++) x[k] = den[k];
        } else {
            double t = -log(si), s = -log(sn), h = s - t, eta_h = o->eta * h;
            /* x = sigma_next/sigma * exp(-eta_h) * x + (-h - eta_h).expm1().neg() * denoised */
            double a = sn / si * exp(-eta_h), b = -expm1(-h - eta_h);
            double corr = 0; /* the multiplier of (denoised - old_denoised) */
            if (i > 0) {
                double r = h_last / h;
                if (o->sde_heun)
                    corr = (b / (-h - eta_h) + 1) * (1 / r);
                else
                    corr = 0.5 * b * (1 / r);
            }
            int add_noise = o->eta != 0; /* `if eta:` */
            double ns = 0;
            if (add_noise) {
                LOOM_TRY(loom_sctx_noise(c, si, sn, noise));
                ns = sn * sqrt(-expm1(-2 * eta_h)) * o->s_noise;
            }
            for (int64_t k = 0; k < c->n; k++) {
                double v = a * x[k] + b * den[k];
                if (i > 0) v += corr * ((double)den[k] - old[k]);
                if (add_noise) v += (double)noise[k] * ns;
                x[k] = (float)v;
            }
            h_last = h;
        }
        loom_sctx_step_done(c, i, den);
        float *tmp = old;
        old = den;
        den = tmp;
    }
    return LOOM_OK;
}

loom_status loom_run_lcm(loom_sampler_ctx *c)
{
    float *x = c->x, *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < c->steps; i++) {
        double sn = c->sig[i + 1];
        LOOM_TRY(loom_sctx_denoise(c, x, c->sig[i], den));
        /* x = denoised; if sigmas[i + 1] > 0: x += sigmas[i + 1] * noise_sampler(...) */
        if (sn > 0) {
            LOOM_TRY(loom_sctx_noise(c, c->sig[i], sn, noise));
            for (int64_t k = 0; k < c->n; k++) x[k] = (float)((double)den[k] + sn * noise[k]);
        } else {
            for (int64_t k = 0; k < c->n; k++) x[k] = den[k];
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}
