/* test_vae.c — the VAE against diffusers (float64) on a tiny AutoencoderKL
 * (scripts/gen_fixtures_golden_clip_vae.py → tests/fixtures/clip_vae):
 *   - decode of a non-square batch-2 latent, encode (mean, and mean + std·noise)
 *     of an image, and the mean of an odd-sized image (LDM's bottom/right
 *     padding), each within rel L2 1e-4;
 *   - through every loading path: the single file (first_stage_model.), a
 *     separate VAE file in LDM names without the prefix, the diffusers vae/
 *     folder (config.json + weights), the same file with the attention names
 *     of diffusers < 0.14, and a decoder-only file;
 *   - the configuration read from shapes and from config.json;
 *   - broken files and bad arguments give one-line errors naming file and key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusers_keys_clip_vae.h"
#include "st_build.h"
#include "tensor_alloc.h"
#include "testlib.h"
#include "vae.h"

#define TOL 1e-4
#define CKPT "clip_vae/sd1_clip_vae_tiny.safetensors"
#define DIFF "clip_vae/diffusers/vae/diffusion_pytorch_model.safetensors"

static loom_tfile *golden;
static int groups_meta;

/* A golden tensor as a host f32 tensor of its stored shape (NULL data on failure). */
static loom_tensor golden_tensor(const char *name)
{
    loom_tensor t = {0};
    float *d = t_load_f32(golden, name, &t);
    loom_tensor out = loom_tensor_view(d, LOOM_F32, t.ndim, t.shape);
    return out;
}

static void report(const char *what, const char *step, double rel)
{
    printf("%-40s %-14s rel_l2 %.2e  (%.2f%% of tol)\n", what, step, rel, 100 * rel / TOL);
    T_CHECK(rel <= TOL, "%s, %s: rel L2 %.3e > %.0e", what, step, rel, TOL);
}

/* Run decode (or encode of `in`, with `noise` or not) and compare with `want`. */
static void run_vs(const char *what, const loom_vae *m, int decode, const char *in, const char *noise,
                   const char *want)
{
    loom_tensor x = golden_tensor(in), r = golden_tensor(want), nz = {0}, y = {0};
    if (noise) nz = golden_tensor(noise);
    if (x.data && r.data && (!noise || nz.data) && loom_tensor_alloc_like(&r, &y) == LOOM_OK) {
        for (int64_t i = 0; i < loom_tensor_numel(&y); i++) ((float *)y.data)[i] = NAN;
        loom_status s = decode ? loom_vae_decode(m, &loom_ops_cpu, &x, &y)
                               : loom_vae_encode(m, &loom_ops_cpu, &x, noise ? &nz : NULL, &y);
        T_CHECK(s == LOOM_OK, "%s: %s: %s", what, want, loom_last_error());
        if (s == LOOM_OK) {
            const int64_t n = loom_tensor_numel(&y);
            T_CHECK(t_count_nonfinite(y.data, n) == 0, "%s: %s has non-finite (unwritten) values", what, want);
            report(what, want + 4, t_rel_l2(y.data, r.data, n));
        }
    } else {
        T_CHECK(0, "%s: fixture tensors for %s missing", what, want);
    }
    loom_tensor_free(&x);
    loom_tensor_free(&r);
    loom_tensor_free(&nz);
    loom_tensor_free(&y);
}

static void check_model(const char *what, loom_weights *w, const loom_vae_config *cfg)
{
    loom_vae m;
    loom_status s = loom_vae_load(&m, w, LOOM_VAE_PREFIX, cfg);
    T_CHECK(s == LOOM_OK, "%s: load: %s", what, loom_last_error());
    if (s != LOOM_OK) return;
    run_vs(what, &m, 1, "vae/decode_in", NULL, "vae/decode_out");
    if (cfg->parts & LOOM_VAE_ENCODER) {
        run_vs(what, &m, 0, "vae/encode_in", NULL, "vae/encode_mean");
        run_vs(what, &m, 0, "vae/encode_in", "vae/encode_noise", "vae/encode_sample");
        run_vs(what, &m, 0, "vae/encode_odd_in", NULL, "vae/encode_odd_mean");
    }
    loom_vae_free(&m);
}

