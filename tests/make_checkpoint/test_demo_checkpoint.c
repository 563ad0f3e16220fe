/* test_demo_checkpoint.c — `loom make-checkpoint --preset demo` end to end:
 * the file is an SD1.x checkpoint to `loom inspect`, carries its metadata, is
 * the same for the same seed, loads through the UNet / CLIP / VAE loaders
 * with no hints (shapes alone), and each model runs to finite output. A
 * write into a missing folder fails with one line and leaves nothing. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip.h"
#include "tensor_alloc.h"
#include "testlib.h"
#include "unet.h"
#include "vae.h"

#define DEMO LOOM_TEST_OUT "/mk_demo.safetensors"
#define DEMO2 LOOM_TEST_OUT "/mk_demo_again.safetensors"

static char out[65536];

static void test_cli(void)
{
    int rc = t_run(LOOM_BIN " make-checkpoint --preset demo --seed 7 " DEMO, out, sizeof out);
    T_CHECK(rc == 0, "make-checkpoint exited %d: %s", rc, out);
    rc = t_run(LOOM_BIN " make-checkpoint --preset demo --seed 7 " DEMO2, out, sizeof out);
    T_CHECK(rc == 0, "make-checkpoint exited %d: %s", rc, out);
    rc = t_run("cmp -s " DEMO " " DEMO2, out, sizeof out);
    T_CHECK(rc == 0, "the same seed gave different files");
    rc = t_run(LOOM_BIN " make-checkpoint --preset demo --seed 8 " DEMO2, out, sizeof out);
    rc = t_run("cmp -s " DEMO " " DEMO2, out, sizeof out);
    T_CHECK(rc == 1, "seeds 7 and 8 gave the same file");
    unlink(DEMO2);

    rc = t_run(LOOM_BIN " inspect --json " DEMO, out, sizeof out);
    T_CHECK(rc == 0, "inspect exited %d: %s", rc, out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    T_CHECK(j != NULL, "inspect --json gave no JSON: %s", out);
    if (j) {
        const char *kind = json_string_value(json_object_get(j, "kind"));
        const char *fam = json_string_value(json_object_get(j, "family"));
        T_CHECK(kind && !strcmp(kind, "checkpoint"), "kind %s", kind ? kind : "(none)");
        T_CHECK(fam && !strcmp(fam, "sd1"), "family %s", fam ? fam : "(none)");
        json_t *parts = json_object_get(j, "parts"), *want = json_pack("[s,s,s]", "unet", "text_encoder", "vae");
        /* compare as sets: unet, text_encoder, vae and nothing else */
        int n = (int)json_array_size(parts), hits = 0;
        for (int i = 0; i < n; i++) {
            const char *p = json_string_value(json_array_get(parts, (size_t)i));
            for (size_t k = 0; p && k < 3; k++) hits += !strcmp(p, json_string_value(json_array_get(want, k)));
        }
        T_CHECK(n == 3 && hits == 3, "parts %s", json_dumps(parts, 0));
        json_decref(want);
        json_decref(j);
    }

    /* a missing folder: one line naming the path, exit 1, no file */
    rc = t_run(LOOM_BIN " make-checkpoint --preset demo " LOOM_TEST_OUT "/mk-no-such-dir/x.safetensors", out,
               sizeof out);
    char *nl = strchr(out, '\n');
    T_CHECK(rc == 1 && strstr(out, "mk-no-such-dir/x.safetensors: cannot write") && nl && !nl[1],
            "missing folder: exit %d: %s", rc, out);
    T_CHECK(access(LOOM_TEST_OUT "/mk-no-such-dir", F_OK) != 0, "the missing folder appeared");
    rc = t_run(LOOM_BIN " make-checkpoint --preset sd3 " LOOM_TEST_OUT "/mk_x.safetensors", out, sizeof out);
    T_CHECK(rc == 2 && strstr(out, "unknown checkpoint preset 'sd3'"), "bad preset: exit %d: %s", rc, out);
    T_CHECK(access(LOOM_TEST_OUT "/mk_x.safetensors", F_OK) != 0, "a refused run wrote a file");
    rc = t_run(LOOM_BIN " make-checkpoint --preset demo --seed -1 " LOOM_TEST_OUT "/mk_x.safetensors", out,
               sizeof out);
    T_CHECK(rc == 2 && strstr(out, "--seed"), "negative seed: exit %d: %s", rc, out);
}

static int all_finite(const loom_tensor *t)
{
    const float *p = t->data;
    return t_count_nonfinite(p, loom_tensor_numel(t)) == 0;
}

