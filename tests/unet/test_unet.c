/* test_unet.c — the UNet on the CPU backend against diffusers, float64 reference.
 *
 * Fixtures (scripts/gen_fixtures_golden_unet.py): two tiny SD-architecture
 * UNets (sd1: conv proj_in, depth 1, 8 heads; v2: Linear proj_in, depth 2,
 * per-level heads, 9 input channels), each as an LDM single file and as a
 * diffusers folder, with inputs and diffusers' output for batch 2 and two
 * different timesteps. Both ways of loading must give the reference within
 * relative L2 1e-4 (diffusers' own fp32 error is printed alongside), the
 * config inferred from LDM shapes must equal the one diffusers wrote, and
 * broken checkpoints / configs / arguments must give one-line errors naming
 * the file and the key. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "diffusers_keys.h"
#include "tensor_alloc.h"
#include "testlib.h"
#include "unet.h"
#include "unet_kv.h"

#define TOL 1e-4

typedef struct golden {
    loom_tfile *tf;
    float *x, *t, *ctx, *eps, *eps_f32;
    loom_tensor xs, ts, cs, es;
} golden;

static int load_golden(const char *name, golden *g)
{
    char rel[128];
    memset(g, 0, sizeof *g);
    snprintf(rel, sizeof rel, "unet/%s_golden.safetensors", name);
    if (!(g->tf = t_open_fixture(rel))) return 0;
    loom_tensor tmp;
    g->x = t_load_f32(g->tf, "x", &g->xs);
    g->t = t_load_f32(g->tf, "t", &g->ts);
    g->ctx = t_load_f32(g->tf, "context", &g->cs);
    g->eps = t_load_f32(g->tf, "eps", &g->es);
    g->eps_f32 = t_load_f32(g->tf, "eps_f32", &tmp);
    g->xs.data = g->x, g->ts.data = g->t, g->cs.data = g->ctx;
    return g->x && g->t && g->ctx && g->eps && g->eps_f32;
}

static void free_golden(golden *g)
{
    free(g->x), free(g->t), free(g->ctx), free(g->eps), free(g->eps_f32);
    loom_tfile_close(g->tf);
}

/* Forward on the golden inputs; returns the output (malloc'd via tensor_alloc) or NULL data. */
static loom_tensor forward(const loom_unet *u, const golden *g, const float *t_override)
{
    loom_tensor out = {0}, ts = g->ts;
    if (t_override) ts.data = (void *)t_override;
    T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, g->es.shape, &out));
    loom_status s = loom_unet_forward(u, &loom_ops_cpu, &g->xs, &ts, &g->cs, &out);
    T_CHECK(s == LOOM_OK, "forward: %s", loom_last_error());
    if (s != LOOM_OK) loom_tensor_free(&out);
    return out;
}

static void compare(const char *what, const loom_tensor *out, const golden *g)
{
    if (!out->data) return;
    const int64_t n = loom_tensor_numel(&g->es);
    const double rel = t_rel_l2(out->data, g->eps, n), ref_own = t_rel_l2(g->eps_f32, g->eps, n);
    printf("%-28s rel L2 %.3e (%.2f%% of tolerance %.0e; diffusers fp32 itself: %.3e), max abs %.3e\n", what, rel,
           100 * rel / TOL, TOL, ref_own, t_max_abs(out->data, g->eps, n));
    T_CHECK(t_count_nonfinite(out->data, n) == 0, "%s: NaN/Inf in the output", what);
    T_CHECK(rel <= TOL, "%s: rel L2 %.3e > %.0e", what, rel, TOL);
    /* style.md §5: also relative to the reference's own rounding. Both are f32
     * pipelines off the same float64 truth, so loom's error should be of the
     * order of diffusers' fp32 error; a wrong eps (1e-5 for 1e-6) is 25× it. */
    T_CHECK(rel <= 5 * ref_own, "%s: rel L2 %.3e > 5 x diffusers' own fp32 error %.3e", what, rel, ref_own);
}

