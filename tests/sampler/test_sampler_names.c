/* test_sampler_names.c — sampler and scheduler names (style.md "Sampler names":
 * canonical, A1111 and ComfyUI spellings; A1111's legacy combined names and
 * its "Automatic" defaults from modules/sd_samplers_kdiffusion.py), and the
 * argument checks of loom_sample / loom_sampler_sigmas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "testlib.h"

void test_sampler_names(void);
void test_sampler_bad_inputs(void);

static void expect_sampler(const char *name, loom_sampler want, int want_has, loom_scheduler want_sched)
{
    loom_sampler got = LOOM_SAMPLER_COUNT;
    loom_scheduler sched = LOOM_SCHED_COUNT;
    int has = -1;
    loom_status s = loom_sampler_parse(name, &got, &sched, &has);
    T_CHECK(s == LOOM_OK, "parse '%s': %s", name, loom_last_error());
    T_CHECK(got == want, "'%s' -> %s, want %s", name, loom_sampler_name(got), loom_sampler_name(want));
    T_CHECK(has == want_has, "'%s': has_sched %d, want %d", name, has, want_has);
    if (want_has) T_CHECK(sched == want_sched, "'%s': scheduler %s", name, loom_scheduler_name(sched));
}

static void expect_bad_sampler(const char *name)
{
    loom_sampler got;
    loom_status s = loom_sampler_parse(name, &got, NULL, NULL);
    const char *msg = loom_last_error();
    T_CHECK(s == LOOM_E_INVALID, "'%s' accepted", name ? name : "(null)");
    T_CHECK(!strchr(msg, '\n'), "message has a newline: %s", msg);
    T_CHECK(strstr(msg, "unknown sampler") != NULL, "message: %s", msg);
    for (int i = 0; i < LOOM_SAMPLER_COUNT; i++)
        T_CHECK(strstr(msg, loom_sampler_name((loom_sampler)i)) != NULL, "message lacks %s: %s",
                loom_sampler_name((loom_sampler)i), msg);
}

void test_sampler_names(void)
{
    /* the style.md table, row by row */
    static const struct {
        loom_sampler s;
        const char *canon, *a1111, *comfy;
    } rows[] = {
        {LOOM_SAMPLER_EULER, "euler", "Euler", "euler"},
        {LOOM_SAMPLER_EULER_A, "euler_a", "Euler a", "euler_ancestral"},
        {LOOM_SAMPLER_HEUN, "heun", "Heun", "heun"},
        {LOOM_SAMPLER_DPM2, "dpm2", "DPM2", "dpm_2"},
        {LOOM_SAMPLER_DPMPP_2S_A, "dpm++2s_a", "DPM++ 2S a", "dpmpp_2s_ancestral"},
        {LOOM_SAMPLER_DPMPP_2M, "dpm++2m", "DPM++ 2M", "dpmpp_2m"},
        {LOOM_SAMPLER_DPMPP_2M_SDE, "dpm++2m_sde", "DPM++ 2M SDE", "dpmpp_2m_sde"},
        {LOOM_SAMPLER_LMS, "lms", "LMS", "lms"},
        {LOOM_SAMPLER_DDIM, "ddim", "DDIM", "ddim"},
        {LOOM_SAMPLER_LCM, "lcm", "LCM", "lcm"},
    };
    T_CHECK(sizeof rows / sizeof rows[0] == LOOM_SAMPLER_COUNT, "table rows");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        T_CHECK(!strcmp(loom_sampler_name(rows[r].s), rows[r].canon), "name %s", loom_sampler_name(rows[r].s));
        T_CHECK(!strcmp(loom_sampler_a1111_name(rows[r].s), rows[r].a1111), "a1111 %s",
                loom_sampler_a1111_name(rows[r].s));
        T_CHECK(!strcmp(loom_sampler_comfy_name(rows[r].s), rows[r].comfy), "comfy %s",
                loom_sampler_comfy_name(rows[r].s));
        expect_sampler(rows[r].canon, rows[r].s, 0, 0);
        expect_sampler(rows[r].a1111, rows[r].s, 0, 0);
        expect_sampler(rows[r].comfy, rows[r].s, 0, 0);
        /* case does not matter */
        char up[64];
        size_t L = strlen(rows[r].a1111);
        for (size_t i = 0; i <= L; i++) up[i] = (char)(rows[r].a1111[i] >= 'a' && rows[r].a1111[i] <= 'z'
                                                             ? rows[r].a1111[i] - 32
                                                             : rows[r].a1111[i]);
        expect_sampler(up, rows[r].s, 0, 0);
    }
    /* A1111 aliases and legacy combined names */
    expect_sampler("k_euler_a", LOOM_SAMPLER_EULER_A, 0, 0);
    expect_sampler("k_dpmpp_2m", LOOM_SAMPLER_DPMPP_2M, 0, 0);
    expect_sampler("DPM++ 2M Karras", LOOM_SAMPLER_DPMPP_2M, 1, LOOM_SCHED_KARRAS);
    expect_sampler("DPM++ 2M SDE Karras", LOOM_SAMPLER_DPMPP_2M_SDE, 1, LOOM_SCHED_KARRAS);
    expect_sampler("DPM++ 2M SDE Exponential", LOOM_SAMPLER_DPMPP_2M_SDE, 1, LOOM_SCHED_EXPONENTIAL);
    expect_sampler("DPM++ 2S a Karras", LOOM_SAMPLER_DPMPP_2S_A, 1, LOOM_SCHED_KARRAS);
    expect_sampler("LMS Karras", LOOM_SAMPLER_LMS, 1, LOOM_SCHED_KARRAS);
    expect_sampler("DPM2 Karras", LOOM_SAMPLER_DPM2, 1, LOOM_SCHED_KARRAS);
    expect_sampler("dpm++ 2m karras", LOOM_SAMPLER_DPMPP_2M, 1, LOOM_SCHED_KARRAS);
    expect_sampler("Euler SGM Uniform", LOOM_SAMPLER_EULER, 1, LOOM_SCHED_SGM_UNIFORM);
    expect_sampler("k_dpmpp_2m_ka", LOOM_SAMPLER_DPMPP_2M, 1, LOOM_SCHED_KARRAS);
    expect_sampler("k_lms_ka", LOOM_SAMPLER_LMS, 1, LOOM_SCHED_KARRAS);
    expect_sampler("k_dpmpp_2s_a_ka", LOOM_SAMPLER_DPMPP_2S_A, 1, LOOM_SCHED_KARRAS);
    expect_bad_sampler("foo");
    expect_bad_sampler("");
    expect_bad_sampler(NULL);
    expect_bad_sampler("DPM++ 2M SDE Heun"); /* not implemented: must not half-match */
    expect_bad_sampler("DPM2 a");
    expect_bad_sampler("Karras");
    expect_bad_sampler(" Karras");
    expect_bad_sampler("DPM++ 2MKarras");
    expect_bad_sampler("euler\nKarras");
    T_CHECK(loom_sampler_parse("euler", &(loom_sampler){0}, NULL, NULL) == LOOM_OK, "NULL outs");

    /* schedulers: canonical (= ComfyUI), A1111 names and labels */
    static const struct {
        const char *name;
        loom_scheduler s;
    } sch[] = {
        {"normal", LOOM_SCHED_NORMAL}, {"Normal", LOOM_SCHED_NORMAL}, {"uniform", LOOM_SCHED_NORMAL},
        {"Uniform", LOOM_SCHED_NORMAL}, {"discrete", LOOM_SCHED_NORMAL}, {"karras", LOOM_SCHED_KARRAS},
        {"Karras", LOOM_SCHED_KARRAS}, {"exponential", LOOM_SCHED_EXPONENTIAL},
        {"Exponential", LOOM_SCHED_EXPONENTIAL}, {"sgm_uniform", LOOM_SCHED_SGM_UNIFORM},
        {"SGM Uniform", LOOM_SCHED_SGM_UNIFORM}, {"SGMUniform", LOOM_SCHED_SGM_UNIFORM},
        {"simple", LOOM_SCHED_SIMPLE}, {"Simple", LOOM_SCHED_SIMPLE}, {"ddim_uniform", LOOM_SCHED_DDIM_UNIFORM},
        {"DDIM", LOOM_SCHED_DDIM_UNIFORM}, {"ddim", LOOM_SCHED_DDIM_UNIFORM},
    };
    for (size_t i = 0; i < sizeof sch / sizeof sch[0]; i++) {
        loom_scheduler got = LOOM_SCHED_COUNT;
        T_OK(loom_scheduler_parse(sch[i].name, &got));
        T_CHECK(got == sch[i].s, "scheduler '%s' -> %s", sch[i].name, loom_scheduler_name(got));
    }
    for (int i = 0; i < LOOM_SCHED_COUNT; i++) {
        loom_scheduler got = LOOM_SCHED_COUNT;
        T_OK(loom_scheduler_parse(loom_scheduler_name((loom_scheduler)i), &got));
        T_CHECK(got == (loom_scheduler)i, "round trip %d", i);
        T_OK(loom_scheduler_parse(loom_scheduler_label((loom_scheduler)i), &got));
        T_CHECK(got == (loom_scheduler)i, "label round trip %d", i);
    }
    loom_scheduler got;
    T_CHECK(loom_scheduler_parse("beta", &got) == LOOM_E_INVALID, "beta accepted");
    T_CHECK(strstr(loom_last_error(), "sgm_uniform") && !strchr(loom_last_error(), '\n'), "message: %s",
            loom_last_error());
    T_CHECK(loom_scheduler_parse(NULL, &got) == LOOM_E_INVALID, "NULL accepted");

    /* A1111's "Automatic" (its samplers table, v1.10) */
    static const loom_scheduler autos[LOOM_SAMPLER_COUNT] = {
        [LOOM_SAMPLER_EULER] = LOOM_SCHED_NORMAL,        [LOOM_SAMPLER_EULER_A] = LOOM_SCHED_NORMAL,
        [LOOM_SAMPLER_HEUN] = LOOM_SCHED_NORMAL,         [LOOM_SAMPLER_DPM2] = LOOM_SCHED_KARRAS,
        [LOOM_SAMPLER_DPMPP_2S_A] = LOOM_SCHED_KARRAS,   [LOOM_SAMPLER_DPMPP_2M] = LOOM_SCHED_KARRAS,
        [LOOM_SAMPLER_DPMPP_2M_SDE] = LOOM_SCHED_EXPONENTIAL, [LOOM_SAMPLER_LMS] = LOOM_SCHED_NORMAL,
        [LOOM_SAMPLER_DDIM] = LOOM_SCHED_NORMAL,         [LOOM_SAMPLER_LCM] = LOOM_SCHED_NORMAL,
    };
    for (int i = 0; i < LOOM_SAMPLER_COUNT; i++) {
        T_CHECK(loom_sampler_default_scheduler((loom_sampler)i) == autos[i], "automatic for %s",
                loom_sampler_name((loom_sampler)i));
        T_OK(loom_scheduler_resolve("Automatic", (loom_sampler)i, &got));
        T_CHECK(got == autos[i], "resolve Automatic for %s", loom_sampler_name((loom_sampler)i));
    }
    T_OK(loom_scheduler_resolve(NULL, LOOM_SAMPLER_DPMPP_2M_SDE, &got));
    T_CHECK(got == LOOM_SCHED_EXPONENTIAL, "resolve NULL");
    T_OK(loom_scheduler_resolve("sgm_uniform", LOOM_SAMPLER_DPMPP_2M, &got));
    T_CHECK(got == LOOM_SCHED_SGM_UNIFORM, "resolve explicit");
    T_CHECK(loom_scheduler_resolve("nope", LOOM_SAMPLER_EULER, &got) == LOOM_E_INVALID, "resolve nope");

    /* initial noise: A1111 x = noise * sigmas[0]; ComfyUI / sgm_noise_multiplier
     * sqrt(1 + sigmas[0]^2); DDIM starts from the unscaled noise */
    double tab[3] = {14.6, 3.0, 0.0};
    T_CHECK(loom_sampler_noise_scale(LOOM_SAMPLER_EULER, tab, 3, 0) == 14.6, "A1111 scale");
    T_CHECK(loom_sampler_noise_scale(LOOM_SAMPLER_EULER, tab, 3, 1) == sqrt(1 + 14.6 * 14.6), "sqrt(1+s^2)");
    T_CHECK(loom_sampler_noise_scale(LOOM_SAMPLER_DDIM, tab, 3, 0) == 1.0, "ddim scale");
}

