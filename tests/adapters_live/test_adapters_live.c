/* test_adapters_live.c — issue 4's acceptance: adapters applied live (never merged) on the demo
 * SD1.x checkpoint against PyTorch with the libraries' own merged weights
 * (scripts/gen_fixtures_adapters_live.py; tests/fixtures/adapters_live/).
 *
 *   - UNet eps for every adapter file (LyCORIS LoCon / Tucker / LoHa / LoKr / IA³ / full / DoRA,
 *     kohya and PEFT LoRA) at weights −1, 0.5, 1, 2, and three stacks (order matters for IA³ and
 *     DoRA): relative L2 ≤ 1e-4 against the float64 reference;
 *   - text-encoder adapters: the prompt's context, same tolerance;
 *   - final latents of the real CLI with <lora:…> tags in the prompt and --lora-model-dir;
 *   - a batch of 4 images with 4 different adapter sets equals the 4 rendered alone (bit for bit:
 *     the CPU ops are batch-invariant);
 *   - broken adapter files through the CLI: one line naming the file and key, exit 1, no image;
 *     with --skip-broken-adapters a warning and the image.
 * argv[1]: a scratch folder (the checkpoint is regenerated there with `loom make-checkpoint`). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "pipeline.h"
#include "pipeline_adapters.h"
#include "pipeline_cond.h"
#include "sd_model.h"
#include "sha256.h"
#include "tensor_alloc.h"
#include "testlib.h"
#include "tokenizer.h"

#define TOL 1e-4 /* issue 4: relative L2 against the reference, fp32 */
#define DIR "adapters_live"
#define MAX_CASES 256
#define MAX_USES 8

static const char *outdir = ".";
static loom_tfile *fx;
static json_t *cfg;
static char out[1 << 16];
static char cmd[1 << 15];

typedef struct lcase {
    char key[128], kind[16];
    int n;
    char uses[MAX_USES][160]; /* name:te:unet */
} lcase;

static lcase cases[MAX_CASES];
static int n_cases;

static const char *cfg_str(const char *k)
{
    const char *v = json_string_value(json_object_get(cfg, k));
    T_CHECK(v != NULL, "config.json: no string '%s'", k);
    return v ? v : "";
}

static long cfg_int(const char *k)
{
    json_t *v = json_object_get(cfg, k);
    T_CHECK(json_is_number(v), "config.json: no number '%s'", k);
    return v ? (long)json_number_value(v) : 0;
}

static void read_cases(void)
{
    FILE *f = fopen(t_fixture(DIR "/cases.tsv"), "r");
    T_CHECK(f != NULL, "no %s/cases.tsv", DIR);
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f) && n_cases < MAX_CASES) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\r\n")] = 0;
        lcase *c = &cases[n_cases];
        char *save = NULL, *k = strtok_r(line, "\t", &save), *kind = strtok_r(NULL, "\t", &save);
        char *list = strtok_r(NULL, "\t", &save);
        if (!k || !kind) continue;
        snprintf(c->key, sizeof c->key, "%s", k);
        snprintf(c->kind, sizeof c->kind, "%s", kind);
        for (char *s2 = NULL, *u = list ? strtok_r(list, " ", &s2) : NULL; u && c->n < MAX_USES;
             u = strtok_r(NULL, " ", &s2))
            snprintf(c->uses[c->n++], sizeof c->uses[0], "%s", u);
        n_cases++;
    }
    fclose(f);
    T_CHECK(n_cases > 0, "cases.tsv lists no case");
}

static void compare(const char *what, const float *got, int64_t n, const char *name)
{
    loom_tensor rs;
    float *ref = t_load_f32(fx, name, &rs);
    if (ref && got) {
        T_CHECK(loom_tensor_numel(&rs) == n, "%s: %lld values, the reference has %lld", what, (long long)n,
                (long long)loom_tensor_numel(&rs));
        if (loom_tensor_numel(&rs) == n) {
            const double rel = t_rel_l2(got, ref, n);
            printf("%-34s rel L2 %.3e  (%5.2f%% of %.0e)\n", what, rel, 100.0 * rel / TOL, TOL);
            T_CHECK(t_count_nonfinite(got, n) == 0, "%s: non-finite values", what);
            T_CHECK(rel <= TOL, "%s: rel L2 %.3e > %.0e", what, rel, TOL);
        }
    }
    free(ref);
}