static int config_equal(const char *what, const loom_unet_config *a, const loom_unet_config *b)
{
#define SAME(f)                                                                                                        \
    do {                                                                                                               \
        T_CHECK(a->f == b->f, "%s: " #f " %g vs %g", what, (double)a->f, (double)b->f);                              \
        ok &= a->f == b->f;                                                                                            \
    } while (0)
    int ok = 1;
    SAME(in_channels);
    SAME(out_channels);
    SAME(n_levels);
    SAME(num_res_blocks);
    SAME(mid_depth);
    SAME(mid_heads);
    SAME(context_dim);
    SAME(use_linear_in_transformer);
    SAME(time_embed_dim);
    SAME(norm_groups);
    SAME(norm_eps);
    SAME(transformer_norm_eps);
    SAME(layer_norm_eps);
    SAME(flip_sin_to_cos);
    SAME(freq_shift);
    for (int l = 0; l < a->n_levels && l < LOOM_UNET_MAX_LEVELS; l++) {
        SAME(channels[l]);
        SAME(depth[l]);
        if (a->depth[l]) SAME(heads[l]);
    }
    return ok;
#undef SAME
}

static loom_status open_diffusers(const char *name, loom_tfile **tf, loom_unet_config *cfg)
{
    char rel[128];
    snprintf(rel, sizeof rel, "unet/%s_diffusers/unet/config.json", name);
    LOOM_TRY(loom_unet_config_from_diffusers(t_fixture(rel), cfg));
    snprintf(rel, sizeof rel, "unet/%s_diffusers/unet/diffusion_pytorch_model.safetensors", name);
    return loom_tfile_open(t_fixture(rel), tf);
}

/* Load `name` both ways, check the inferred config and both outputs against the reference. */
static void check_model(const char *name, int heads_from_json)
{
    golden g;
    if (!load_golden(name, &g)) {
        free_golden(&g);
        return;
    }
    loom_unet_config jcfg, lcfg;
    loom_tfile *dtf = NULL, *ltf = NULL;
    char rel[128], what[64];
    T_OK(open_diffusers(name, &dtf, &jcfg));
    snprintf(rel, sizeof rel, "unet/%s_ldm.safetensors", name);
    ltf = t_open_fixture(rel);
    if (!dtf || !ltf) goto done;

    loom_weights lw, dw;
    loom_weights_init(&lw, LOOM_BACKEND_CPU);
    loom_weights_init(&dw, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&lw, ltf, NULL, NULL));
    loom_diffusers_unet_keys keys = {jcfg.num_res_blocks};
    T_OK(loom_weights_add(&dw, dtf, loom_diffusers_unet_key, &keys));

    /* LDM single files do not store the norm group count, nor (SD2) heads; the rest comes from shapes */
    loom_status s = loom_unet_config_infer(&lw, &lcfg);
    T_CHECK(s == LOOM_OK, "%s: infer: %s", name, loom_last_error());
    if (s != LOOM_OK) goto done;
    T_CHECK(lcfg.norm_groups == 32, "%s: LDM default groups %d", name, lcfg.norm_groups);
    lcfg.norm_groups = jcfg.norm_groups;
    if (heads_from_json) T_OK(loom_unet_config_set_heads(&lcfg, 0, jcfg.channels[0] / jcfg.heads[0]));
    snprintf(what, sizeof what, "%s inferred config", name);
    config_equal(what, &lcfg, &jcfg);

    loom_unet ul, ud;
    T_OK(loom_unet_load(&ul, &lw, &lcfg));
    T_OK(loom_unet_load(&ud, &dw, &jcfg));
    T_CHECK(ul.weight_bytes > 0 && ul.weight_bytes == ud.weight_bytes, "%s: %llu vs %llu weight bytes", name,
            (unsigned long long)ul.weight_bytes, (unsigned long long)ud.weight_bytes);
    loom_tensor ol = forward(&ul, &g, NULL), od = forward(&ud, &g, NULL);
    snprintf(what, sizeof what, "%s, LDM single file:", name);
    compare(what, &ol, &g);
    snprintf(what, sizeof what, "%s, diffusers folder:", name);
    compare(what, &od, &g);
    if (ol.data && od.data) /* same weights, same code: the same bits */
        T_CHECK(t_max_abs(ol.data, od.data, loom_tensor_numel(&ol)) == 0, "%s: LDM and diffusers outputs differ", name);

    /* The comparison can fail: the timesteps swapped between the two samples give a different output. */
    const float swapped[2] = {g.t[1], g.t[0]};
    loom_tensor os = forward(&ul, &g, swapped);
    if (os.data) {
        const double diff = t_rel_l2(os.data, g.eps, loom_tensor_numel(&os));
        T_CHECK(diff > 100 * TOL, "%s: swapping the timesteps changes the output by only %.3e", name, diff);
    }
    /* Cross-attention K/V once per request (unet_kv.h): the third call on ul has the first one's
     * context, so it is served from the cache, and must give the first call's bits. */
    loom_unet_kv_stats ks;
    loom_unet_kv_get_stats(ul.kv, &ks);
    T_CHECK(ks.hits == 1 && ks.misses == 1 && ks.bytes > 0, "%s: K/V cache %d hits, %d misses, %zu bytes", name,
            ks.hits, ks.misses, ks.bytes);
    loom_tensor again = forward(&ul, &g, NULL);
    if (again.data && ol.data)
        T_CHECK(t_max_abs(again.data, ol.data, loom_tensor_numel(&ol)) == 0, "%s: a K/V cache hit changed the output",
                name);
    /* Another context must not be served stale K/V: ul (cache full of the old context) and ud
     * must agree bit for bit, and differ from the reference by far more than the tolerance. */
    golden g2 = g;
    const int64_t nc = loom_tensor_numel(&g.cs);
    float *ctx2 = malloc((size_t)nc * sizeof *ctx2);
    if (ctx2) {
        for (int64_t i = 0; i < nc; i++) ctx2[i] = 0.5f * g.ctx[i] + 0.25f;
        g2.cs.data = ctx2;
        loom_tensor c1 = forward(&ul, &g2, NULL), c2 = forward(&ud, &g2, NULL);
        if (c1.data && c2.data) {
            T_CHECK(t_max_abs(c1.data, c2.data, loom_tensor_numel(&c1)) == 0,
                    "%s: a new context after cached ones gives other bits than a fresh model", name);
            T_CHECK(t_rel_l2(c1.data, g.eps, loom_tensor_numel(&c1)) > 100 * TOL,
                    "%s: a different context hardly changes the output", name);
        }
        loom_tensor_free(&c1), loom_tensor_free(&c2);
        free(ctx2);
    }
    loom_tensor_free(&again);
    loom_tensor_free(&ol), loom_tensor_free(&od), loom_tensor_free(&os);
    loom_unet_free(&ul), loom_unet_free(&ud);
done:
    loom_tfile_close(dtf), loom_tfile_close(ltf);
    free_golden(&g);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    *n = buf ? (size_t)len : 0;
    T_CHECK(buf != NULL, "cannot read %s", path);
    return buf;
}

