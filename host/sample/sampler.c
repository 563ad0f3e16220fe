/* sampler.c — sampler names, A1111's per-sampler defaults and sigma tables,
 * and loom_sample: validation, workspace, noise sources, dispatch. The
 * update rules live in sampler_euler.c, sampler_dpmpp.c, sampler_lms.c and
 * sampler_ddim.c. */
#define _POSIX_C_SOURCE 200809L /* strcasecmp */
#include "sampler_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef loom_status (*run_fn)(loom_sampler_ctx *c);

/* one table feeds every spelling, the defaults and the dispatch (style.md
 * practice 11). A1111 names and k_* aliases: modules/sd_samplers_kdiffusion.py,
 * sd_samplers_timesteps.py, sd_samplers_lcm.py; ComfyUI: comfy/samplers.py
 * KSAMPLER_NAMES. `sched` is A1111's "Automatic" choice; `bufs` the
 * workspace the update needs. */
static const struct {
    const char *name, *a1111, *comfy;
    const char *alias[3];
    loom_scheduler sched;
    int stochastic, bufs;
    run_fn run;
} k_samplers[] = {
    [LOOM_SAMPLER_EULER] = {"euler", "Euler", "euler", {"k_euler"}, LOOM_SCHED_NORMAL, 0, 2, loom_run_euler},
    [LOOM_SAMPLER_EULER_A] = {"euler_a", "Euler a", "euler_ancestral", {"k_euler_a", "k_euler_ancestral"},
                              LOOM_SCHED_NORMAL, 1, 2, loom_run_euler_a},
    [LOOM_SAMPLER_HEUN] = {"heun", "Heun", "heun", {"k_heun"}, LOOM_SCHED_NORMAL, 0, 4, loom_run_heun},
    [LOOM_SAMPLER_DPM2] = {"dpm2", "DPM2", "dpm_2", {"k_dpm_2"}, LOOM_SCHED_KARRAS, 0, 4, loom_run_dpm2},
    [LOOM_SAMPLER_DPMPP_2S_A] = {"dpm++2s_a", "DPM++ 2S a", "dpmpp_2s_ancestral", {"k_dpmpp_2s_a"},
                                 LOOM_SCHED_KARRAS, 1, 4, loom_run_dpmpp_2s_a},
    [LOOM_SAMPLER_DPMPP_2M] = {"dpm++2m", "DPM++ 2M", "dpmpp_2m", {"k_dpmpp_2m"}, LOOM_SCHED_KARRAS, 0, 2,
                               loom_run_dpmpp_2m},
    [LOOM_SAMPLER_DPMPP_2M_SDE] = {"dpm++2m_sde", "DPM++ 2M SDE", "dpmpp_2m_sde", {"k_dpmpp_2m_sde"},
                                   LOOM_SCHED_EXPONENTIAL, 1, 3, loom_run_dpmpp_2m_sde},
    [LOOM_SAMPLER_LMS] = {"lms", "LMS", "lms", {"k_lms"}, LOOM_SCHED_NORMAL, 0, 5, loom_run_lms},
    [LOOM_SAMPLER_DDIM] = {"ddim", "DDIM", "ddim", {0}, LOOM_SCHED_NORMAL, 0, 3, loom_run_ddim},
    [LOOM_SAMPLER_LCM] = {"lcm", "LCM", "lcm", {"k_lcm"}, LOOM_SCHED_NORMAL, 1, 2, loom_run_lcm},
};
_Static_assert(LEN(k_samplers) == LOOM_SAMPLER_COUNT, "sampler table out of step with the enum");

const char *loom_sampler_name(loom_sampler s)
{
    return (unsigned)s < LOOM_SAMPLER_COUNT ? k_samplers[s].name : "?";
}

const char *loom_sampler_a1111_name(loom_sampler s)
{
    return (unsigned)s < LOOM_SAMPLER_COUNT ? k_samplers[s].a1111 : "?";
}

const char *loom_sampler_comfy_name(loom_sampler s)
{
    return (unsigned)s < LOOM_SAMPLER_COUNT ? k_samplers[s].comfy : "?";
}

const char *loom_sampler_names(void)
{
    return "euler, euler_a, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2m_sde, lms, ddim, lcm";
}

static int match_sampler(const char *name, size_t len, loom_sampler *out)
{
    for (int s = 0; s < LOOM_SAMPLER_COUNT; s++) {
        const char *cand[3 + LEN(k_samplers[0].alias)] = {k_samplers[s].name, k_samplers[s].a1111,
                                                          k_samplers[s].comfy};
        for (int a = 0; a < LEN(k_samplers[s].alias); a++) cand[3 + a] = k_samplers[s].alias[a];
        for (int c = 0; c < LEN(cand); c++)
            if (cand[c] && strlen(cand[c]) == len && !strncasecmp(name, cand[c], len)) {
                *out = (loom_sampler)s;
                return 1;
            }
    }
    return 0;
}

