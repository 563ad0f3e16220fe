/* test_sampler.c — schedules, schedulers and samplers against the references
 * in tests/fixtures/sampler/sampler.safetensors (scripts/gen_fixtures_sampler.py:
 * k-diffusion 0.1.1.post1 and torchsde 0.2.6 run in float64, A1111's DDIM,
 * LCM, schedulers and noise handling restated there).
 *
 * Tolerances. Sigma tables, LMS coefficients and the schedule are computed in
 * double on both sides: relative 1e-12. SeedSequence states and the Brownian
 * tree (float32 on both sides, same operation order) must match exactly.
 * Trajectories: loom keeps latents in float32 like A1111, so it is compared
 * with the float64 run and allowed twice the float32 run's own distance from
 * it (style.md practice 5), but never less than 5e-7 (a few float32 roundings
 * of the result). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "sampler_brownian.h"
#include "testlib.h"

void test_sampler_names(void);
void test_sampler_bad_inputs(void);

#define FIX "sampler/sampler.safetensors"

static double *load_f64(const loom_tfile *tf, const char *name, int64_t *n_out)
{
    const loom_tf_entry *e = loom_tfile_find(tf, name);
    T_CHECK(e != NULL, "fixture has no tensor %s", name);
    if (!e) return NULL;
    loom_tensor t;
    loom_status s = loom_tfile_tensor(tf, e, &t);
    T_CHECK(s == LOOM_OK, "%s", loom_last_error());
    if (s != LOOM_OK) return NULL;
    int64_t n = loom_tensor_numel(&t);
    double *out = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) out[i] = loom_tensor_get(&t, i);
    if (n_out) *n_out = n;
    return out;
}

static double max_rel(const double *a, const double *ref, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]), s = fabs(ref[i]);
        double r = s > 0 ? d / s : d;
        if (!(r <= m)) m = r; /* NaN wins */
    }
    return m;
}

static void cmp_table(const char *what, const double *got, int n_got, const double *ref, int64_t n_ref,
                      double tol)
{
    T_CHECK(n_got == n_ref, "%s: %d sigmas, reference %lld", what, n_got, (long long)n_ref);
    if (n_got != n_ref) return;
    double e = max_rel(got, ref, n_got);
    T_CHECK(e <= tol, "%s: max rel err %.3g > %.1g", what, e, tol);
}

/* ---- schedule -------------------------------------------------------------- */

static void test_schedule(const loom_tfile *tf)
{
    loom_schedule s;
    loom_schedule_init_sd(&s);
    int64_t n;
    double *ac = load_f64(tf, "schedule/alphas_cumprod", &n);
    int exact = n == s.n;
    for (int64_t i = 0; ac && exact && i < n; i++) exact = (float)ac[i] == s.alphas_cumprod[i];
    T_CHECK(exact, "alphas_cumprod differ from LDM's float32 buffer");
    double *sig = load_f64(tf, "schedule/sigmas", &n);
    if (sig) T_CHECK(max_rel(s.sigmas, sig, n) <= 1e-13, "sigmas: %.3g", max_rel(s.sigmas, sig, n));

    int64_t np;
    double *ps = load_f64(tf, "schedule/probe_sigma", &np), *pt = load_f64(tf, "schedule/probe_sigma_t", NULL);
    double worst = 0;
    for (int64_t i = 0; ps && pt && i < np; i++) {
        double d = fabs(loom_schedule_sigma_to_t(&s, ps[i]) - pt[i]);
        if (d > worst) worst = d;
    }
    T_CHECK(worst <= 1e-9, "sigma_to_t max abs err %.3g", worst);
    /* exact levels give exact integer timesteps (DDIM relies on it) */
    for (int k = 0; k < s.n; k++)
        if (loom_schedule_sigma_to_t(&s, s.sigmas[k]) != k) {
            T_CHECK(0, "sigma_to_t(sigmas[%d]) = %.17g", k, loom_schedule_sigma_to_t(&s, s.sigmas[k]));
            break;
        }
    double *tt = load_f64(tf, "schedule/probe_t", &np), *ts = load_f64(tf, "schedule/probe_t_sigma", NULL);
    double got[64];
    for (int64_t i = 0; tt && i < np && i < 64; i++) got[i] = loom_schedule_t_to_sigma(&s, tt[i]);
    if (tt && ts) T_CHECK(max_rel(got, ts, np) <= 1e-12, "t_to_sigma: %.3g", max_rel(got, ts, np));
    free(ac), free(sig), free(ps), free(pt), free(tt), free(ts);
}