static void test_models(void)
{
    loom_tfile *tf = NULL;
    T_OK(loom_tfile_open(DEMO, &tf));
    if (!tf) return;
    const char *note = loom_tfile_meta(tf, "loom.note"), *preset = loom_tfile_meta(tf, "loom.preset");
    T_CHECK(note && strstr(note, "random weights"), "loom.note %s", note ? note : "(none)");
    T_CHECK(preset && !strcmp(preset, "demo"), "loom.preset %s", preset ? preset : "(none)");
    const char *seed = loom_tfile_meta(tf, "loom.seed");
    T_CHECK(seed && !strcmp(seed, "7"), "loom.seed %s", seed ? seed : "(none)");
    const loom_tf_entry *pid = loom_tfile_find(tf, LOOM_CLIP_PREFIX_SD1 "text_model.embeddings.position_ids");
    T_CHECK(pid && pid->dtype == LOOM_I64 && pid->ndim == 2 && pid->shape[1] == 77, "position_ids");

    loom_weights w;
    loom_weights_init(&w, LOOM_BACKEND_CPU);
    T_OK(loom_weights_add(&w, tf, NULL, NULL));
    const loom_ops *ops = loom_backend_ops(LOOM_BACKEND_CPU);

    loom_unet_config uc;
    loom_unet u;
    memset(&u, 0, sizeof u);
    T_OK(loom_unet_config_infer(&w, &uc));
    loom_status s = loom_unet_load(&u, &w, &uc);
    T_CHECK(s == LOOM_OK, "unet load: %s", loom_last_error());
    loom_clip_config cc;
    loom_clip c;
    memset(&c, 0, sizeof c);
    T_OK(loom_clip_config_infer(&w, LOOM_CLIP_PREFIX_SD1, &cc));
    loom_status sc = loom_clip_load(&c, &w, LOOM_CLIP_PREFIX_SD1, &cc);
    T_CHECK(sc == LOOM_OK, "clip load: %s", loom_last_error());
    T_CHECK(cc.vocab == 49408 && cc.max_pos == 77, "clip vocab %lld, positions %lld", (long long)cc.vocab,
            (long long)cc.max_pos);
    loom_vae_config vc;
    loom_vae v;
    memset(&v, 0, sizeof v);
    T_OK(loom_vae_config_infer(&w, LOOM_VAE_PREFIX, &vc));
    loom_status sv = loom_vae_load(&v, &w, LOOM_VAE_PREFIX, &vc);
    T_CHECK(sv == LOOM_OK, "vae load: %s", loom_last_error());
    T_CHECK(uc.context_dim == cc.width, "UNet context %d, CLIP width %lld", uc.context_dim, (long long)cc.width);

    loom_tensor ctx = {0}, x = {0}, t = {0}, eps = {0}, img = {0};
    if (sc == LOOM_OK) { /* BOS "a" "photo" EOS, padded with EOS as SD1 does */
        int32_t ids[77];
        for (int i = 0; i < 77; i++) ids[i] = 49407;
        ids[0] = 49406, ids[1] = 320, ids[2] = 1125;
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, (int64_t[]){1, 77, cc.width}, &ctx));
        T_OK(loom_clip_encode(&c, ops, ids, 1, &ctx));
        T_CHECK(all_finite(&ctx), "CLIP output is not finite");
    }
    if (s == LOOM_OK && ctx.data) { /* an 8×8 latent of N(0,1)-sized values */
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, (int64_t[]){1, 8, 8, 4}, &x));
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 1, (int64_t[]){1}, &t));
        T_OK(loom_tensor_alloc_like(&x, &eps));
        float *xp = x.data;
        for (int i = 0; i < 256; i++) xp[i] = (float)((i * 37 % 101) - 50) / 29.0f;
        ((float *)t.data)[0] = 500.0f;
        T_OK(loom_unet_forward(&u, ops, &x, &t, &ctx, &eps));
        T_CHECK(all_finite(&eps), "UNet output is not finite");
        double sq = 0;
        for (int i = 0; i < 256; i++) sq += (double)((float *)eps.data)[i] * ((float *)eps.data)[i];
        T_CHECK(sq / 256 > 1e-4 && sq / 256 < 100, "UNet output mean square %g is not O(1)", sq / 256);
    }
    if (sv == LOOM_OK && x.data) {
        T_OK(loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, (int64_t[]){1, 64, 64, 3}, &img));
        T_OK(loom_vae_decode(&v, ops, &x, &img));
        T_CHECK(all_finite(&img), "VAE output is not finite");
    }
    loom_tensor_free(&ctx), loom_tensor_free(&x), loom_tensor_free(&t), loom_tensor_free(&eps);
    loom_tensor_free(&img);
    if (s == LOOM_OK) loom_unet_free(&u);
    if (sc == LOOM_OK) loom_clip_free(&c);
    if (sv == LOOM_OK) loom_vae_free(&v);
    loom_tfile_close(tf);
}

int main(void)
{
    test_cli();
    test_models();
    unlink(DEMO);
    return t_finish("test_demo_checkpoint");
}
