/* test_clip.c — the CLIP text encoder against transformers (float64) on a tiny
 * CLIPTextModel (scripts/gen_fixtures_golden_clip_vae.py → tests/fixtures/clip_vae):
 *   - every loading path gives last_hidden_state (clip skip 1) and
 *     final_layer_norm(hidden_states[−2]) (clip skip 2) within rel L2 1e-4:
 *     the SD1 single file, the same without the "text_model." level (older
 *     checkpoints), the diffusers text_encoder/ as transformers 5 writes it and
 *     with transformers 4's "text_model." level;
 *   - A1111's "Original" emphasis on the batch against the script's formula;
 *   - the configuration read from shapes and from config.json;
 *   - a wrong head count is caught by the comparison (the test can fail);
 *   - broken files and bad arguments give one-line errors naming file and key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "diffusers_keys_clip_vae.h"
#include "st_build.h"
#include "tensor_alloc.h"
#include "testlib.h"

#define TOL 1e-4
#define PREFIX LOOM_CLIP_PREFIX_SD1
#define CKPT "clip_vae/sd1_clip_vae_tiny.safetensors"

static loom_tfile *golden;
static int heads_meta; /* the tiny model's head count, from the fixture's metadata */

static float *ref(const char *name, int64_t *n)
{
    loom_tensor t;
    float *d = t_load_f32(golden, name, &t);
    *n = d ? loom_tensor_numel(&t) : 0;
    return d;
}

static int32_t *golden_ids(int64_t *b, int64_t *s)
{
    loom_tensor t;
    *b = *s = 0;
    float *f = t_load_f32(golden, "clip/ids", &t);
    if (!f) return NULL;
    *b = t.shape[0];
    *s = t.shape[1];
    int32_t *ids = malloc((size_t)(*b * *s) * sizeof *ids);
    for (int64_t i = 0; ids && i < *b * *s; i++) ids[i] = (int32_t)f[i];
    free(f);
    return ids;
}

/* Encode the golden ids with m at clip_skip and return rel L2 against `want` (INFINITY on failure). */
static double encode_vs(const loom_clip *m, int clip_skip, const char *want, loom_tensor *keep)
{
    int64_t b = 0, s = 0, n = 0;
    int32_t *ids = golden_ids(&b, &s);
    float *r = ref(want, &n);
    double rel = INFINITY;
    const int64_t shape[3] = {b, s, m->cfg.width};
    loom_tensor out = {0};
    if (ids && r && loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, shape, &out) == LOOM_OK) {
        loom_status st = loom_clip_encode(m, &loom_ops_cpu, ids, clip_skip, &out);
        T_CHECK(st == LOOM_OK, "encode: %s", loom_last_error());
        T_CHECK(loom_tensor_numel(&out) == n, "%s: %lld values, output %lld", want, (long long)n,
                (long long)loom_tensor_numel(&out));
        if (st == LOOM_OK && loom_tensor_numel(&out) == n) {
            rel = t_rel_l2(out.data, r, n);
            T_CHECK(t_count_nonfinite(out.data, n) == 0, "%s: non-finite output", want);
        }
    }
    if (keep && rel < INFINITY) *keep = out;
    else loom_tensor_free(&out);
    free(ids);
    free(r);
    return rel;
}

/* Load from w (config as given) and check clip skip 1 and 2. */
static void check_model(const char *what, loom_weights *w, const loom_clip_config *cfg)
{
    loom_clip m;
    loom_status s = loom_clip_load(&m, w, PREFIX, cfg);
    T_CHECK(s == LOOM_OK, "%s: load: %s", what, loom_last_error());
    if (s != LOOM_OK) return;
    for (int skip = 1; skip <= 2; skip++) {
        const double rel = encode_vs(&m, skip, skip == 1 ? "clip/skip1" : "clip/skip2", NULL);
        printf("%-44s clip skip %d  rel_l2 %.2e  (%.2f%% of tol)\n", what, skip, rel, 100 * rel / TOL);
        T_CHECK(rel <= TOL, "%s, clip skip %d: rel L2 %.3e > %.0e", what, skip, rel, TOL);
    }
    loom_clip_free(&m);
}