static void test_scheduler_tables(const loom_tfile *tf)
{
    loom_schedule s, lcm;
    loom_schedule_init_sd(&s);
    T_OK(loom_schedule_init_lcm(&lcm, &s, 50));
    static const int steps[] = {1, 2, 3, 7, 10, 20, 50, 999, 1000, 1001};
    static const int lcm_steps[] = {1, 2, 4, 8, 50};
    double *out = malloc(2048 * sizeof(double));
    char key[128];
    for (int sc = 0; sc < LOOM_SCHED_COUNT; sc++) {
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            snprintf(key, sizeof key, "sigmas/%s/%d", loom_scheduler_name((loom_scheduler)sc), steps[k]);
            int64_t nr;
            double *ref = load_f64(tf, key, &nr);
            int n = 0;
            T_OK(loom_schedule_sigmas(&s, (loom_scheduler)sc, steps[k], out, 2048, &n));
            T_CHECK(n == loom_schedule_sigmas_len(&s, (loom_scheduler)sc, steps[k]), "%s len", key);
            if (ref) cmp_table(key, out, n, ref, nr, 1e-12);
            free(ref);
        }
        for (size_t k = 0; k < sizeof lcm_steps / sizeof lcm_steps[0]; k++) {
            snprintf(key, sizeof key, "lcm_sigmas/%s/%d", loom_scheduler_name((loom_scheduler)sc), lcm_steps[k]);
            int64_t nr;
            double *ref = load_f64(tf, key, &nr);
            int n = 0;
            T_OK(loom_schedule_sigmas(&lcm, (loom_scheduler)sc, lcm_steps[k], out, 2048, &n));
            if (ref) cmp_table(key, out, n, ref, nr, 1e-12);
            free(ref);
        }
    }
    /* A1111's LCM schedule: levels, snapped timesteps, output scalings */
    int64_t n;
    double *ref = load_f64(tf, "lcm/sigmas", &n);
    if (ref) cmp_table("lcm/sigmas", lcm.sigmas, lcm.n, ref, n, 1e-13);
    free(ref);
    double *ps = load_f64(tf, "lcm/probe_sigma", &n), *pt = load_f64(tf, "lcm/probe_sigma_t", NULL);
    double *pk = load_f64(tf, "lcm/probe_c_skip", NULL), *po = load_f64(tf, "lcm/probe_c_out", NULL);
    for (int64_t i = 0; ps && pt && pk && po && i < n; i++) {
        double t = loom_schedule_sigma_to_t(&lcm, ps[i]), cs, co;
        loom_schedule_lcm_scalings(&lcm, ps[i], &cs, &co);
        T_CHECK(t == pt[i], "lcm sigma_to_t(%g) = %g, want %g", ps[i], t, pt[i]);
        T_CHECK(fabs(cs - pk[i]) <= 1e-12 * fabs(pk[i]) && fabs(co - po[i]) <= 1e-12 * fabs(po[i]),
                "lcm scalings at %g: %g %g want %g %g", ps[i], cs, co, pk[i], po[i]);
    }
    free(ps), free(pt), free(pk), free(po);

    /* per-sampler tables: DPM2's discarded penultimate sigma, DDIM's timesteps */
    static const int dsteps[] = {1, 2, 10, 20};
    for (size_t k = 0; k < 4; k++)
        for (int sc = 0; sc < 2; sc++) {
            loom_scheduler sched = sc ? LOOM_SCHED_KARRAS : LOOM_SCHED_NORMAL;
            snprintf(key, sizeof key, "table/dpm2/%s/%d", loom_scheduler_name(sched), dsteps[k]);
            double *t = NULL, *r = load_f64(tf, key, &n);
            int nt = 0;
            T_OK(loom_sampler_sigmas(&s, LOOM_SAMPLER_DPM2, sched, dsteps[k], &t, &nt));
            if (r && t) cmp_table(key, t, nt, r, n, 1e-12);
            free(t), free(r);
        }
    static const int ddim_steps[] = {1, 2, 3, 7, 10, 20, 999, 1000};
    for (size_t k = 0; k < sizeof ddim_steps / sizeof ddim_steps[0]; k++) {
        snprintf(key, sizeof key, "table/ddim/%d", ddim_steps[k]);
        double *t = NULL, *r = load_f64(tf, key, &n);
        int nt = 0;
        T_OK(loom_sampler_sigmas(&s, LOOM_SAMPLER_DDIM, LOOM_SCHED_KARRAS, ddim_steps[k], &t, &nt));
        if (r && t) cmp_table(key, t, nt, r, n, 1e-13);
        free(t), free(r);
    }
    free(out);
}