loom_status loom_sampler_parse(const char *name, loom_sampler *out, loom_scheduler *sched_out, int *has_sched)
{
    if (has_sched) *has_sched = 0;
    size_t len = name ? strlen(name) : 0;
    if (len && match_sampler(name, len, out)) return LOOM_OK;
    /* A1111's legacy combined names: "<sampler> <Scheduler>" ("DPM++ 2M Karras")
     * and the k_*_ka aliases ("k_dpmpp_2m_ka") */
    for (int sc = 0; len && sc < LOOM_SCHED_COUNT; sc++) {
        const char *sfx[2] = {loom_scheduler_label((loom_scheduler)sc), loom_scheduler_name((loom_scheduler)sc)};
        for (int v = 0; v < 2; v++) {
            size_t sl = strlen(sfx[v]);
            if (len > sl + 1 && name[len - sl - 1] == ' ' && !strcasecmp(name + len - sl, sfx[v]) &&
                match_sampler(name, len - sl - 1, out)) {
                if (sched_out) *sched_out = (loom_scheduler)sc;
                if (has_sched) *has_sched = 1;
                return LOOM_OK;
            }
        }
    }
    if (len > 3 && !strcasecmp(name + len - 3, "_ka") && match_sampler(name, len - 3, out)) {
        if (sched_out) *sched_out = LOOM_SCHED_KARRAS;
        if (has_sched) *has_sched = 1;
        return LOOM_OK;
    }
    char buf[64];
    return loom_fail(LOOM_E_INVALID, "unknown sampler '%s' (valid: %s; A1111 and ComfyUI spellings too)",
                     loom_printable(name ? name : "", buf, sizeof buf), loom_sampler_names());
}

loom_scheduler loom_sampler_default_scheduler(loom_sampler s)
{
    return (unsigned)s < LOOM_SAMPLER_COUNT ? k_samplers[s].sched : LOOM_SCHED_NORMAL;
}

loom_status loom_scheduler_resolve(const char *name, loom_sampler s, loom_scheduler *out)
{
    if (!name || !*name || !strcasecmp(name, "automatic") || !strcasecmp(name, "auto")) {
        *out = loom_sampler_default_scheduler(s);
        return LOOM_OK;
    }
    return loom_scheduler_parse(name, out);
}

int loom_sampler_is_stochastic(loom_sampler s)
{
    return (unsigned)s < LOOM_SAMPLER_COUNT ? k_samplers[s].stochastic : 0;
}

loom_sampler_opts loom_sampler_default_opts(loom_sampler s)
{
    /* A1111 shared_options: eta_ancestral 1, eta_ddim 0, s_churn 0, s_tmin 0,
     * s_tmax 0 (meaning inf), s_noise 1 */
    loom_sampler_opts o = {1.0, 1.0, 0.0, 0.0, INFINITY, 0};
    if (s == LOOM_SAMPLER_DDIM) o.eta = 0.0;
    return o;
}

/* A1111 CompVisSampler.get_timesteps: clip(range(0, 1000, 1000 // steps) + 1, 0, 999) */
static loom_status ddim_table(const loom_schedule *s, int steps, double **out, int *n_out)
{
    if (s->quantize || s->t_stride != 1)
        return loom_fail(LOOM_E_INVALID, "ddim: needs the model's schedule, not an LCM one");
    if (steps < 1 || steps > s->n)
        return loom_fail(LOOM_E_INVALID, "ddim: steps %d out of range (1..%d)", steps, s->n);
    int stride = s->n / steps, len = (s->n + stride - 1) / stride;
    double *t = malloc((size_t)len * sizeof *t);
    if (!t) return loom_fail(LOOM_E_NOMEM, "ddim: out of memory");
    for (int i = 0; i < len; i++) {
        int ts = i * stride + 1;
        if (ts > s->n - 1) ts = s->n - 1;
        t[len - 1 - i] = s->sigmas[ts];
    }
    *out = t;
    *n_out = len;
    return LOOM_OK;
}