/* ---- the model and one request's adapters through the pipeline's own code ---- */

static loom_sd_model model;
static loom_tokenizer *tok;

static int load_model(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/adapters_live_demo.safetensors", outdir);
    snprintf(cmd, sizeof cmd, LOOM_BIN " make-checkpoint --preset demo --seed %ld '%s'", cfg_int("weights_seed"), path);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "make-checkpoint exited %d: %s", rc, out);
    if (rc) return 0;
    uint8_t d[LOOM_SHA256_BYTES];
    char hex[2 * LOOM_SHA256_BYTES + 1];
    T_OK(loom_sha256_file(path, 0, LOOM_SHA256_TO_EOF, d));
    loom_sha256_hex(d, LOOM_SHA256_BYTES, hex);
    T_CHECK(!strcmp(hex, cfg_str("checkpoint_sha256")), "the demo checkpoint changed (sha256 %s): rerun "
            "scripts/gen_fixtures_adapters_live.py", hex);
    loom_status s = loom_sd_model_load(&model, path, NULL, LOOM_BACKEND_CPU);
    T_OK(s);
    if (s) return 0;
    T_OK(loom_tokenizer_open(NULL, &tok));
    return tok != NULL;
}

/* The adapters of one case as a one-item request (--lora specs in the fixture folder). */
static int prepare(const lcase *c, loom_gen_adapters *ads)
{
    loom_gen_request req;
    memset(&req, 0, sizeof req);
    const char *specs[MAX_USES];
    for (int i = 0; i < c->n; i++) specs[i] = c->uses[i];
    req.loras = specs;
    req.n_loras = c->n;
    req.lora_dir = t_fixture(DIR);
    req.strict_adapters = 1; /* made on this model: every module must land */
    loom_status s = loom_gen_adapters_prepare(&req, &model, NULL, 1, ads);
    T_CHECK(s == LOOM_OK, "%s: %s", c->key, loom_last_error());
    return s == LOOM_OK;
}

static void check_unet(const lcase *c, const loom_tensor *x, const loom_tensor *t, const loom_tensor *ctx)
{
    loom_gen_adapters ads;
    if (!prepare(c, &ads)) return;
    loom_tensor eps;
    T_OK(loom_tensor_alloc_like(x, &eps));
    loom_model_ad ad = {&model.adapter_map, ads.plans, 1, ads.set_of_item, NULL};
    T_OK(loom_unet_forward_ad(&model.unet, &loom_ops_cpu, &ad, x, t, ctx, &eps));
    char name[160];
    snprintf(name, sizeof name, "unet/eps/%s", c->key);
    compare(name, eps.data, loom_tensor_numel(&eps), name);
    loom_tensor_free(&eps);
    loom_gen_adapters_free(&ads);
}

static void check_text(const lcase *c)
{
    loom_gen_adapters ads;
    if (!prepare(c, &ads)) return;
    loom_cond cond;
    loom_model_ad ad = {&model.adapter_map, ads.plans, 0, NULL, NULL};
    loom_status s = loom_cond_encode_ad(&model.clip, &loom_ops_cpu, &ad, ads.set_of_item[0], tok, cfg_str("prompt"),
                                        (int)cfg_int("steps"), 1, &cond);
    T_OK(s);
    if (s == LOOM_OK) {
        char name[160];
        snprintf(name, sizeof name, "text/%s", c->key);
        compare(name, cond.ctx[0].data, loom_tensor_numel(&cond.ctx[0]), name);
        loom_cond_free(&cond);
    }
    loom_gen_adapters_free(&ads);
}

/* ---- the CLI ---- */

static int prompt_with_tags(const lcase *c, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s", cfg_str("prompt"));
    for (int i = 0; i < c->n && k > 0 && (size_t)k < n; i++) k += snprintf(buf + k, n - (size_t)k, " <lora:%s>", c->uses[i]);
    return k > 0 && (size_t)k < n;
}

