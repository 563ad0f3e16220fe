/* test_golden_pipeline.c — issue 3's golden-state test: loom against the
 * diffusers + k-diffusion stack (A1111's) on the demo SD1.x checkpoint, same
 * weights, same noise (scripts/gen_fixtures_golden_pipeline.py; the fixture's
 * __metadata__ holds the run's configuration).
 *
 * The checkpoint is regenerated with `loom make-checkpoint` into the build
 * folder (argv[1]) and must have the SHA-256 the fixture was made from. Then,
 * each within relative L2 1e-4 of the float64 reference (printed with the
 * float32 reference's own error, which shows the tolerance is meaningful):
 *   - text contexts (loom_cond_encode): a prompt, the negative prompt, and a
 *     two-chunk prompt;
 *   - one UNet eps (loom_unet_forward), batch 2, fractional timestep;
 *   - the final latent of the real CLI (`loom generate --rng cpu
 *     --dump-latent`) for Euler / normal and DPM++ 2M Karras (two-chunk prompt:
 *     cond and uncond contexts of different lengths);
 *   - the VAE decode (loom_vae_decode) of the reference Euler latent divided
 *     by the model's scale factor.
 * Also exact: the --rng cpu initial noise; close: the sigma tables; within one
 * level: the Euler run's PNG against A1111's pixels of the reference decode. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "pipeline_cond.h"
#include "pipeline_out.h" /* loom_nchw_to_nhwc */
#include "rng.h"
#include "sampler.h"
#include "schedule.h"
#include "sd_model.h"
#include "sha256.h"
#include "tensor_alloc.h"
#include "testlib.h"
#include "tokenizer.h"

#define TOL 1e-4 /* issue 3: relative L2 against the reference, fp32 */
#define FIXTURE "golden_pipeline/expected.safetensors"

static const char *outdir = ".";
static loom_tfile *fx;
static char out[1 << 16];

typedef struct config {
    const char *preset, *prompt, *negative, *prompt_long, *sha256;
    long weights_seed, width, height, steps, noise_seed;
    double cfg_scale;
} config;

static const char *meta(const char *key)
{
    const char *v = loom_tfile_meta(fx, key);
    T_CHECK(v != NULL, "%s: no metadata '%s'", FIXTURE, key);
    return v ? v : "";
}

static long meta_long(const char *key) { return strtol(meta(key), NULL, 10); }

/* Prints and checks one tensor against the reference `name` (and reports name_f32's own error). */
static void compare(const char *what, const float *got, int64_t n, const char *name)
{
    char name32[128];
    snprintf(name32, sizeof name32, "%s_f32", name);
    loom_tensor rs, r32s;
    float *ref = t_load_f32(fx, name, &rs), *ref32 = t_load_f32(fx, name32, &r32s);
    if (ref && ref32 && got) {
        T_CHECK(loom_tensor_numel(&rs) == n, "%s: %lld values, the reference has %lld", what, (long long)n,
                (long long)loom_tensor_numel(&rs));
        if (loom_tensor_numel(&rs) == n) {
            const double rel = t_rel_l2(got, ref, n), rel32 = t_rel_l2(ref32, ref, n);
            printf("%-30s max abs %.3e  rel L2 %.3e  (%5.2f%% of %.0e; A1111 float32: %.2e)\n", what,
                   t_max_abs(got, ref, n), rel, 100.0 * rel / TOL, TOL, rel32);
            T_CHECK(t_count_nonfinite(got, n) == 0, "%s: non-finite values", what);
            T_CHECK(rel <= TOL, "%s: rel L2 %.3e > %.0e", what, rel, TOL);
        }
    }
    free(ref);
    free(ref32);
}

/* ---- the checkpoint -------------------------------------------------------- */