/* Replace the first `from` in the safetensors JSON header with `to` (same length, so offsets stay valid). */
static int patch_header(uint8_t *buf, size_t n, const char *from, const char *to)
{
    const size_t len = strlen(from);
    if (strlen(to) != len || n < 8) return 0;
    size_t hdr = 0;
    for (int i = 7; i >= 0; i--) hdr = hdr << 8 | buf[i];
    for (size_t i = 8; hdr <= n - 8 && i + len <= 8 + hdr; i++)
        if (memcmp(buf + i, from, len) == 0) {
            memcpy(buf + i, to, len);
            return 1;
        }
    return 0;
}

/* Loading a patched copy of a fixture must fail with one line naming the file and `want1`, `want2`. */
static void expect_load_error(const char *fixture, const char *name, const char *from, const char *to,
                              const char *want1, const char *want2, int diffusers)
{
    size_t n;
    uint8_t *buf = read_all(t_fixture(fixture), &n);
    if (!buf) return;
    T_CHECK(patch_header(buf, n, from, to), "%s: '%s' not in the header", fixture, from);
    loom_tfile *tf = NULL;
    loom_status s = loom_tfile_open_memory(name, buf, n, &tf);
    T_CHECK(s == LOOM_OK, "%s: %s", name, loom_last_error());
    if (s == LOOM_OK) {
        loom_weights w;
        loom_unet_config cfg;
        loom_unet u;
        loom_diffusers_unet_keys keys = {0}; /* set from the config below, before the map is used */
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        T_OK(loom_weights_add(&w, tf, diffusers ? loom_diffusers_unet_key : NULL, diffusers ? &keys : NULL));
        if (diffusers) s = loom_unet_config_from_diffusers(t_fixture("unet/sd1_diffusers/unet/config.json"), &cfg);
        else if ((s = loom_unet_config_infer(&w, &cfg)) == LOOM_OK) cfg.norm_groups = 8;
        T_CHECK(s == LOOM_OK, "%s: config: %s", name, loom_last_error());
        keys.layers_per_block = cfg.num_res_blocks;
        s = s == LOOM_OK ? loom_unet_load(&u, &w, &cfg) : s;
        const char *e = loom_last_error();
        printf("%s -> %s\n", name, e);
        T_CHECK(s == LOOM_E_FORMAT, "%s: loaded (status %d)", name, (int)s);
        T_CHECK(strstr(e, name) == e, "%s: message does not start with the file: %s", name, e);
        T_CHECK(strstr(e, want1) && strstr(e, want2), "%s: message lacks '%s' / '%s': %s", name, want1, want2, e);
        T_CHECK(!strchr(e, '\n'), "%s: message has several lines", name);
        if (s == LOOM_OK) loom_unet_free(&u);
        loom_tfile_close(tf);
    }
    free(buf);
}