static float *read_latent(const char *path, int64_t *n)
{
    loom_tfile *tf = NULL;
    loom_status s = loom_tfile_open(path, &tf);
    T_OK(s);
    if (s) return NULL;
    loom_tensor sh;
    float *v = t_load_f32(tf, "latent", &sh);
    *n = v ? loom_tensor_numel(&sh) : 0;
    loom_tfile_close(tf);
    return v;
}

static void check_latent(const lcase *c)
{
    char prompt[4096], dump[4096], png[4096];
    T_CHECK(prompt_with_tags(c, prompt, sizeof prompt), "%s: prompt too long", c->key);
    snprintf(dump, sizeof dump, "%s/adapters_live_%s.safetensors", outdir, c->key);
    snprintf(png, sizeof png, "%s/adapters_live_%s.png", outdir, c->key);
    snprintf(cmd, sizeof cmd,
             LOOM_BIN " generate -m '%s/adapters_live_demo.safetensors' -p '%s' -n '%s' -W %ld -H %ld --steps %ld "
                      "--cfg-scale %ld -s %ld --rng cpu --sampling-method euler --scheduler normal "
                      "--lora-model-dir '%s' --strict-adapters --dump-latent '%s' -o '%s'",
             outdir, prompt, cfg_str("negative_prompt"), cfg_int("width"), cfg_int("height"), cfg_int("steps"),
             cfg_int("cfg_scale"), cfg_int("noise_seed"), t_fixture(DIR), dump, png);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "%s: loom generate exited %d: %s", c->key, rc, out);
    if (rc) return;
    int64_t n;
    float *lat = read_latent(dump, &n);
    char name[160];
    snprintf(name, sizeof name, "latent/%s", c->key);
    compare(name, lat, n, name);
    free(lat);
}

/* ---- loom inspect on every file: what the libraries built (inspect.json) ---- */

/* Every field of `want` holds in `got` (objects recursively; numbers by value). */
static int json_subset(json_t *want, json_t *got, char *where, size_t n)
{
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v) {
            size_t len = strlen(where);
            snprintf(where + len, n - len, ".%s", k);
            if (!json_subset(v, json_object_get(got, k), where, n)) return 0;
            where[len] = 0;
        }
        return 1;
    }
    if (json_is_number(want)) return json_is_number(got) && json_number_value(want) == json_number_value(got);
    return got && json_equal(want, got);
}

static void check_inspect(void)
{
    json_error_t je;
    json_t *all = json_load_file(t_fixture(DIR "/inspect.json"), 0, &je);
    T_CHECK(json_is_object(all), "inspect.json: %s", je.text);
    const char *file;
    json_t *v;
    int files = 0;
    json_object_foreach(all, file, v) {
        char rel[256];
        snprintf(rel, sizeof rel, DIR "/%s", file);
        snprintf(cmd, sizeof cmd, LOOM_BIN " inspect --json '%s' 2>/dev/null", t_fixture(rel));
        int rc = t_run(cmd, out, sizeof out);
        json_t *got = rc == 0 ? json_loads(out, 0, &je) : NULL;
        char where[256] = "adapter";
        int ok = got && json_subset(json_object_get(v, "adapter"), json_object_get(got, "adapter"), where, sizeof where);
        T_CHECK(ok, "loom inspect %s: %s differs from what the library built (exit %d)", file, where, rc);
        files += ok;
        json_decref(got);
    }
    printf("loom inspect: %d adapter files report what the libraries built\n", files);
    json_decref(all);
}

/* ---- a batch mixing adapter sets == its images alone (issue 4 item 5) ---- */