static int make_checkpoint(const config *c, char *path, size_t n)
{
    snprintf(path, n, "%s/golden_%s_%ld.safetensors", outdir, c->preset, c->weights_seed);
    static char cmd[16384];
    snprintf(cmd, sizeof cmd, LOOM_BIN " make-checkpoint --preset %s --seed %ld '%s'", c->preset, c->weights_seed,
             path);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "make-checkpoint exited %d: %s", rc, out);
    if (rc != 0) return 0;
    uint8_t d[LOOM_SHA256_BYTES];
    char hex[2 * LOOM_SHA256_BYTES + 1];
    T_OK(loom_sha256_file(path, 0, LOOM_SHA256_TO_EOF, d));
    loom_sha256_hex(d, LOOM_SHA256_BYTES, hex);
    int same = strcmp(hex, c->sha256) == 0;
    T_CHECK(same, "the demo checkpoint changed (sha256 %s, the fixture was made from %s): rerun "
            "scripts/gen_fixtures_golden_pipeline.py", hex, c->sha256);
    printf("checkpoint %s: sha256 %.10s… as in the fixture\n", path, hex);
    return same;
}

/* ---- pieces that must match exactly or nearly --------------------------------- */

static void check_noise(const config *c)
{
    const int64_t n = 4 * (c->height / 8) * (c->width / 8);
    loom_tensor ts;
    float *ref = t_load_f32(fx, "noise", &ts), *got = malloc((size_t)n * sizeof *got);
    loom_rng *r = loom_rng_new(LOOM_RNG_CPU, (uint64_t)c->noise_seed);
    if (ref && got && r && loom_tensor_numel(&ts) == n) {
        T_OK(loom_rng_randn(r, got, n));
        T_CHECK(memcmp(got, ref, (size_t)n * sizeof *got) == 0, "--rng cpu noise for seed %ld differs from torch",
                c->noise_seed);
    } else {
        T_CHECK(0, "noise: cannot compare (%lld values)", (long long)n);
    }
    if (r) loom_rng_free(r);
    free(ref);
    free(got);
}

static void check_sigmas(const config *c, loom_sampler sampler, loom_scheduler sched, const char *name)
{
    loom_schedule s;
    loom_schedule_init_sd(&s);
    double *sig = NULL;
    int n = 0;
    T_OK(loom_sampler_sigmas(&s, sampler, sched, (int)c->steps, &sig, &n));
    const loom_tf_entry *e = loom_tfile_find(fx, name);
    T_CHECK(e && e->dtype == LOOM_F64 && sig && (int64_t)e->numel == n, "%s: missing, or %d sigmas", name, n);
    if (e && e->dtype == LOOM_F64 && sig && (int64_t)e->numel == n) {
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double r;
            memcpy(&r, e->data + 8 * (size_t)i, sizeof r);
            double d = fabs(sig[i] - r) / (r > 0 ? r : 1);
            if (d > worst) worst = d;
        }
        printf("%-30s max relative difference %.2e over %d sigmas\n", name, worst, n);
        T_CHECK(worst < 1e-6, "%s: a sigma differs by %.2e (relative)", name, worst);
    }
    free(sig);
}

/* ---- the models directly ------------------------------------------------------ */

static void check_text(const loom_sd_model *m, const loom_ops *ops, const loom_tokenizer *tok, const config *c,
                       const char *text, const char *name)
{
    loom_cond cond;
    loom_status s = loom_cond_encode(&m->clip, ops, tok, text, (int)c->steps, 1, &cond);
    T_CHECK(s == LOOM_OK, "%s: %s", name, loom_last_error());
    if (s != LOOM_OK) return;
    T_CHECK(cond.n_variants == 1, "%s: %d schedule variants", name, cond.n_variants);
    compare(name, cond.ctx[0].data, loom_tensor_numel(&cond.ctx[0]), name);
    loom_cond_free(&cond);
}

static void check_unet(const loom_sd_model *m, const loom_ops *ops)
{
    loom_tensor xs, tts, cs, o = {0};
    float *x = t_load_f32(fx, "unet/x", &xs), *t = t_load_f32(fx, "unet/t", &tts), *ctx = t_load_f32(fx, "unet/context", &cs);
    if (x && t && ctx && loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, xs.shape, &o) == LOOM_OK) {
        loom_status s = loom_unet_forward(&m->unet, ops, &xs, &tts, &cs, &o);
        T_CHECK(s == LOOM_OK, "unet: %s", loom_last_error());
        if (s == LOOM_OK) compare("unet/eps", o.data, loom_tensor_numel(&o), "unet/eps");
    }
    loom_tensor_free(&o);
    free(x);
    free(t);
    free(ctx);
}