loom_status loom_sampler_sigmas(const loom_schedule *s, loom_sampler sampler, loom_scheduler sched, int steps,
                                double **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if ((unsigned)sampler >= LOOM_SAMPLER_COUNT)
        return loom_fail(LOOM_E_INVALID, "sampler %d does not exist", (int)sampler);
    if (sampler == LOOM_SAMPLER_DDIM) return ddim_table(s, steps, out, n_out);
    /* A1111 discard_next_to_last_sigma: one more step, then drop sigmas[-2] */
    int discard = sampler == LOOM_SAMPLER_DPM2;
    if (steps < 1 || steps > LOOM_MAX_STEPS - discard)
        return loom_fail(LOOM_E_INVALID, "steps %d out of range (1..%d)", steps, LOOM_MAX_STEPS - discard);
    int len = loom_schedule_sigmas_len(s, sched, steps + discard);
    if (len < 0) return loom_fail(LOOM_E_INVALID, "scheduler %d does not exist", (int)sched);
    double *t = malloc((size_t)len * sizeof *t);
    if (!t) return loom_fail(LOOM_E_NOMEM, "sigmas: out of memory");
    loom_status st = loom_schedule_sigmas(s, sched, steps + discard, t, len, &len);
    if (st != LOOM_OK) {
        free(t);
        return st;
    }
    if (discard) {
        t[len - 2] = t[len - 1];
        len--;
    }
    *out = t;
    *n_out = len;
    return LOOM_OK;
}

double loom_sampler_noise_scale(loom_sampler s, const double *sigmas, int n_sigmas, int sqrt_one_plus)
{
    if (s == LOOM_SAMPLER_DDIM || n_sigmas < 1) return 1.0;
    return sqrt_one_plus ? sqrt(1.0 + sigmas[0] * sigmas[0]) : sigmas[0];
}

/* ---- running --------------------------------------------------------------- */

loom_status loom_sctx_denoise(loom_sampler_ctx *c, const float *x, double sigma, float *out)
{
    loom_status s = c->job->denoise(c->job->denoise_ctx, x, sigma, out, c->n);
    if (s != LOOM_OK) return loom_fail_wrap(s, "%s: model at sigma %g", loom_sampler_name(c->job->sampler), sigma);
    return LOOM_OK;
}

loom_status loom_sctx_randn(loom_sampler_ctx *c, int used, float *out, int *drawn)
{
    *drawn = 0;
    if (!c->job->noise) {
        if (used)
            return loom_fail(LOOM_E_INVALID, "%s: needs a noise source and none was given",
                             loom_sampler_name(c->job->sampler));
        return LOOM_OK;
    }
    loom_status s = c->job->noise(c->job->noise_ctx, out, c->n);
    if (s != LOOM_OK) return loom_fail_wrap(s, "%s: noise", loom_sampler_name(c->job->sampler));
    c->job->draws++;
    *drawn = 1;
    return LOOM_OK;
}

loom_status loom_sctx_noise(loom_sampler_ctx *c, double sigma, double sigma_next, float *out)
{
    if (c->bt) {
        loom_status s = loom_bt_noise_sample(c->bt, sigma, sigma_next, out);
        if (s != LOOM_OK) return loom_fail_wrap(s, "%s", loom_sampler_name(c->job->sampler));
        return LOOM_OK;
    }
    int drawn;
    return loom_sctx_randn(c, 1, out, &drawn);
}

void loom_sctx_step_done(loom_sampler_ctx *c, int i, const float *denoised)
{
    if (c->job->on_step) c->job->on_step(c->job->step_ctx, i, c->steps, c->x, denoised, c->n);
}