static float *render(const char *const *prompts, int batch, int64_t seed, const char *tag, int64_t *n)
{
    char dump[4096], png[4096];
    snprintf(dump, sizeof dump, "%s/adapters_live_batch_%s.safetensors", outdir, tag);
    snprintf(png, sizeof png, "%s/adapters_live_batch_%s_%%d.png", outdir, tag);
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/adapters_live_demo.safetensors", outdir);
    loom_gen_request q;
    memset(&q, 0, sizeof q);
    q.model_path = model_path;
    q.prompt = prompts[0];
    q.item_prompts = batch > 1 ? prompts : NULL;
    q.negative_prompt = cfg_str("negative_prompt");
    q.width = q.height = 64;
    q.steps = 3;
    q.cfg_scale = 7;
    q.seed = seed;
    q.sampler = "euler_a";
    q.rng = "cpu";
    q.batch_count = 1;
    q.batch_size = batch;
    q.backend = LOOM_BACKEND_CPU;
    q.output = png;
    q.dump_latent = dump;
    q.lora_dir = t_fixture(DIR);
    q.strict_adapters = 1;
    loom_status s = loom_generate(&q);
    T_CHECK(s == LOOM_OK, "batch %s: %s", tag, loom_last_error());
    return s == LOOM_OK ? read_latent(dump, n) : NULL;
}

static void check_mixed_batch(void)
{
    /* four sets: three latent cases' adapters and none at all */
    static char prompts[4][4096];
    const char *p[4];
    int k = 0;
    for (int i = 0; i < n_cases && k < 3; i++)
        if (!strcmp(cases[i].kind, "latent") && cases[i].n > 0 && prompt_with_tags(&cases[i], prompts[k], 4096)) k++;
    T_CHECK(k == 3, "cases.tsv has fewer than 3 latent cases with adapters");
    if (k < 3) return;
    snprintf(prompts[3], 4096, "%s", cfg_str("prompt"));
    for (int i = 0; i < 4; i++) p[i] = prompts[i];
    int64_t nb = 0, n1 = 0;
    float *batch = render(p, 4, 1234, "mixed", &nb);
    if (!batch || nb % 4) {
        T_CHECK(0, "mixed batch: no latents");
        free(batch);
        return;
    }
    const int64_t per = nb / 4;
    for (int i = 0; i < 4; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "single%d", i);
        float *one = render(&p[i], 1, 1234 + i, tag, &n1);
        T_CHECK(one && n1 == per, "single %d: %lld latents", i, (long long)n1);
        if (one && n1 == per) {
            int same = !memcmp(one, batch + i * per, (size_t)per * sizeof(float));
            printf("mixed batch image %d vs alone: %s (rel L2 %.3e)\n", i, same ? "bit-identical" : "DIFFERENT",
                   t_rel_l2(batch + i * per, one, per));
            T_CHECK(same, "image %d of the mixed batch differs from its single render", i);
        }
        free(one);
    }
    /* the sets do something: every adapted image differs from the plain one */
    for (int i = 0; i < 3; i++)
        T_CHECK(t_rel_l2(batch + i * per, batch + 3 * per, per) > 1e-3, "image %d: its adapters changed nothing", i);
    free(batch);
}

/* ---- broken adapters through the CLI ---- */