static void test_lms_coeffs(const loom_tfile *tf)
{
    static const struct {
        const char *sched;
        int steps;
    } cases[] = {{"karras", 10}, {"normal", 20}, {"sgm_uniform", 7}, {"exponential", 3}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char key[96];
        snprintf(key, sizeof key, "lms/%s/%d/sigmas", cases[c].sched, cases[c].steps);
        double *sig = load_f64(tf, key, NULL);
        snprintf(key, sizeof key, "lms/%s/%d/coeffs", cases[c].sched, cases[c].steps);
        double *ref = load_f64(tf, key, NULL);
        if (!sig || !ref) continue;
        double worst = 0;
        for (int i = 0; i < cases[c].steps; i++) {
            int order = i + 1 < 4 ? i + 1 : 4;
            for (int j = 0; j < order; j++) {
                double got;
                T_OK(loom_lms_coeff(order, sig, i, j, &got));
                double r = ref[i * 4 + j], e = fabs(got - r) / fmax(fabs(r), 1e-300);
                if (e > worst) worst = e;
            }
        }
        T_CHECK(worst <= 1e-12, "lms coeffs %s: max rel err %.3g", key, worst);
        double dummy;
        T_CHECK(loom_lms_coeff(4, sig, 2, 0, &dummy) == LOOM_E_INVALID, "order 4 at step 2 accepted");
        free(sig), free(ref);
    }
}

/* ---- SeedSequence and the Brownian tree ------------------------------------ */

/* the Brownian tree's seeded randn stand-in (the generator's fake_randn) */
static uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int g_seeded_calls;

static loom_status fake_randn(void *ctx, uint64_t seed, float *out, int64_t n)
{
    (void)ctx;
    g_seeded_calls++;
    for (int64_t k = 0; k < n; k++) {
        uint64_t z = splitmix64(seed * 0x9E3779B97F4A7C15ull + (uint64_t)k);
        double u = (double)(z >> 40) / 16777216.0;
        out[k] = (float)((u - 0.5) * sqrt(12.0));
    }
    return LOOM_OK;
}

