/* schedule.h — an SD model's discrete noise schedule and the schedulers that
 * turn it into the sigma table a sampler walks.
 *
 * The model side follows k-diffusion's DiscreteSchedule / CompVisDenoiser
 * (external.py): sigma_k = sqrt((1 - alphas_cumprod_k) / alphas_cumprod_k),
 * t <-> sigma by linear interpolation of log sigma between neighbouring
 * levels. The schedulers follow k-diffusion (get_sigmas, get_sigmas_karras,
 * get_sigmas_exponential) and A1111 modules/sd_schedulers.py (sgm_uniform,
 * simple, ddim), which ComfyUI's comfy/samplers.py computes the same way for
 * SD models. Everything is double; tables end in 0.
 *
 * Precision: alphas_cumprod are float32, as LDM registers them (computed in
 * float64, stored float32); sigmas derived from them are double. k-diffusion's
 * t_to_sigma rounds t to float32 (t.float()), and so does loom. */
#ifndef LOOM_SCHEDULE_H
#define LOOM_SCHEDULE_H

#include "loom_base.h"

#define LOOM_SCHEDULE_MAX 1000 /* discrete levels of SD1.x/2.x */
#define LOOM_MAX_STEPS 10000   /* sampling steps accepted by the schedulers */

typedef struct loom_schedule {
    int n;               /* levels: 1000, or 50 for A1111's LCM schedule */
    int t_stride;        /* the UNet timestep of level k is k*t_stride + t_offset */
    int t_offset;        /* (1, 0) normally; (20, 19) for LCM */
    int quantize;        /* sigma_to_t snaps to the nearest level (LCM) */
    float alphas_cumprod[LOOM_SCHEDULE_MAX];
    double sigmas[LOOM_SCHEDULE_MAX];     /* ascending with the level */
    double log_sigmas[LOOM_SCHEDULE_MAX];
} loom_schedule;

/* LDM "linear" betas: linspace(sqrt(start), sqrt(end), n)^2 in float64,
 * alphas_cumprod = cumprod(1 - betas), stored float32. */
loom_status loom_schedule_init_scaled_linear(loom_schedule *s, double beta_start, double beta_end, int n);
/* SD1.x / SD2.x: 0.00085 .. 0.012 over 1000 steps. */
void loom_schedule_init_sd(loom_schedule *s);
/* A1111's LCM schedule (sd_samplers_lcm.py LCMCompVisDenoiser): the levels
 * t = 20k + 19 of `base` (original_steps = 50), sigma_to_t snapped to them. */
loom_status loom_schedule_init_lcm(loom_schedule *lcm, const loom_schedule *base, int original_steps);

double loom_schedule_sigma_min(const loom_schedule *s);
double loom_schedule_sigma_max(const loom_schedule *s);
/* The UNet timestep for a sigma (k-diffusion sigma_to_t; LCM: nearest level). */
double loom_schedule_sigma_to_t(const loom_schedule *s, double sigma);
/* The sigma of a (fractional) timestep (k-diffusion t_to_sigma). */
double loom_schedule_t_to_sigma(const loom_schedule *s, double t);
/* A1111 LCM output scaling: denoised = c_skip * x + c_out * (x - sigma * eps),
 * with the timestep sigma_to_t(sigma) * 10 and sigma_data 0.5. */
void loom_schedule_lcm_scalings(const loom_schedule *s, double sigma, double *c_skip, double *c_out);

/* ---- schedulers ------------------------------------------------------------ */

typedef enum loom_scheduler {
    LOOM_SCHED_NORMAL = 0,  /* k-diffusion get_sigmas: t = linspace(t_max, 0, n); A1111 Uniform/Normal */
    LOOM_SCHED_KARRAS,      /* rho 7 between the model's sigma_min and sigma_max */
    LOOM_SCHED_EXPONENTIAL, /* log-linear between sigma_max and sigma_min */
    LOOM_SCHED_SGM_UNIFORM, /* t = linspace(t_max, 0, n + 1)[:-1] */
    LOOM_SCHED_SIMPLE,      /* every (levels/n)-th level from the top */
    LOOM_SCHED_DDIM_UNIFORM,/* levels 1, 1+k, 1+2k, ... (k = levels / n), reversed */
    LOOM_SCHED_COUNT
} loom_scheduler;

const char *loom_scheduler_name(loom_scheduler s);  /* canonical ("sgm_uniform") */
const char *loom_scheduler_label(loom_scheduler s); /* A1111 label ("SGM Uniform"), for infotext */
/* Canonical, A1111 (name or label) and ComfyUI spellings, case-insensitive.
 * Unknown: LOOM_E_INVALID with one line listing the valid names. */
loom_status loom_scheduler_parse(const char *name, loom_scheduler *out);
/* The comma-separated canonical names, for messages and --help. */
const char *loom_scheduler_names(void);

/* Length of the table (including the final 0) for `steps`, or -1 when steps
 * is outside 1..LOOM_MAX_STEPS. ddim_uniform can give more than steps + 1
 * entries when the levels are not a multiple of steps, as in A1111/ComfyUI. */
int loom_schedule_sigmas_len(const loom_schedule *s, loom_scheduler sched, int steps);
/* Fills out[0 .. len-1] (cap entries available), descending, ending in 0. */
loom_status loom_schedule_sigmas(const loom_schedule *s, loom_scheduler sched, int steps,
                                 double *out, int cap, int *n_out);

/* torch.linspace as its CUDA kernel computes it: start + step*i for the first
 * half, end - step*(n-1-i) after (the CPU kernel's vectorised arange can
 * differ in the last bit). */
double loom_linspace_at(double start, double end, int n, int i);

#endif