static void check_vae(const loom_sd_model *m, const loom_ops *ops, const config *c)
{
    const int64_t h = c->height / 8, w = c->width / 8;
    T_CHECK(m->vae.cfg.scale_factor == LOOM_VAE_SCALE_SD1, "VAE scale factor %g", (double)m->vae.cfg.scale_factor);
    loom_tensor ls, z = {0}, img = {0};
    float *lat = t_load_f32(fx, "latent/euler", &ls); /* NCHW, unscaled */
    int64_t zs[4] = {1, h, w, 4}, is[4] = {1, c->height, c->width, 3};
    if (lat && loom_tensor_numel(&ls) == 4 * h * w && loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, zs, &z) == LOOM_OK &&
        loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, is, &img) == LOOM_OK) {
        loom_nchw_to_nhwc(lat, z.data, 1, 4, h * w);
        T_OK(loom_vae_scale_latent(&z, 1.0f / m->vae.cfg.scale_factor));
        loom_status s = loom_vae_decode(&m->vae, ops, &z, &img);
        T_CHECK(s == LOOM_OK, "vae: %s", loom_last_error());
        if (s == LOOM_OK) compare("vae/out", img.data, loom_tensor_numel(&img), "vae/out");
    }
    loom_tensor_free(&z);
    loom_tensor_free(&img);
    free(lat);
}

static void check_models(const config *c, const char *ckpt)
{
    loom_sd_model m;
    loom_tokenizer *tok = NULL;
    loom_status s = loom_sd_model_load(&m, ckpt, NULL, LOOM_BACKEND_CPU);
    T_CHECK(s == LOOM_OK, "load %s: %s", ckpt, loom_last_error());
    if (s != LOOM_OK) return;
    const loom_ops *ops = loom_backend_ops(LOOM_BACKEND_CPU);
    s = loom_tokenizer_open(NULL, &tok);
    T_CHECK(s == LOOM_OK, "tokenizer: %s", loom_last_error());
    if (s == LOOM_OK) {
        check_text(&m, ops, tok, c, c->prompt, "text/prompt");
        check_text(&m, ops, tok, c, c->negative, "text/negative");
        check_text(&m, ops, tok, c, c->prompt_long, "text/prompt_long");
        loom_tokenizer_close(tok);
    }
    check_unet(&m, ops);
    check_vae(&m, ops, c);
    loom_sd_model_free(&m);
}

/* ---- the CLI ------------------------------------------------------------------ */

/* The Euler run's PNG against A1111's pixels of the reference decode: loom's
 * latent differs from the reference by ~1e-6, so a pixel may land on the other
 * side of a truncation boundary, never further. */
static void check_png(const char *png, const config *c)
{
    int w = 0, h = 0, comp = 0;
    unsigned char *px = stbi_load(png, &w, &h, &comp, 3);
    const loom_tf_entry *e = loom_tfile_find(fx, "png/euler");
    T_CHECK(px && e && e->dtype == LOOM_U8 && w == c->width && h == c->height && (int64_t)e->numel == (int64_t)w * h * 3,
            "%s: cannot compare (%dx%d)", png, w, h);
    if (px && e && e->dtype == LOOM_U8 && (int64_t)e->numel == (int64_t)w * h * 3) {
        int64_t off = 0, worst = 0, n = (int64_t)w * h * 3;
        for (int64_t i = 0; i < n; i++) {
            int64_t d = llabs((int64_t)px[i] - (int64_t)e->data[i]);
            off += d != 0;
            if (d > worst) worst = d;
        }
        printf("%-30s %lld of %lld values differ from A1111's pixels, by at most %lld\n", "png/euler", (long long)off,
               (long long)n, (long long)worst);
        T_CHECK(worst <= 1 && off * 100 <= n, "png: %lld values differ, by up to %lld", (long long)off, (long long)worst);
    }
    if (px) stbi_image_free(px);
}