static void test_seedseq_brownian(const loom_tfile *tf)
{
    double *st = load_f64(tf, "seedseq/state", NULL);
    static const uint64_t ent[5] = {0, 1, 12345, 4294967295ull, (1ull << 40) + 5};
    static const uint64_t keys[5][2] = {{0, 0}, {0, 0}, {1, 1}, {5, 3}, {(1ull << 33) + 1, 34}};
    for (int a = 0; st && a < 5; a++)
        for (int b = 0; b < 5; b++) {
            uint32_t got[4] = {0};
            loom_seedseq_state(ent[a], keys[b], b == 0 ? 0 : 2, 24, got, b == 0 ? 3 : 4);
            for (int w = 0; w < (b == 0 ? 3 : 4); w++)
                T_CHECK(got[w] == (uint32_t)st[(a * 5 + b) * 4 + w], "seedseq(%llu, key %d)[%d] = %u, want %.0f",
                        (unsigned long long)ent[a], b, w, got[w], st[(a * 5 + b) * 4 + w]);
        }
    free(st);

    double *fr = load_f64(tf, "fake_randn/7/12", NULL);
    float v[12];
    fake_randn(NULL, 7, v, 12);
    for (int i = 0; fr && i < 12; i++) T_CHECK(v[i] == (float)fr[i], "fake randn %d", i);
    free(fr);

    int64_t nq, nw;
    double *t01 = load_f64(tf, "brownian/t01", NULL), *q = load_f64(tf, "brownian/queries", &nq);
    double *w = load_f64(tf, "brownian/w", &nw);
    if (!t01 || !q || !w) return;
    nq /= 2;
    int64_t per = nw / nq;
    loom_brownian *bt = NULL;
    T_OK(loom_brownian_create(t01[0], t01[1], 12345, per, fake_randn, NULL, &bt));
    float *got = malloc((size_t)per * sizeof(float));
    int64_t mismatches = 0;
    double worst = 0;
    for (int64_t i = 0; bt && i < nq; i++) {
        T_OK(loom_brownian_increment(bt, q[2 * i], q[2 * i + 1], got));
        for (int64_t k = 0; k < per; k++) {
            double r = w[i * per + k];
            if ((double)got[k] != r) mismatches++;
            if (fabs(got[k] - r) > worst) worst = fabs(got[k] - r);
        }
    }
    T_CHECK(mismatches == 0, "brownian tree: %lld of %lld values differ from torchsde (max %.3g)",
            (long long)mismatches, (long long)nw, worst);
    T_CHECK(loom_brownian_increment(bt, 2.0, 1.0, got) == LOOM_E_INVALID, "reversed query accepted");
    loom_brownian_free(bt);
    free(got), free(t01), free(q), free(w);
}

/* ---- trajectories ----------------------------------------------------------- */

typedef struct toy {
    const double *pattern;
    const float *pool;
    int64_t pool_draws, next, n;
    float *x1; /* x after the first step */
} toy;

/* D(x, sigma) = x - sigma * E(x / sqrt(1 + sigma^2), sigma), E = 0.8 tanh(0.6u + p_k + 0.05 sigma) + 0.5u */
static loom_status toy_denoise(void *ctx, const float *x, double sigma, float *out, int64_t n)
{
    toy *t = ctx;
    double c_in = 1.0 / sqrt(sigma * sigma + 1.0);
    for (int64_t k = 0; k < n; k++) {
        double u = x[k] * c_in;
        double e = 0.8 * tanh(0.6 * u + t->pattern[k] + 0.05 * sigma) + 0.5 * u;
        out[k] = (float)(x[k] - sigma * e);
    }
    return LOOM_OK;
}

static loom_status toy_noise(void *ctx, float *out, int64_t n)
{
    toy *t = ctx;
    if (t->next >= t->pool_draws) return loom_fail(LOOM_E_INVALID, "noise pool exhausted");
    memcpy(out, t->pool + t->next * n, (size_t)n * sizeof(float));
    t->next++;
    return LOOM_OK;
}

static void toy_step(void *ctx, int step, int total, const float *x, const float *den, int64_t n)
{
    toy *t = ctx;
    (void)total, (void)den;
    if (step == 0) memcpy(t->x1, x, (size_t)n * sizeof(float));
}

