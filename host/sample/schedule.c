/* schedule.c — the model's discrete noise schedule: alphas_cumprod, sigmas,
 * and sigma <-> timestep exactly as k-diffusion's DiscreteSchedule
 * (external.py) and A1111's LCMCompVisDenoiser compute them. */
#include "schedule.h"

#include <math.h>
#include <string.h>

double loom_linspace_at(double start, double end, int n, int i)
{
    if (n <= 1) return start;
    double step = (end - start) / (double)(n - 1);
    if (i < n / 2) return start + step * (double)i;
    return end - step * (double)(n - i - 1);
}

static void fill_sigmas(loom_schedule *s)
{
    for (int k = 0; k < s->n; k++) {
        double ac = (double)s->alphas_cumprod[k];
        s->sigmas[k] = sqrt((1.0 - ac) / ac);
        s->log_sigmas[k] = log(s->sigmas[k]);
    }
}

loom_status loom_schedule_init_scaled_linear(loom_schedule *s, double beta_start, double beta_end, int n)
{
    if (n < 2 || n > LOOM_SCHEDULE_MAX)
        return loom_fail(LOOM_E_INVALID, "noise schedule: %d timesteps (loom supports 2..%d)", n,
                         LOOM_SCHEDULE_MAX);
    if (!(beta_start > 0 && beta_end > beta_start && beta_end < 1))
        return loom_fail(LOOM_E_INVALID, "noise schedule: betas %g..%g are not 0 < start < end < 1",
                         beta_start, beta_end);
    memset(s, 0, sizeof *s);
    s->n = n;
    s->t_stride = 1;
    /* LDM make_beta_schedule("linear"): float64 linspace of the square roots,
     * squared; cumprod in float64; registered as float32 buffers */
    double a = sqrt(beta_start), b = sqrt(beta_end), prod = 1.0;
    for (int k = 0; k < n; k++) {
        double r = loom_linspace_at(a, b, n, k);
        prod *= 1.0 - r * r;
        s->alphas_cumprod[k] = (float)prod;
    }
    fill_sigmas(s);
    return LOOM_OK;
}

void loom_schedule_init_sd(loom_schedule *s)
{
    /* constant arguments: cannot fail */
    (void)loom_schedule_init_scaled_linear(s, 0.00085, 0.012, 1000);
}

loom_status loom_schedule_init_lcm(loom_schedule *lcm, const loom_schedule *base, int original_steps)
{
    if (base->quantize || base->t_stride != 1)
        return loom_fail(LOOM_E_INVALID, "LCM schedule: the base must be a model schedule");
    if (original_steps < 2 || original_steps > base->n || base->n % original_steps != 0)
        return loom_fail(LOOM_E_INVALID, "LCM schedule: %d original steps do not divide %d timesteps",
                         original_steps, base->n);
    int skip = base->n / original_steps;
    memset(lcm, 0, sizeof *lcm);
    lcm->n = original_steps;
    lcm->t_stride = skip;
    lcm->t_offset = skip - 1;
    lcm->quantize = 1;
    /* A1111: alphas_cumprod_valid[orig-1-x] = alphas_cumprod[n-1-x*skip] */
    for (int x = 0; x < original_steps; x++)
        lcm->alphas_cumprod[original_steps - 1 - x] = base->alphas_cumprod[base->n - 1 - x * skip];
    fill_sigmas(lcm);
    return LOOM_OK;
}

double loom_schedule_sigma_min(const loom_schedule *s) { return s->sigmas[0]; }
double loom_schedule_sigma_max(const loom_schedule *s) { return s->sigmas[s->n - 1]; }

double loom_schedule_sigma_to_t(const loom_schedule *s, double sigma)
{
    if (!(sigma > 0)) return (double)s->t_offset; /* log(0) = -inf lands on level 0 */
    double ls = log(sigma);
    if (s->quantize) {
        /* A1111 LCM: argmin |log sigma - log_sigmas| (first on ties) */
        int best = 0;
        double bd = fabs(ls - s->log_sigmas[0]);
        for (int k = 1; k < s->n; k++) {
            double d = fabs(ls - s->log_sigmas[k]);
            if (d < bd) bd = d, best = k;
        }
        return (double)best * s->t_stride + s->t_offset;
    }
    /* k-diffusion: low = last level with log_sigmas <= log sigma (0 if none),
     * clamped to n-2; w = (low - ls) / (low - high) clamped to [0, 1] */
    int count = 0;
    for (int k = 0; k < s->n; k++)
        if (ls - s->log_sigmas[k] >= 0) count++;
    int lo = count > 0 ? count - 1 : 0;
    if (lo > s->n - 2) lo = s->n - 2;
    double l = s->log_sigmas[lo], h = s->log_sigmas[lo + 1];
    double w = (l - ls) / (l - h);
    if (w < 0) w = 0;
    if (w > 1) w = 1;
    double t = (1 - w) * lo + w * (lo + 1);
    return t * s->t_stride + s->t_offset;
}

double loom_schedule_t_to_sigma(const loom_schedule *s, double t)
{
    /* k-diffusion rounds t to float32 (t.float()); A1111's LCM maps the
     * timestep to a level first and clamps it to the table */
    float tf = (float)((t - s->t_offset) / s->t_stride);
    if (!(tf > 0)) tf = 0; /* also NaN */
    if (tf > (float)(s->n - 1)) tf = (float)(s->n - 1);
    float lo_f = floorf(tf);
    int lo = (int)lo_f, hi = (int)ceilf(tf);
    float w = tf - lo_f;        /* torch frac(): exact */
    float one_minus_w = 1.0f - w; /* computed on the float32 tensor, as in k-diffusion */
    double log_sigma = (double)one_minus_w * s->log_sigmas[lo] + (double)w * s->log_sigmas[hi];
    return exp(log_sigma);
}

void loom_schedule_lcm_scalings(const loom_schedule *s, double sigma, double *c_skip, double *c_out)
{
    const double sigma_data = 0.5;
    double st = loom_schedule_sigma_to_t(s, sigma) * 10.0;
    *c_skip = sigma_data * sigma_data / (st * st + sigma_data * sigma_data);
    *c_out = st / sqrt(st * st + sigma_data * sigma_data);
}