static loom_status infer(loom_weights *w, loom_vae_config *cfg)
{
    LOOM_TRY(loom_vae_config_infer(w, LOOM_VAE_PREFIX, cfg));
    cfg->groups = groups_meta; /* a single file cannot say; SD's is 32 */
    return LOOM_OK;
}

static void test_single_file(void)
{
    loom_tfile *tf = t_open_fixture(CKPT);
    if (!tf) return;
    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, tf, NULL, NULL));
    loom_vae_config cfg;
    T_OK(loom_vae_config_infer(&w, LOOM_VAE_PREFIX, &cfg));
    T_CHECK(cfg.parts == (LOOM_VAE_DECODER | LOOM_VAE_ENCODER) && cfg.levels == 2 && cfg.ch[0] == 16 &&
                cfg.ch[1] == 32 && cfg.num_res_blocks == 1 && cfg.z_channels == 4 && cfg.embed_dim == 4 &&
                cfg.in_channels == 3 && cfg.out_channels == 3,
            "inferred parts %u levels %d ch %lld,%lld blocks %d z %lld e %lld", cfg.parts, cfg.levels,
            (long long)cfg.ch[0], (long long)cfg.ch[1], cfg.num_res_blocks, (long long)cfg.z_channels,
            (long long)cfg.embed_dim);
    T_CHECK(cfg.groups == 32 && cfg.eps == 1e-6f && cfg.scale_factor == LOOM_VAE_SCALE_SD1, "SD defaults");
    int64_t lh, lw;
    loom_vae_latent_size(&cfg, 23, 21, &lh, &lw);
    T_CHECK(lh == 11 && lw == 10, "latent of 23x21 is %lldx%lld", (long long)lh, (long long)lw);
    loom_vae m;
    /* SD's 32 groups do not divide this tiny model's 16 channels: refused before anything is read */
    T_CHECK(loom_vae_load(&m, &w, LOOM_VAE_PREFIX, &cfg) != LOOM_OK &&
                strstr(loom_last_error(), "not a multiple of 32 norm groups"),
            "32 groups on 16 channels: %s", loom_last_error());
    cfg.groups = groups_meta;
    check_model("single file (first_stage_model.)", &w, &cfg);
    loom_tfile_close(tf);
}

/* keep first_stage_model.* without the prefix (a separate LDM VAE file) */
static const char *strip_vae(void *ctx, const char *name, char *buf, size_t n)
{
    const size_t k = strlen(LOOM_VAE_PREFIX);
    return strncmp(name, LOOM_VAE_PREFIX, k) == 0 ? name + k : NULL;
}

/* diffusers' names before 0.14 for the mid-block attention */
static const char *old_attention(void *ctx, const char *name, char *buf, size_t n)
{
    static const char *const now[] = {".to_q.", ".to_k.", ".to_v.", ".to_out.0."};
    static const char *const old[] = {".query.", ".key.", ".value.", ".proj_attn."};
    for (int i = 0; i < 4; i++) {
        const char *p = strstr(name, now[i]);
        if (p) {
            snprintf(buf, n, "%.*s%s%s", (int)(p - name), name, old[i], p + strlen(now[i]));
            return buf;
        }
    }
    return name;
}

static const char *decoder_only(void *ctx, const char *name, char *buf, size_t n)
{
    return strstr(name, "encoder.") || strncmp(name, "quant_conv.", 11) == 0 ? NULL : name;
}