static double rel_l2_d(const float *a, const double *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t k = 0; k < n; k++) {
        double d = (double)a[k] - ref[k];
        num += d * d;
        den += ref[k] * ref[k];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void run_case(const loom_tfile *tf, const char *prefix, toy *ty, const double *noise0, const uint64_t *seeds,
                     double *worst_ratio)
{
    char sname[32], sched_name[32], key[160];
    int steps = 0;
    if (sscanf(prefix, "traj/%31[^/]/%31[^/]/%d", sname, sched_name, &steps) != 3) {
        T_CHECK(0, "bad case name %s", prefix);
        return;
    }
    loom_sampler sampler;
    loom_scheduler sched = LOOM_SCHED_NORMAL;
    T_OK(loom_sampler_parse(sname, &sampler, NULL, NULL));
    if (sampler != LOOM_SAMPLER_DDIM) T_OK(loom_scheduler_parse(sched_name, &sched));
    double *sig = NULL;
    int nsig = 0;
    loom_schedule s;
    loom_schedule_init_sd(&s);
    T_OK(loom_sampler_sigmas(&s, sampler, sched, steps, &sig, &nsig));
    if (!sig) return;
    int64_t nr, n;
    snprintf(key, sizeof key, "%s/sigmas", prefix);
    double *ref_sig = load_f64(tf, key, &nr);
    if (ref_sig) cmp_table(key, sig, nsig, ref_sig, nr, 1e-12);
    snprintf(key, sizeof key, "%s/x", prefix);
    double *ref = load_f64(tf, key, &n);
    snprintf(key, sizeof key, "%s/x1", prefix);
    double *ref1 = load_f64(tf, key, NULL);
    snprintf(key, sizeof key, "%s/x_f32", prefix);
    double *ref32 = load_f64(tf, key, NULL);
    snprintf(key, sizeof key, "%s/x1_f32", prefix);
    double *ref1_32 = load_f64(tf, key, NULL);
    snprintf(key, sizeof key, "%s/opts", prefix);
    double *opts = load_f64(tf, key, NULL);
    snprintf(key, sizeof key, "%s/draws", prefix);
    double *draws = load_f64(tf, key, NULL);
    if (!ref || !ref1 || !ref32 || !ref1_32 || !opts || !draws || n != ty->n) goto out;

    float *x = malloc((size_t)n * sizeof(float));
    double scale = loom_sampler_noise_scale(sampler, sig, nsig, 0);
    for (int64_t k = 0; k < n; k++) x[k] = (float)(noise0[k] * scale);
    memcpy(ty->x1, x, (size_t)n * sizeof(float));
    ty->next = 0;
    loom_sample_job job = {0};
    job.sampler = sampler;
    job.sigmas = sig;
    job.n_sigmas = nsig;
    job.opts = loom_sampler_default_opts(sampler);
    job.opts.eta = opts[0];
    job.opts.s_churn = opts[1];
    job.denoise = toy_denoise;
    job.denoise_ctx = ty;
    job.noise = toy_noise;
    job.noise_ctx = ty;
    if (opts[2] != 0) {
        job.seeds = seeds;
        job.n_seeds = 2;
        job.randn_seeded = fake_randn;
    }
    job.on_step = toy_step;
    job.step_ctx = ty;
    loom_status st = loom_sample(&job, x, n);
    T_CHECK(st == LOOM_OK, "%s: %s", prefix, loom_last_error());
    T_CHECK(job.draws == (int64_t)draws[0], "%s: %lld noise draws, reference %.0f", prefix, (long long)job.draws,
            draws[0]);
    /* x after step 1 and the final x */
    const float *got[2] = {ty->x1, x};
    const double *r64[2] = {ref1, ref}, *r32[2] = {ref1_32, ref32};
    for (int w = 0; w < 2; w++) {
        double e = rel_l2_d(got[w], r64[w], n), e32 = 0, num = 0, den = 0;
        for (int64_t k = 0; k < n; k++) {
            double d = r32[w][k] - r64[w][k];
            num += d * d;
            den += r64[w][k] * r64[w][k];
        }
        e32 = sqrt(num / den);
        double tol = fmax(2 * e32, 5e-7);
        T_CHECK(e <= tol, "%s %s: rel L2 %.3g > tol %.3g (float32 reference %.3g)", prefix, w ? "x" : "x1", e,
                tol, e32);
        if (e / tol > *worst_ratio) *worst_ratio = e / tol;
        if (getenv("LOOM_TEST_VERBOSE"))
            printf("%-44s %s loom %.2e  f32 ref %.2e  %3.0f%% of tol\n", prefix, w ? "x " : "x1", e, e32,
                   100 * e / tol);
    }
    free(x);
out:
    free(sig), free(ref_sig), free(ref), free(ref1), free(ref32), free(ref1_32), free(opts), free(draws);
}

static void test_trajectories(const loom_tfile *tf)
{
    int64_t n, np, npool;
    double *pattern = load_f64(tf, "traj/pattern", &n);
    double *noise0 = load_f64(tf, "traj/noise0", NULL);
    double *pool_d = load_f64(tf, "traj/pool", &npool);
    double *seeds_d = load_f64(tf, "traj/seeds", &np);
    if (!pattern || !noise0 || !pool_d || !seeds_d || np != 2) return;
    float *pool = malloc((size_t)npool * sizeof(float));
    for (int64_t k = 0; k < npool; k++) pool[k] = (float)pool_d[k];
    uint64_t seeds[2] = {(uint64_t)seeds_d[0], (uint64_t)seeds_d[1]};
    toy ty = {pattern, pool, npool / n, 0, n, malloc((size_t)n * sizeof(float))};
    int cases = 0;
    double worst = 0;
    for (int i = 0; i < tf->n_tensors; i++) {
        const char *name = tf->tensors[i].name;
        size_t L = strlen(name);
        if (strncmp(name, "traj/", 5) || L < 3 || strcmp(name + L - 2, "/x")) continue;
        char prefix[160];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(L - 2), name);
        run_case(tf, prefix, &ty, noise0, seeds, &worst);
        cases++;
    }
    T_CHECK(cases >= 100, "only %d trajectories in the fixture", cases);
    printf("trajectories: %d cases, worst %.0f%% of tolerance\n", cases, 100 * worst);
    free(ty.x1), free(pool), free(pattern), free(noise0), free(pool_d), free(seeds_d);
}