static void test_single_file(void)
{
    loom_tfile *tf = t_open_fixture(CKPT);
    if (!tf) return;
    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, tf, NULL, NULL));
    loom_clip_config cfg;
    T_OK(loom_clip_config_infer(&w, PREFIX, &cfg));
    /* from shapes: the tiny model's sizes; heads by CLIP-L's rule (64 per head) */
    T_CHECK(cfg.vocab == 1000 && cfg.width == 64 && cfg.layers == 2 && cfg.mlp == 128 && cfg.max_pos == 77,
            "inferred vocab %lld width %lld layers %lld mlp %lld pos %lld", (long long)cfg.vocab,
            (long long)cfg.width, (long long)cfg.layers, (long long)cfg.mlp, (long long)cfg.max_pos);
    T_CHECK(cfg.heads == 1 && cfg.act == LOOM_ACT_QUICK_GELU && cfg.ln_eps == 1e-5f, "inferred heads %lld act %d",
            (long long)cfg.heads, (int)cfg.act);

    /* the default head rule is wrong for this tiny model, and the comparison must notice */
    loom_clip m;
    if (loom_clip_load(&m, &w, PREFIX, &cfg) == LOOM_OK) {
        const double rel = encode_vs(&m, 1, "clip/skip1", NULL);
        T_CHECK(rel > 100 * TOL, "1 head instead of %d: rel L2 %.3e should be large", heads_meta, rel);
        loom_clip_free(&m);
    }
    cfg.heads = heads_meta;
    check_model("single file (text_model. level)", &w, &cfg);

    /* emphasis on the batch of two chunks, skip 1 */
    if (loom_clip_load(&m, &w, PREFIX, &cfg) == LOOM_OK) {
        loom_tensor z = {0};
        int64_t nw, ne;
        float *wts = ref("clip/weights", &nw), *want = ref("clip/emphasis", &ne);
        encode_vs(&m, 1, "clip/skip1", &z);
        if (z.data && wts && want && nw * m.cfg.width == ne && loom_tensor_numel(&z) == ne) {
            T_OK(loom_clip_apply_emphasis(&z, wts));
            const double rel = t_rel_l2(z.data, want, ne);
            printf("%-44s emphasis     rel_l2 %.2e  (%.2f%% of tol)\n", "single file", rel, 100 * rel / TOL);
            T_CHECK(rel <= TOL, "emphasis: rel L2 %.3e", rel);
        } else {
            T_CHECK(0, "emphasis fixture or output missing");
        }
        free(wts);
        free(want);
        loom_tensor_free(&z);
        loom_clip_free(&m);
    }
    loom_tfile_close(tf);
}

/* "<prefix>text_model.X" → "<prefix>X": the layout A1111 renames (sd_models.py checkpoint_dict_replacements_sd1) */
static const char *drop_text_model(void *ctx, const char *name, char *buf, size_t n)
{
    const char *p = PREFIX "text_model.";
    if (strncmp(name, p, strlen(p)) != 0) return name;
    snprintf(buf, n, "%s%s", PREFIX, name + strlen(p));
    return buf;
}

static void test_single_file_without_text_model(void)
{
    loom_tfile *src = t_open_fixture(CKPT);
    if (!src) return;
    st_build b;
    st_init(&b);
    st_copy(&b, src, drop_text_model, NULL);
    uint8_t *img;
    loom_tfile *tf = st_open(&b, "old_layout.safetensors", &img);
    if (tf) {
        loom_weights w;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        T_OK(loom_weights_add(&w, tf, NULL, NULL));
        loom_clip_config cfg;
        T_OK(loom_clip_config_infer(&w, PREFIX, &cfg));
        cfg.heads = heads_meta;
        check_model("single file (no text_model. level)", &w, &cfg);
        loom_tfile_close(tf);
    }
    free(img);
    loom_tfile_close(src);
}

static void check_diffusers(const char *what, loom_tfile *tf)
{
    loom_clip_config cfg;
    T_OK(loom_clip_config_from_diffusers(t_fixture("clip_vae/diffusers/text_encoder/config.json"), &cfg));
    T_CHECK(cfg.heads == heads_meta && cfg.width == 64 && cfg.act == LOOM_ACT_QUICK_GELU,
            "config.json: heads %lld width %lld", (long long)cfg.heads, (long long)cfg.width);
    loom_diffusers_clip_keys keys;
    loom_diffusers_clip_keys_init(&keys, tf, PREFIX);
    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, tf, loom_diffusers_clip_key, &keys));
    check_model(what, &w, &cfg);
}

static const char *add_text_model(void *ctx, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "text_model.%s", name);
    return buf;
}

static void test_diffusers(void)
{
    loom_tfile *tf = t_open_fixture("clip_vae/diffusers/text_encoder/model.safetensors");
    if (!tf) return;
    T_CHECK(loom_tfile_find(tf, "text_model.final_layer_norm.weight") == NULL,
            "the fixture was expected in transformers 5's naming");
    check_diffusers("diffusers text_encoder/ (transformers 5)", tf);
    st_build b;
    st_init(&b);
    st_copy(&b, tf, add_text_model, NULL);
    uint8_t *img;
    loom_tfile *t4 = st_open(&b, "model.safetensors", &img);
    if (t4) {
        check_diffusers("diffusers text_encoder/ (transformers 4)", t4);
        loom_tfile_close(t4);
    }
    free(img);
    loom_tfile_close(tf);
}

/* ---- broken files and bad arguments ---------------------------------------------- */


/* Load a copy of the checkpoint with `key` removed and, if `shape` is set, re-added as `dtype` of that shape. */
static void expect_broken(const loom_tfile *src, const char *key, loom_dtype dtype, int ndim, const int64_t *shape,
                          const char *problem)
{
    uint8_t *img;
    loom_tfile *tf = st_open_replaced(src, key, dtype, ndim, shape, "broken_clip.safetensors", &img);
    if (tf) {
        loom_weights w;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        T_OK(loom_weights_add(&w, tf, NULL, NULL));
        loom_clip_config cfg;
        loom_clip m;
        loom_clear_error();
        loom_status s = loom_clip_config_infer(&w, PREFIX, &cfg);
        cfg.heads = heads_meta;
        if (s == LOOM_OK) s = loom_clip_load(&m, &w, PREFIX, &cfg);
        T_EXPECT_FAILED(s, key, "broken_clip.safetensors", key, problem);
        loom_tfile_close(tf);
    }
    free(img);
}