/* A VAE-only file through loom_vae_add_file, built from `src` by `fn`; config from shapes or config.json. */
static void check_file(const char *what, const loom_tfile *src, st_rename_fn fn, int use_json, const char *layout)
{
    loom_tfile *tf = (loom_tfile *)src;
    uint8_t *img = NULL;
    if (fn) {
        st_build b;
        st_init(&b);
        st_copy(&b, src, fn, NULL);
        tf = st_open(&b, "vae.safetensors", &img);
    }
    if (tf) {
        loom_weights w;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        loom_diffusers_vae_keys keys;
        const char *got = NULL;
        T_OK(loom_vae_add_file(&w, tf, LOOM_VAE_PREFIX, &keys, &got));
        T_CHECK(got && strcmp(got, layout) == 0, "%s: layout %s, expected %s", what, got ? got : "(none)", layout);
        loom_vae_config cfg;
        if (use_json) {
            T_OK(loom_vae_config_from_diffusers(t_fixture("clip_vae/diffusers/vae/config.json"), &cfg));
            T_CHECK(cfg.groups == groups_meta && cfg.levels == 2 && cfg.ch[1] == 32 && cfg.scale_factor == 0.18215f,
                    "config.json: groups %d levels %d", cfg.groups, cfg.levels);
        } else {
            T_OK(infer(&w, &cfg));
        }
        check_model(what, &w, &cfg);
        if (fn) loom_tfile_close(tf);
    }
    free(img);
}

static void test_files(void)
{
    loom_tfile *ckpt = t_open_fixture(CKPT), *diff = t_open_fixture(DIFF);
    if (ckpt) check_file("separate VAE file (LDM, no prefix)", ckpt, strip_vae, 0, "ldm");
    if (diff) {
        check_file("diffusers vae/ folder", diff, NULL, 1, "diffusers");
        check_file("diffusers-named file, shapes only", diff, NULL, 0, "diffusers");
        check_file("diffusers < 0.14 attention names", diff, old_attention, 1, "diffusers");
    }
    if (ckpt) {
        /* decoder only: parts from the keys; encode is refused */
        st_build b;
        st_init(&b);
        st_copy(&b, ckpt, decoder_only, NULL);
        uint8_t *img;
        loom_tfile *tf = st_open(&b, "decoder_only.safetensors", &img);
        if (tf) {
            loom_weights w;
            loom_weights_init(&w, LOOM_BACKEND_CPU);
            T_OK(loom_weights_add(&w, tf, NULL, NULL));
            loom_vae_config cfg;
            T_OK(infer(&w, &cfg));
            T_CHECK(cfg.parts == LOOM_VAE_DECODER, "decoder-only parts %u", cfg.parts);
            check_model("decoder-only file", &w, &cfg);
            loom_vae m;
            if (loom_vae_load(&m, &w, LOOM_VAE_PREFIX, &cfg) == LOOM_OK) {
                loom_tensor x = golden_tensor("vae/encode_in"), r = golden_tensor("vae/encode_mean");
                T_CHECK(loom_vae_encode(&m, &loom_ops_cpu, &x, NULL, &r) != LOOM_OK &&
                            strstr(loom_last_error(), "encoder is not loaded"),
                        "encode without encoder: %s", loom_last_error());
                loom_tensor_free(&x);
                loom_tensor_free(&r);
                loom_vae_free(&m);
            }
            loom_tfile_close(tf);
        }
        free(img);
    }
    loom_tfile_close(ckpt);
    loom_tfile_close(diff);
}

/* ---- broken files and bad arguments ---------------------------------------------- */


/* The checkpoint with `key` removed and, with ndim > 0, re-added as f32 zeros of `shape`. */
static void expect_broken(const loom_tfile *src, const char *key, int ndim, const int64_t *shape, const char *problem)
{
    uint8_t *img;
    loom_tfile *tf = st_open_replaced(src, key, LOOM_F32, ndim, shape, "broken_vae.safetensors", &img);
    if (tf) {
        loom_weights w;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        T_OK(loom_weights_add(&w, tf, NULL, NULL));
        loom_vae_config cfg;
        loom_vae m;
        loom_clear_error();
        loom_status s = infer(&w, &cfg);
        if (s == LOOM_OK) s = loom_vae_load(&m, &w, LOOM_VAE_PREFIX, &cfg);
        T_EXPECT_FAILED(s, key, "broken_vae.safetensors", key, problem);
        loom_tfile_close(tf);
    }
    free(img);
}