static void check_broken(void)
{
    char dir[2048], png[4096];
    snprintf(dir, sizeof dir, "%.2000s/adapters_live_bad", outdir);
    mkdir(dir, 0755);
    static const struct {
        const char *file, *want;
    } bad[] = {
        {"adp_missing_up", "module has no up factor"},
        {"adp_missing_down", "module has no down"},
        {"adp_rank_mismatch", "rank mismatch"},
        {"adp_nan_alpha", "value is nan"},
        {"adp_shape", "does not fit"},
        {"adp_unknown_suffix", "unknown key suffix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char src[4096], dst[4096], rel[128];
        snprintf(rel, sizeof rel, "adapters/bad/%s.safetensors", bad[i].file);
        snprintf(src, sizeof src, "%s", t_fixture(rel));
        snprintf(dst, sizeof dst, "%s/%s.safetensors", dir, bad[i].file);
        unlink(dst);
        T_CHECK(symlink(src, dst) == 0, "symlink %s", dst);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int skip = 0; skip < 2; skip++) {
            snprintf(png, sizeof png, "%s/broken_%zu_%d.png", dir, i, skip);
            unlink(png);
            snprintf(cmd, sizeof cmd,
                     LOOM_BIN " generate -m '%s/adapters_live_demo.safetensors' -p 'a cat <lora:%s:0.7>' -W 64 -H 64 "
                              "--steps 1 --rng cpu --lora-model-dir '%s' %s -o '%s'",
                     outdir, bad[i].file, dir, skip ? "--skip-broken-adapters" : "", png);
            int rc = t_run(cmd, out, sizeof out);
            int exists = access(png, F_OK) == 0;
            if (!skip) {
                T_CHECK(rc == 1, "%s: exit %d: %s", bad[i].file, rc, out);
                T_CHECK(strstr(out, bad[i].file) && strstr(out, bad[i].want), "%s: message lacks the file or '%s': %s",
                        bad[i].file, bad[i].want, out);
                T_CHECK(!strchr(out, '\n') || strchr(out, '\n') == out + strlen(out) - 1, "%s: not one line: %s",
                        bad[i].file, out);
                T_CHECK(!exists, "%s: an image was written", bad[i].file);
            } else {
                T_CHECK(rc == 0 && exists, "%s with --skip-broken-adapters: exit %d, image %d: %s", bad[i].file, rc,
                        exists, out);
                T_CHECK(strstr(out, bad[i].want) != NULL, "%s: the warning lacks '%s': %s", bad[i].file, bad[i].want,
                        out);
            }
        }
    }
    /* an unknown name, and a tag in the negative prompt */
    snprintf(cmd, sizeof cmd,
             LOOM_BIN " generate -m '%s/adapters_live_demo.safetensors' -p 'a cat <lora:no_such_adapter:1>' -W 64 "
                      "-H 64 --steps 1 --lora-model-dir '%s' -o '%s/unknown.png'",
             outdir, t_fixture(DIR), dir);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 1 && strstr(out, "no_such_adapter"), "unknown adapter: exit %d: %s", rc, out);
    snprintf(cmd, sizeof cmd,
             LOOM_BIN " generate -m '%s/adapters_live_demo.safetensors' -p 'a cat' -n 'blurry <lora:x:1>' -W 64 -H 64 "
                      "--steps 1 --lora-model-dir '%s' -o '%s/neg.png'",
             outdir, t_fixture(DIR), dir);
    rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 1 && strstr(out, "negative prompt"), "tag in the negative prompt: exit %d: %s", rc, out);
}

int main(int argc, char **argv)
{
    if (argc > 1) outdir = argv[1];
    fx = t_open_fixture(DIR "/expected.safetensors");
    json_error_t je;
    cfg = json_load_file(t_fixture(DIR "/config.json"), 0, &je);
    T_CHECK(fx && cfg, "fixture missing or config.json unreadable (%s)", je.text);
    if (!fx || !cfg) return t_finish("test_adapters_live");
    read_cases();
    if (!load_model()) return t_finish("test_adapters_live");

    loom_tensor xs, ts, cs;
    float *x = t_load_f32(fx, "unet/x", &xs), *t = t_load_f32(fx, "unet/t", &ts), *ctx = t_load_f32(fx, "unet/context", &cs);
    if (x && t && ctx) {
        loom_tensor xv = loom_tensor_view(x, LOOM_F32, xs.ndim, xs.shape), tv = loom_tensor_view(t, LOOM_F32, 1, ts.shape);
        loom_tensor cv = loom_tensor_view(ctx, LOOM_F32, cs.ndim, cs.shape);
        for (int i = 0; i < n_cases; i++)
            if (!strcmp(cases[i].kind, "unet")) check_unet(&cases[i], &xv, &tv, &cv);
    }
    free(x), free(t), free(ctx);
    for (int i = 0; i < n_cases; i++)
        if (!strcmp(cases[i].kind, "text")) check_text(&cases[i]);
    for (int i = 0; i < n_cases; i++)
        if (!strcmp(cases[i].kind, "latent")) check_latent(&cases[i]);

    check_inspect();
    check_mixed_batch();
    check_broken();

    if (tok) loom_tokenizer_close(tok);
    loom_sd_model_free(&model);
    loom_tfile_close(fx);
    json_decref(cfg);
    return t_finish("test_adapters_live");
}