static loom_status check_job(const loom_sample_job *j, int64_t n)
{
    const char *name = loom_sampler_name(j->sampler);
    if ((unsigned)j->sampler >= LOOM_SAMPLER_COUNT)
        return loom_fail(LOOM_E_INVALID, "sampler %d does not exist", (int)j->sampler);
    if (!j->denoise) return loom_fail(LOOM_E_INVALID, "%s: no model callback", name);
    if (n <= 0 || (uint64_t)n > SIZE_MAX / sizeof(float) / LOOM_SAMPLER_BUFS)
        return loom_fail(LOOM_E_INVALID, "%s: latent of %lld floats", name, (long long)n);
    if (!j->sigmas || j->n_sigmas < 1 || j->n_sigmas > LOOM_MAX_STEPS + 1)
        return loom_fail(LOOM_E_INVALID, "%s: sigma table of %d entries (1..%d)", name, j->n_sigmas,
                         LOOM_MAX_STEPS + 1);
    for (int i = 0; i < j->n_sigmas; i++) {
        double s = j->sigmas[i];
        int last = i == j->n_sigmas - 1;
        /* every sigma the model sees must be positive; the last may be 0 */
        if (!isfinite(s) || s < 0 || (!last && s == 0))
            return loom_fail(LOOM_E_INVALID, "%s: sigma[%d] = %g is not a usable noise level", name, i, s);
        if (i > 0 && !(s < j->sigmas[i - 1]))
            return loom_fail(LOOM_E_INVALID,
                             "%s: sigmas must decrease strictly (sigma[%d] = %g after %g; more steps than levels?)",
                             name, i, s, j->sigmas[i - 1]);
    }
    if (j->sampler == LOOM_SAMPLER_DDIM && j->sigmas[j->n_sigmas - 1] == 0)
        return loom_fail(LOOM_E_INVALID, "ddim: the table must come from loom_sampler_sigmas (it ends at t = 1)");
    const loom_sampler_opts *o = &j->opts;
    if (!isfinite(o->eta) || o->eta < 0 || !isfinite(o->s_noise) || !isfinite(o->s_churn) || o->s_churn < 0 ||
        isnan(o->s_tmin) || isnan(o->s_tmax))
        return loom_fail(LOOM_E_INVALID, "%s: bad options (eta %g, s_noise %g, s_churn %g)", name, o->eta,
                         o->s_noise, o->s_churn);
    /* the noise the run will use (not the unused draws), checked before any model call */
    int needs = 0;
    switch (j->sampler) {
    case LOOM_SAMPLER_EULER:
    case LOOM_SAMPLER_HEUN:
    case LOOM_SAMPLER_DPM2: needs = o->s_churn > 0; break;
    case LOOM_SAMPLER_EULER_A:
    case LOOM_SAMPLER_DPMPP_2S_A:
    case LOOM_SAMPLER_LCM: needs = j->n_sigmas > 2; break;
    case LOOM_SAMPLER_DPMPP_2M_SDE: needs = o->eta != 0 && j->n_sigmas > 2 && !j->seeds; break;
    case LOOM_SAMPLER_DDIM: needs = o->eta != 0 && j->n_sigmas > 1; break;
    default: break;
    }
    if (needs && !j->noise) return loom_fail(LOOM_E_INVALID, "%s: needs a noise source and none was given", name);
    if (j->sampler == LOOM_SAMPLER_DPMPP_2M_SDE && j->seeds) {
        if (j->n_seeds <= 0 || n % j->n_seeds != 0)
            return loom_fail(LOOM_E_INVALID, "%s: %lld floats do not split into %d images", name, (long long)n,
                             j->n_seeds);
        if (!j->randn_seeded) return loom_fail(LOOM_E_INVALID, "%s: seeds given without a seeded randn", name);
    }
    return LOOM_OK;
}

static loom_status make_bt(loom_sampler_ctx *c)
{
    const loom_sample_job *j = c->job;
    /* A1111 create_noise_sampler: sigmas[sigmas > 0].min(), sigmas.max() of its
     * float32 table */
    double lo = 0, hi = 0;
    for (int i = 0; i < j->n_sigmas; i++) {
        double s = j->sigmas[i];
        if (s > 0 && (lo == 0 || s < lo)) lo = s;
        if (s > hi) hi = s;
    }
    if (j->bt_sigma_min > 0) lo = j->bt_sigma_min;
    if (j->bt_sigma_max > 0) hi = j->bt_sigma_max;
    return loom_bt_noise_create((double)(float)lo, (double)(float)hi, j->seeds, j->n_seeds, c->n, j->randn_seeded,
                                j->randn_seeded_ctx, &c->bt);
}

loom_status loom_sample(loom_sample_job *job, float *x, int64_t n)
{
    job->draws = 0;
    LOOM_TRY(check_job(job, n));
    loom_sampler_ctx c = {0};
    c.job = job;
    c.x = x;
    c.n = n;
    c.sig = job->sigmas;
    c.steps = job->n_sigmas - 1;
    if (c.steps == 0) return LOOM_OK;
    loom_status st = LOOM_OK;
    int nb = k_samplers[job->sampler].bufs;
    for (int b = 0; b < nb; b++) {
        c.buf[b] = malloc((size_t)n * sizeof(float));
        if (!c.buf[b]) {
            st = loom_fail(LOOM_E_NOMEM, "%s: out of memory for %lld floats", loom_sampler_name(job->sampler),
                           (long long)n);
            goto done;
        }
    }
    if (job->sampler == LOOM_SAMPLER_DPMPP_2M_SDE && job->seeds && job->opts.eta != 0 && c.steps > 1) {
        st = make_bt(&c);
        if (st != LOOM_OK) goto done;
    }
    st = k_samplers[job->sampler].run(&c);
done:
    loom_bt_noise_free(c.bt);
    for (int b = 0; b < LOOM_SAMPLER_BUFS; b++) free(c.buf[b]);
    return st;
}