/* ---- bad inputs ------------------------------------------------------------- */

typedef struct counting {
    int calls, fail_at;
} counting;

static loom_status count_denoise(void *ctx, const float *x, double sigma, float *out, int64_t n)
{
    counting *c = ctx;
    if (++c->calls == c->fail_at) return loom_fail(LOOM_E_DEVICE, "toy model failed");
    for (int64_t k = 0; k < n; k++) out[k] = x[k] * (float)(1.0 / (1.0 + sigma));
    return LOOM_OK;
}

static loom_status zero_noise(void *ctx, float *out, int64_t n)
{
    int *fail = ctx;
    if (fail && *fail) return loom_fail(LOOM_E_INVALID, "rng exhausted");
    memset(out, 0, (size_t)n * sizeof(float));
    return LOOM_OK;
}

static void expect_fail(loom_sample_job *j, float *x, int64_t n, const char *what, const char *needle)
{
    loom_status s = loom_sample(j, x, n);
    const char *msg = loom_last_error();
    T_CHECK(s != LOOM_OK, "%s accepted", what);
    T_CHECK(!strchr(msg, '\n'), "%s: newline in message: %s", what, msg);
    if (needle) T_CHECK(strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, msg, needle);
}

void test_sampler_bad_inputs(void)
{
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double good[4] = {10, 5, 1, 0};
    counting cnt = {0, 0};
    loom_sample_job j = {0};
    j.sampler = LOOM_SAMPLER_EULER;
    j.sigmas = good;
    j.n_sigmas = 4;
    j.opts = loom_sampler_default_opts(j.sampler);
    j.denoise = count_denoise;
    j.denoise_ctx = &cnt;
    T_OK(loom_sample(&j, x, 8)); /* deterministic: no noise callback needed */
    T_CHECK(cnt.calls == 3 && j.draws == 0, "euler calls %d draws %lld", cnt.calls, (long long)j.draws);

    loom_sample_job b = j;
    b.denoise = NULL;
    expect_fail(&b, x, 8, "no model", "model");
    b = j;
    expect_fail(&b, x, 0, "empty latent", "latent");
    b.n_sigmas = 0;
    expect_fail(&b, x, 8, "empty table", "sigma table");
    double up[3] = {1, 5, 0}, zero_mid[3] = {5, 0, 0}, nan_t[3] = {5, NAN, 0}, neg[3] = {5, 1, -1},
           dup[4] = {5, 2, 2, 0};
    b = j;
    b.sigmas = up;
    b.n_sigmas = 3;
    expect_fail(&b, x, 8, "increasing sigmas", "decrease");
    b.sigmas = zero_mid;
    expect_fail(&b, x, 8, "zero inside the table", "sigma[1]");
    b.sigmas = nan_t;
    expect_fail(&b, x, 8, "NaN sigma", "sigma[1]");
    b.sigmas = neg;
    expect_fail(&b, x, 8, "negative sigma", "sigma[2]");
    b.sigmas = dup;
    b.n_sigmas = 4;
    b.sampler = LOOM_SAMPLER_LMS;
    expect_fail(&b, x, 8, "repeated sigma for lms", "decrease");
    b = j;
    b.sampler = (loom_sampler)99;
    expect_fail(&b, x, 8, "sampler 99", "does not exist");
    b = j;
    b.opts.eta = NAN;
    expect_fail(&b, x, 8, "NaN eta", "options");

    /* stochastic samplers without noise fail before calling the model */
    for (int s = 0; s < LOOM_SAMPLER_COUNT; s++) {
        if (s == LOOM_SAMPLER_DDIM) continue;
        b = j;
        b.sampler = (loom_sampler)s;
        b.opts = loom_sampler_default_opts(b.sampler);
        cnt.calls = 0;
        loom_status st = loom_sample(&b, x, 8);
        if (loom_sampler_is_stochastic(b.sampler)) {
            T_CHECK(st == LOOM_E_INVALID && cnt.calls == 0, "%s without noise: %d, %d calls",
                    loom_sampler_name(b.sampler), (int)st, cnt.calls);
            T_CHECK(strstr(loom_last_error(), "noise") != NULL, "message: %s", loom_last_error());
        } else {
            T_CHECK(st == LOOM_OK, "%s without noise: %s", loom_sampler_name(b.sampler), loom_last_error());
        }
    }
    b = j;
    b.opts.s_churn = 1;
    cnt.calls = 0;
    expect_fail(&b, x, 8, "euler churn without noise", "noise");
    T_CHECK(cnt.calls == 0, "model called %d times", cnt.calls);

    /* dpm++2m_sde seeds must split the batch; seeds need the seeded randn */
    uint64_t seeds[3] = {1, 2, 3};
    b = j;
    b.sampler = LOOM_SAMPLER_DPMPP_2M_SDE;
    b.opts = loom_sampler_default_opts(b.sampler);
    b.seeds = seeds;
    b.n_seeds = 3;
    expect_fail(&b, x, 8, "8 floats over 3 seeds", "images");
    b.n_seeds = 2;
    expect_fail(&b, x, 8, "seeds without randn", "seeded randn");

    /* a failing callback stops the run with its message wrapped */
    b = j;
    cnt.calls = 0;
    cnt.fail_at = 2;
    expect_fail(&b, x, 8, "failing model", "toy model failed");
    T_CHECK(strstr(loom_last_error(), "euler") != NULL, "message names the sampler: %s", loom_last_error());
    cnt.fail_at = 0;
    int nfail = 1;
    b = j;
    b.sampler = LOOM_SAMPLER_EULER_A;
    b.opts = loom_sampler_default_opts(b.sampler);
    b.noise = zero_noise;
    b.noise_ctx = &nfail;
    expect_fail(&b, x, 8, "failing noise", "rng exhausted");

    /* tables */
    loom_schedule sd;
    loom_schedule_init_sd(&sd);
    double *t = NULL;
    int nt = 0;
    T_CHECK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_EULER, LOOM_SCHED_KARRAS, 0, &t, &nt) == LOOM_E_INVALID,
            "0 steps");
    T_CHECK(t == NULL && strstr(loom_last_error(), "steps 0") != NULL, "message: %s", loom_last_error());
    T_CHECK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_EULER, LOOM_SCHED_KARRAS, -3, &t, &nt) == LOOM_E_INVALID,
            "negative steps");
    T_CHECK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_EULER, LOOM_SCHED_KARRAS, LOOM_MAX_STEPS + 1, &t, &nt) ==
                LOOM_E_INVALID,
            "too many steps");
    T_CHECK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_EULER, (loom_scheduler)42, 10, &t, &nt) == LOOM_E_INVALID,
            "scheduler 42");
    T_CHECK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_DDIM, LOOM_SCHED_NORMAL, 1001, &t, &nt) == LOOM_E_INVALID,
            "ddim 1001 steps");
    double small[4];
    int ns = 0;
    T_CHECK(loom_schedule_sigmas(&sd, LOOM_SCHED_NORMAL, 10, small, 4, &ns) == LOOM_E_INVALID, "cap");
    T_CHECK(loom_schedule_sigmas_len(&sd, LOOM_SCHED_SIMPLE, 0) == -1, "len for 0 steps");
    loom_schedule lcm;
    T_OK(loom_schedule_init_lcm(&lcm, &sd, 50));
    T_CHECK(loom_sampler_sigmas(&lcm, LOOM_SAMPLER_DDIM, LOOM_SCHED_NORMAL, 4, &t, &nt) == LOOM_E_INVALID,
            "ddim on the LCM schedule");
    T_CHECK(loom_schedule_init_lcm(&lcm, &sd, 3) == LOOM_E_INVALID, "LCM 3 does not divide 1000");
    T_CHECK(loom_schedule_init_scaled_linear(&lcm, 0.1, 0.01, 1000) == LOOM_E_INVALID, "betas reversed");
    T_CHECK(loom_schedule_init_scaled_linear(&lcm, 0.00085, 0.012, 1001) == LOOM_E_INVALID, "1001 levels");
    /* a table with steps beyond the levels repeats sigmas: loom_sample refuses it */
    T_OK(loom_sampler_sigmas(&sd, LOOM_SAMPLER_EULER, LOOM_SCHED_SIMPLE, 1500, &t, &nt));
    b = j;
    b.sigmas = t;
    b.n_sigmas = nt;
    expect_fail(&b, x, 8, "simple with 1500 steps", "decrease");
    free(t);
}