/* deterministic samplers give the same result with and without a noise source */
static void test_unused_draws(void)
{
    loom_schedule s;
    loom_schedule_init_sd(&s);
    double pat[16];
    float pool[16 * 32];
    for (int k = 0; k < 16; k++) pat[k] = 0.1 * k;
    for (int k = 0; k < 16 * 32; k++) pool[k] = (float)sin(k);
    static const loom_sampler det[] = {LOOM_SAMPLER_EULER, LOOM_SAMPLER_HEUN, LOOM_SAMPLER_DPM2, LOOM_SAMPLER_DDIM};
    for (size_t d = 0; d < sizeof det / sizeof det[0]; d++) {
        float a[16], b[16], x1[16];
        toy ty = {pat, pool, 32, 0, 16, x1};
        double *sig = NULL;
        int nsig;
        T_OK(loom_sampler_sigmas(&s, det[d], LOOM_SCHED_KARRAS, 8, &sig, &nsig));
        for (int k = 0; k < 16; k++) a[k] = b[k] = (float)(cos(k) * loom_sampler_noise_scale(det[d], sig, nsig, 0));
        loom_sample_job j = {.sampler = det[d], .sigmas = sig, .n_sigmas = nsig,
                             .opts = loom_sampler_default_opts(det[d]), .denoise = toy_denoise, .denoise_ctx = &ty};
        T_OK(loom_sample(&j, a, 16));
        T_CHECK(j.draws == 0, "%s drew without a source", loom_sampler_name(det[d]));
        j.noise = toy_noise;
        j.noise_ctx = &ty;
        T_OK(loom_sample(&j, b, 16));
        T_CHECK(j.draws == nsig - 1, "%s: %lld draws for %d steps", loom_sampler_name(det[d]), (long long)j.draws,
                nsig - 1);
        T_CHECK(!memcmp(a, b, sizeof a), "%s: the unused draws changed the result", loom_sampler_name(det[d]));
        free(sig);
    }
}

int main(void)
{
    test_sampler_names();
    test_sampler_bad_inputs();
    test_unused_draws();
    loom_tfile *tf = t_open_fixture(FIX);
    if (tf) {
        test_schedule(tf);
        test_scheduler_tables(tf);
        test_lms_coeffs(tf);
        test_seedseq_brownian(tf);
        test_trajectories(tf);
        loom_tfile_close(tf);
    }
    return t_finish("test_sampler");
}