static void test_broken(void)
{
    loom_tfile *src = t_open_fixture(CKPT);
    if (!src) return;
    expect_broken(src, "first_stage_model.decoder.up.1.block.1.conv2.bias", 0, NULL, "missing tensor");
    expect_broken(src, "first_stage_model.encoder.down.0.downsample.conv.weight", 0, NULL, "missing tensor");
    const int64_t q3[4] = {32, 32, 3, 3};
    expect_broken(src, "first_stage_model.decoder.mid.attn_1.q.weight", 4, q3, "is [32, 32, 3, 3], expected [32, 32, 1, 1]");
    const int64_t pq[3] = {4, 4, 1};
    expect_broken(src, "first_stage_model.post_quant_conv.weight", 3, pq, "has 3 dims");
    const int64_t sc[4] = {32, 32, 1, 1};
    expect_broken(src, "first_stage_model.decoder.up.1.block.0.nin_shortcut.weight", 4, sc, "exists but the block keeps 32 channels");
    const int64_t qc[4] = {8, 6, 1, 1};
    expect_broken(src, "first_stage_model.quant_conv.weight", 4, qc, "the decoder's latent has 4 channels");

    /* not a VAE */
    loom_tfile *te = t_open_fixture("clip_vae/diffusers/text_encoder/model.safetensors");
    if (te) {
        loom_weights w;
        loom_weights_init(&w, LOOM_BACKEND_CPU);
        loom_diffusers_vae_keys keys;
        T_EXPECT_FAIL(loom_vae_add_file(&w, te, LOOM_VAE_PREFIX, &keys, NULL), "model.safetensors: not a VAE");
        loom_vae_config cfg;
        T_EXPECT_FAIL(loom_vae_config_from_diffusers(t_fixture("clip_vae/diffusers/text_encoder/config.json"), &cfg),
                    "config.json", "block_out_channels");
        loom_tfile_close(te);
    }

    /* bad arguments */
    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, src, NULL, NULL));
    loom_vae_config cfg;
    loom_vae m;
    if (infer(&w, &cfg) == LOOM_OK && loom_vae_load(&m, &w, LOOM_VAE_PREFIX, &cfg) == LOOM_OK) {
        loom_tensor z = golden_tensor("vae/decode_in"), img = golden_tensor("vae/decode_out");
        const int64_t zbad[4] = {2, 6, 5, 3}, ibad[4] = {2, 12, 11, 3}, ismall[4] = {1, 1, 5, 3}, l1[4] = {1, 1, 3, 4};
        loom_tensor z3 = loom_tensor_view(z.data, LOOM_F32, 4, zbad), i11 = loom_tensor_view(img.data, LOOM_F32, 4, ibad);
        T_EXPECT_FAIL(loom_vae_decode(&m, &loom_ops_cpu, &z3, &img), "vae: latent is [2, 6, 5, 3]");
        T_EXPECT_FAIL(loom_vae_decode(&m, &loom_ops_cpu, &z, &i11), "vae: image is [2, 12, 11, 3]", "[2, 12, 10, 3]");
        loom_tensor tiny = loom_tensor_view(img.data, LOOM_F32, 4, ismall), lat = loom_tensor_view(z.data, LOOM_F32, 4, l1);
        T_EXPECT_FAIL(loom_vae_encode(&m, &loom_ops_cpu, &tiny, NULL, &lat), "1x5 image is too small");
        loom_ops no_up = loom_ops_cpu;
        no_up.upsample2x = NULL;
        T_EXPECT_FAIL(loom_vae_decode(&m, &no_up, &z, &img), "upsample2x");
        T_EXPECT_FAIL(loom_vae_scale_latent(&z, 0.0f), "scale factor 0");
        loom_tensor_free(&z);
        loom_tensor_free(&img);
        loom_vae_free(&m);
    }
    loom_tfile_close(src);
}

int main(void)
{
    golden = t_open_fixture("clip_vae/golden.safetensors");
    if (!golden) return t_finish("test_vae");
    const char *meta = loom_tfile_meta(golden, "fixture");
    json_error_t err;
    json_t *root = meta ? json_loads(meta, 0, &err) : NULL;
    groups_meta = (int)json_integer_value(json_object_get(root, "vae_groups"));
    json_decref(root);
    T_CHECK(groups_meta > 0 && groups_meta != 32, "golden.safetensors: no vae_groups in the fixture metadata");

    test_single_file();
    test_files();
    test_broken();
    loom_tfile_close(golden);
    return t_finish("test_vae");
}