static void test_broken(void)
{
    loom_tfile *src = t_open_fixture(CKPT);
    if (!src) return;
    expect_broken(src, PREFIX "text_model.encoder.layers.1.mlp.fc2.bias", LOOM_F32, 0, NULL, "missing tensor");
    const int64_t s65[1] = {65};
    expect_broken(src, PREFIX "text_model.final_layer_norm.weight", LOOM_F32, 1, s65, "is [65], expected [64]");
    const int64_t s2[2] = {64, 64};
    expect_broken(src, PREFIX "text_model.encoder.layers.0.self_attn.k_proj.weight", LOOM_I32, 2, s2,
                  "expected a float tensor");
    const int64_t s3[3] = {10, 64, 1};
    expect_broken(src, PREFIX "text_model.embeddings.token_embedding.weight", LOOM_F16, 3, s3, "has 3 dims");
    expect_broken(src, PREFIX "text_model.embeddings.token_embedding.weight", LOOM_F32, 0, NULL,
                  "missing tensor"); /* no text encoder at all */

    loom_tfile *vae_only = t_open_fixture("clip_vae/diffusers/vae/diffusion_pytorch_model.safetensors");
    if (vae_only) {
        loom_clip_config cfg;
        T_EXPECT_FAIL(loom_clip_config_from_diffusers(vae_only->path, &cfg), "diffusion_pytorch_model.safetensors");
        T_EXPECT_FAIL(loom_clip_config_from_diffusers(t_fixture("clip_vae/diffusers/vae/config.json"), &cfg),
                    "config.json", "\"vocab_size\"");
        loom_tfile_close(vae_only);
    }

    /* bad arguments */
    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, src, NULL, NULL));
    loom_clip_config cfg;
    loom_clip m;
    T_OK(loom_clip_config_infer(&w, PREFIX, &cfg));
    cfg.heads = 3;
    T_EXPECT_FAIL(loom_clip_load(&m, &w, PREFIX, &cfg), "3 attention heads do not divide the CLIP width 64");
    cfg.heads = heads_meta;
    cfg.layers = 1;
    T_EXPECT_FAIL(loom_clip_load(&m, &w, PREFIX, &cfg), "encoder.layers.1.self_attn.q_proj.weight' exists");
    cfg.layers = 2;
    if (loom_clip_load(&m, &w, PREFIX, &cfg) == LOOM_OK) {
        int32_t ids[2 * 77] = {0};
        const int64_t shape[3] = {2, 77, 64};
        loom_tensor out;
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, shape, &out));
        T_EXPECT_FAIL(loom_clip_encode(&m, &loom_ops_cpu, ids, 3, &out), "clip skip 3 is out of range 1..2");
        T_EXPECT_FAIL(loom_clip_encode(&m, &loom_ops_cpu, ids, 0, &out), "clip skip 0");
        ids[77 + 5] = 1000;
        T_EXPECT_FAIL(loom_clip_encode(&m, &loom_ops_cpu, ids, 1, &out), "token id 1000 at [1, 5]");
        ids[77 + 5] = 0;
        const int64_t bad[3] = {2, 78, 64};
        loom_tensor out78 = loom_tensor_view(out.data, LOOM_F32, 3, bad);
        T_EXPECT_FAIL(loom_clip_encode(&m, &loom_ops_cpu, ids, 1, &out78), "[2, 78, 64]");
        loom_ops no_causal = loom_ops_cpu;
        no_causal.attention_causal = NULL;
        T_EXPECT_FAIL(loom_clip_encode(&m, &no_causal, ids, 1, &out), "attention_causal");
        /* emphasis: a zero tensor has no mean to restore */
        memset(out.data, 0, loom_tensor_nbytes(&out));
        float wts[2 * 77];
        for (int i = 0; i < 2 * 77; i++) wts[i] = 1.0f;
        T_EXPECT_FAIL(loom_clip_apply_emphasis(&out, wts), "weighted mean");
        loom_tensor_free(&out);
        loom_clip_free(&m);
    }
    loom_tfile_close(src);
}

int main(void)
{
    golden = t_open_fixture("clip_vae/golden.safetensors");
    if (!golden) return t_finish("test_clip");
    const char *meta = loom_tfile_meta(golden, "fixture");
    json_error_t err;
    json_t *root = meta ? json_loads(meta, 0, &err) : NULL;
    heads_meta = (int)json_integer_value(json_object_get(root, "clip_heads"));
    json_decref(root);
    T_CHECK(heads_meta > 1, "golden.safetensors: no clip_heads in the fixture metadata");

    test_single_file();
    test_single_file_without_text_model();
    test_diffusers();
    test_broken();
    loom_tfile_close(golden);
    return t_finish("test_clip");
}