/* A config.json with `body` must be refused, naming the file and `want`. */
static void expect_config_error(const char *body, const char *want)
{
    char path[] = "/tmp/loom_unet_config_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs(body, f);
    fclose(f);
    loom_unet_config cfg;
    loom_status s = loom_unet_config_from_diffusers(path, &cfg);
    const char *e = loom_last_error();
    printf("config %s -> %s\n", want, e);
    T_CHECK(s != LOOM_OK, "config with %s accepted", want);
    T_CHECK(strstr(e, path) == e && strstr(e, want) && !strchr(e, '\n'), "config %s: message: %s", want, e);
    unlink(path);
}

static void check_bad_configs(void)
{
    expect_config_error("{\"_class_name\": \"UNet2DConditionModel\", \"addition_embed_type\": \"text_time\"}",
                        "addition_embed_type");
    expect_config_error("{\"block_out_channels\": [320, 640], \"down_block_types\": [\"CrossAttnDownBlock2D\", "
                        "\"DownBlock2D\"], \"up_block_types\": [\"CrossAttnUpBlock2D\", \"UpBlock2D\"]}",
                        "up_block_types");
    expect_config_error("{\"block_out_channels\": [320, 640, 1280, 1280], \"attention_head_dim\": 7}",
                        "attention heads do not divide");
    expect_config_error("{\"layers_per_block\": \"two\"}", "layers_per_block");
    expect_config_error("{\"in_channels\": 4,", "line");
    expect_config_error("[1, 2]", "JSON object");
}

