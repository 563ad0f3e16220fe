/* schedule_sigmas.c — the schedulers: a model schedule and a step count in,
 * a descending sigma table ending in 0 out. Formulas: k-diffusion
 * sampling.py (get_sigmas_karras, get_sigmas_exponential) and
 * external.py (DiscreteSchedule.get_sigmas); A1111 modules/sd_schedulers.py
 * (normal_scheduler, sgm_uniform, simple_scheduler, ddim_scheduler), which
 * ComfyUI's comfy/samplers.py matches for SD models. */
#define _POSIX_C_SOURCE 200809L /* strcasecmp */
#include "schedule.h"

#include <math.h>
#include <strings.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* one table feeds names, labels and parsing (style.md practice 11) */
static const struct {
    const char *name, *label;
    const char *alias[4];
} k_sched[] = {
    [LOOM_SCHED_NORMAL] = {"normal", "Normal", {"uniform", "discrete"}},
    [LOOM_SCHED_KARRAS] = {"karras", "Karras", {0}},
    [LOOM_SCHED_EXPONENTIAL] = {"exponential", "Exponential", {0}},
    [LOOM_SCHED_SGM_UNIFORM] = {"sgm_uniform", "SGM Uniform", {"SGMUniform"}},
    [LOOM_SCHED_SIMPLE] = {"simple", "Simple", {0}},
    [LOOM_SCHED_DDIM_UNIFORM] = {"ddim_uniform", "DDIM", {"ddim"}},
};
_Static_assert(LEN(k_sched) == LOOM_SCHED_COUNT, "scheduler table out of step with the enum");

const char *loom_scheduler_name(loom_scheduler s)
{
    return (unsigned)s < LOOM_SCHED_COUNT ? k_sched[s].name : "?";
}

const char *loom_scheduler_label(loom_scheduler s)
{
    return (unsigned)s < LOOM_SCHED_COUNT ? k_sched[s].label : "?";
}

const char *loom_scheduler_names(void)
{
    return "normal, karras, exponential, sgm_uniform, simple, ddim_uniform";
}

loom_status loom_scheduler_parse(const char *name, loom_scheduler *out)
{
    if (name) {
        for (int s = 0; s < LOOM_SCHED_COUNT; s++) {
            if (!strcasecmp(name, k_sched[s].name) || !strcasecmp(name, k_sched[s].label)) {
                *out = (loom_scheduler)s;
                return LOOM_OK;
            }
            for (int a = 0; a < LEN(k_sched[s].alias) && k_sched[s].alias[a]; a++)
                if (!strcasecmp(name, k_sched[s].alias[a])) {
                    *out = (loom_scheduler)s;
                    return LOOM_OK;
                }
        }
    }
    char buf[64];
    return loom_fail(LOOM_E_INVALID, "unknown scheduler '%s' (valid: %s)",
                     loom_printable(name ? name : "", buf, sizeof buf), loom_scheduler_names());
}

/* A1111 ddim_scheduler / ComfyUI ddim_uniform: stride max(levels / steps, 1) from level 1 */
static int ddim_uniform_count(const loom_schedule *s, int steps, int *stride)
{
    int ss = s->n / steps;
    if (ss < 1) ss = 1;
    if (stride) *stride = ss;
    return (s->n - 1 + ss - 1) / ss; /* levels 1, 1+ss, ... below n */
}

int loom_schedule_sigmas_len(const loom_schedule *s, loom_scheduler sched, int steps)
{
    if (steps < 1 || steps > LOOM_MAX_STEPS || (unsigned)sched >= LOOM_SCHED_COUNT) return -1;
    if (sched == LOOM_SCHED_DDIM_UNIFORM) return ddim_uniform_count(s, steps, NULL) + 1;
    return steps + 1;
}

loom_status loom_schedule_sigmas(const loom_schedule *s, loom_scheduler sched, int steps,
                                 double *out, int cap, int *n_out)
{
    int len = loom_schedule_sigmas_len(s, sched, steps);
    if (len < 0) {
        if ((unsigned)sched >= LOOM_SCHED_COUNT)
            return loom_fail(LOOM_E_INVALID, "scheduler %d does not exist", (int)sched);
        return loom_fail(LOOM_E_INVALID, "steps %d out of range (1..%d)", steps, LOOM_MAX_STEPS);
    }
    if (len > cap)
        return loom_fail(LOOM_E_INVALID, "%s with %d steps needs %d sigmas, room for %d",
                         loom_scheduler_name(sched), steps, len, cap);
    double smin = loom_schedule_sigma_min(s), smax = loom_schedule_sigma_max(s);
    switch (sched) {
    case LOOM_SCHED_NORMAL:
    case LOOM_SCHED_SGM_UNIFORM: {
        /* A1111 normal_scheduler: t from sigma_to_t(sigma_max) to sigma_to_t(sigma_min)
         * (for the model schedule exactly k-diffusion's linspace(t_max, 0, n)); sgm takes
         * steps + 1 points and drops the last */
        double t0 = loom_schedule_sigma_to_t(s, smax), t1 = loom_schedule_sigma_to_t(s, smin);
        int pts = sched == LOOM_SCHED_NORMAL ? steps : steps + 1;
        for (int i = 0; i < steps; i++)
            out[i] = loom_schedule_t_to_sigma(s, loom_linspace_at(t0, t1, pts, i));
        break;
    }
    case LOOM_SCHED_KARRAS: {
        const double rho = 7.0;
        double min_inv = pow(smin, 1.0 / rho), max_inv = pow(smax, 1.0 / rho);
        for (int i = 0; i < steps; i++) {
            double ramp = loom_linspace_at(0.0, 1.0, steps, i);
            out[i] = pow(max_inv + ramp * (min_inv - max_inv), rho);
        }
        break;
    }
    case LOOM_SCHED_EXPONENTIAL: {
        double a = log(smax), b = log(smin);
        for (int i = 0; i < steps; i++) out[i] = exp(loom_linspace_at(a, b, steps, i));
        break;
    }
    case LOOM_SCHED_SIMPLE: {
        /* sigmas[-(1 + int(x * levels / steps))] */
        double ss = (double)s->n / steps;
        for (int i = 0; i < steps; i++) out[i] = s->sigmas[s->n - 1 - (int)(i * ss)];
        break;
    }
    case LOOM_SCHED_DDIM_UNIFORM: {
        int ss, cnt = ddim_uniform_count(s, steps, &ss);
        for (int i = 0; i < cnt; i++) out[cnt - 1 - i] = s->sigmas[1 + i * ss];
        break;
    }
    default:
        return loom_fail(LOOM_E_INVALID, "scheduler %d does not exist", (int)sched);
    }
    out[len - 1] = 0.0;
    *n_out = len;
    return LOOM_OK;
}