static void shell_quote(char *dst, size_t n, const char *s)
{
    /* 'it'\''s' */
    size_t k = 0;
    if (n < 3) return;
    dst[k++] = '\'';
    for (; *s && k + 6 < n; s++) {
        if (*s == '\'') {
            memcpy(dst + k, "'\\''", 4);
            k += 4;
        } else {
            dst[k++] = *s;
        }
    }
    dst[k++] = '\'';
    dst[k] = '\0';
}

static void check_cli(const config *c, const char *ckpt, const char *run, const char *sampler_args, const char *prompt)
{
    static char lat[4096], png[4096], p[4096], n[4096], cmd[32768];
    snprintf(lat, sizeof lat, "%s/golden_%s.safetensors", outdir, run);
    snprintf(png, sizeof png, "%s/golden_%s.png", outdir, run);
    remove(lat);
    shell_quote(p, sizeof p, prompt);
    shell_quote(n, sizeof n, c->negative);
    snprintf(cmd, sizeof cmd,
             LOOM_BIN " generate -m '%s' -p %s -n %s -W %ld -H %ld --steps %ld --cfg-scale %.17g -s %ld --rng cpu "
                      "%s -o '%s' --dump-latent '%s'",
             ckpt, p, n, c->width, c->height, c->steps, c->cfg_scale, c->noise_seed, sampler_args, png, lat);
    T_CHECK(strlen(cmd) < 8000, "%s: the command is too long for t_run", run); /* t_run appends 2>&1 in 8 KB */
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "%s: loom generate exited %d: %s", run, rc, out);
    if (rc != 0) return;
    loom_tfile *tf = NULL;
    T_OK(loom_tfile_open(lat, &tf));
    if (!tf) return;
    loom_tensor s;
    float *x = t_load_f32(tf, "latent", &s);
    const int64_t want[4] = {1, 4, c->height / 8, c->width / 8};
    T_CHECK(s.ndim == 4 && memcmp(s.shape, want, sizeof want) == 0, "%s: the dumped latent is not [1,4,h,w]", run);
    char name[64];
    snprintf(name, sizeof name, "latent/%s", run);
    if (x) compare(name, x, loom_tensor_numel(&s), name);
    free(x);
    loom_tfile_close(tf);
    if (!strcmp(run, "euler")) check_png(png, c);
}

int main(int argc, char **argv)
{
    if (argc > 1) outdir = argv[1];
    fx = t_open_fixture(FIXTURE);
    if (!fx) return t_finish("test_golden_pipeline");
    config c = {meta("preset"), meta("prompt"), meta("negative_prompt"), meta("prompt_long"), meta("checkpoint_sha256"),
                meta_long("weights_seed"), meta_long("width"), meta_long("height"), meta_long("steps"),
                meta_long("noise_seed"), strtod(meta("cfg_scale"), NULL)};
    T_CHECK(c.width > 0 && c.height > 0 && c.width % 64 == 0 && c.height % 64 == 0 && c.steps > 0 && c.cfg_scale > 1,
            "%s: implausible config", FIXTURE);
    char ckpt[4096];
    if (t_failures == 0 && make_checkpoint(&c, ckpt, sizeof ckpt)) {
        check_noise(&c);
        check_sigmas(&c, LOOM_SAMPLER_EULER, LOOM_SCHED_NORMAL, "sigmas/euler");
        check_sigmas(&c, LOOM_SAMPLER_DPMPP_2M, LOOM_SCHED_KARRAS, "sigmas/dpmpp_2m_karras");
        check_models(&c, ckpt);
        check_cli(&c, ckpt, "euler", "--sampling-method euler --scheduler normal", c.prompt);
        check_cli(&c, ckpt, "dpmpp_2m_karras", "--sampling-method 'DPM++ 2M Karras'", c.prompt_long);
    }
    loom_tfile_close(fx);
    return t_finish("test_golden_pipeline");
}