/* Arguments the model cannot run are refused with a message, not a crash. */
static void check_bad_args(void)
{
    golden g;
    loom_tfile *tf = t_open_fixture("unet/sd1_ldm.safetensors");
    if (!load_golden("sd1", &g) || !tf) {
        free_golden(&g), loom_tfile_close(tf);
        return;
    }
    loom_weights w;
    loom_unet_config cfg;
    loom_unet u;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, tf, NULL, NULL));
    T_OK(loom_unet_config_infer(&w, &cfg));
    cfg.norm_groups = 8;
    if (loom_unet_load(&u, &w, &cfg) == LOOM_OK) {
        loom_tensor out = {0};
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, g.es.shape, &out));
        loom_tensor x = g.xs, c = g.cs, t = g.ts;
        x.shape[1] = 6; /* 8×12 → 6×12: does not halve twice */
        T_CHECK(loom_unet_forward(&u, &loom_ops_cpu, &x, &t, &c, &out) == LOOM_E_INVALID &&
                    strstr(loom_last_error(), "multiples of 4"), "odd latent: %s", loom_last_error());
        c.shape[2] = 16;
        T_CHECK(loom_unet_forward(&u, &loom_ops_cpu, &g.xs, &t, &c, &out) == LOOM_E_INVALID &&
                    strstr(loom_last_error(), "context"), "context width: %s", loom_last_error());
        t.shape[0] = 1;
        T_CHECK(loom_unet_forward(&u, &loom_ops_cpu, &g.xs, &t, &g.cs, &out) == LOOM_E_INVALID &&
                    strstr(loom_last_error(), "timesteps"), "timesteps: %s", loom_last_error());
        loom_ops none = {.name = "empty"}; /* a backend without the ops: a clear error, not a NULL call */
        T_CHECK(loom_unet_forward(&u, &none, &g.xs, &g.ts, &g.cs, &out) != LOOM_OK &&
                    strstr(loom_last_error(), "timestep_embedding"), "missing op: %s", loom_last_error());
        /* failures deep in the graph name the block and free what was allocated (LeakSanitizer checks) */
        loom_ops partial = loom_ops_cpu;
        partial.attention = NULL;
        T_CHECK(loom_unet_forward(&u, &partial, &g.xs, &g.ts, &g.cs, &out) != LOOM_OK &&
                    strstr(loom_last_error(), "unet input_blocks.1: attention"), "no attention: %s", loom_last_error());
        partial = loom_ops_cpu;
        partial.upsample2x = NULL;
        T_CHECK(loom_unet_forward(&u, &partial, &g.xs, &g.ts, &g.cs, &out) != LOOM_OK &&
                    strstr(loom_last_error(), "unet output_blocks.1: upsample2x"), "no upsample: %s", loom_last_error());
        loom_tensor_free(&out);
        loom_unet_free(&u);
    } else {
        T_CHECK(0, "load: %s", loom_last_error());
    }
    free_golden(&g);
    loom_tfile_close(tf);
}

/* The single-file checkpoints of the inspect fixtures (scripts/gen_fixtures_inspect.py: 4 levels,
 * layers_per_block 2, norm_num_groups 2, attention_head_dim 2 = 2 heads; one .ckpt with an EMA
 * copy) load and run: the dims inferred from shapes are the ones the generator recorded, and SDXL
 * is refused. */
static void check_inspect_checkpoints(void)
{
    static const char *const files[] = {"sd1_tiny_fp16.safetensors", "sd1_tiny_ema.ckpt", "sd2_tiny_fp16.safetensors",
                                        "sdxl_tiny_fp16.safetensors"};
    json_error_t err;
    json_t *expected = json_load_file(t_fixture("inspect/expected.json"), 0, &err);
    T_CHECK(expected != NULL, "inspect/expected.json: %s", err.text);
    for (size_t i = 0; expected && i < sizeof files / sizeof files[0]; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "inspect/%s", files[i]);
        loom_tfile *tf = t_open_fixture(rel);
        json_t *dims = json_object_get(json_object_get(expected, files[i]), "dims");
        if (!tf || !dims) {
            T_CHECK(dims != NULL, "%s: no dims in expected.json", files[i]);
            loom_tfile_close(tf);
            continue;
        }
        loom_weights w;
        loom_unet_config cfg;
        loom_unet u;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        T_OK(loom_weights_add(&w, tf, NULL, NULL));
        loom_status s = loom_unet_config_infer(&w, &cfg);
        if (strncmp(files[i], "sdxl", 4) == 0) {
            T_CHECK(s == LOOM_E_UNSUPPORTED && strstr(loom_last_error(), "SDXL") && strstr(loom_last_error(), rel),
                    "%s: %s", files[i], loom_last_error());
            loom_tfile_close(tf);
            continue;
        }
        T_CHECK(s == LOOM_OK, "%s: infer: %s", files[i], loom_last_error());
        T_CHECK(cfg.channels[0] == json_integer_value(json_object_get(dims, "model_channels")) &&
                    cfg.in_channels == json_integer_value(json_object_get(dims, "in_channels")) &&
                    cfg.context_dim == json_integer_value(json_object_get(dims, "context_dim")) &&
                    cfg.n_levels == 4 && cfg.num_res_blocks == 2 &&
                    cfg.use_linear_in_transformer == (strncmp(files[i], "sd2", 3) == 0),
                "%s: inferred dims differ from the generator's", files[i]);
        cfg.norm_groups = 2;
        T_OK(loom_unet_config_set_heads(&cfg, 2, 0));
        if (s == LOOM_OK && loom_unet_load(&u, &w, &cfg) == LOOM_OK) {
            loom_tensor x = {0}, t = {0}, c = {0}, out = {0};
            const int64_t xs[4] = {1, 8, 16, cfg.in_channels}, os[4] = {1, 8, 16, cfg.out_channels},
                          cs[3] = {1, 77, cfg.context_dim}, ts[1] = {1};
            T_OK(loom_tensor_zeros(LOOM_HOST, LOOM_F32, 4, xs, &x));
            T_OK(loom_tensor_zeros(LOOM_HOST, LOOM_F32, 3, cs, &c));
            T_OK(loom_tensor_zeros(LOOM_HOST, LOOM_F32, 1, ts, &t));
            T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, os, &out));
            T_OK(loom_unet_forward(&u, &loom_ops_cpu, &x, &t, &c, &out));
            if (out.data)
                T_CHECK(t_count_nonfinite(out.data, loom_tensor_numel(&out)) == 0, "%s: NaN/Inf", files[i]);
            loom_tensor_free(&x), loom_tensor_free(&t), loom_tensor_free(&c), loom_tensor_free(&out);
            loom_unet_free(&u);
        } else {
            T_CHECK(0, "%s: load: %s", files[i], loom_last_error());
        }
        loom_tfile_close(tf);
    }
    json_decref(expected);
}

int main(void)
{
    check_model("sd1", 0);
    check_model("v2", 1);
    expect_load_error("unet/sd1_ldm.safetensors", "sd1_missing_key.safetensors",
                      "model.diffusion_model.output_blocks.2.0.skip_connection.weight\"",
                      "model.diffusion_model.output_blocks.2.0.skip_connection.weighX\"",
                      "missing tensor", "'model.diffusion_model.output_blocks.2.0.skip_connection.weight'", 0);
    expect_load_error("unet/sd1_ldm.safetensors", "sd1_bad_shape.safetensors",
                      "skip_connection.weight\":{\"dtype\":\"F16\",\"shape\":[32,16,1,1]",
                      "skip_connection.weight\":{\"dtype\":\"F16\",\"shape\":[16,32,1,1]",
                      "'model.diffusion_model.input_blocks.3.0.skip_connection.weight'",
                      "is [16, 32, 1, 1], expected [32, 16, 1, 1]", 0);
    expect_load_error("unet/sd1_diffusers/unet/diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors",
                      "\"up_blocks.1.attentions.0.proj_out.bias\"", "\"up_blocks.1.attentions.0.proj_out.biaZ\"",
                      "missing tensor 'up_blocks.1.attentions.0.proj_out.bias'",
                      "(model.diffusion_model.output_blocks.2.1.proj_out.bias)", 1);
    check_inspect_checkpoints();
    check_bad_configs();
    check_bad_args();
    return t_finish("test_unet");
}
