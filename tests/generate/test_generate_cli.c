/* test_generate_cli.c — `loom generate` as a user runs it.
 *
 * Bad input (missing or corrupt model, wrong-kind file, zero/odd sizes,
 * unknown sampler, negative steps, bad -o patterns): exit code non-zero, one
 * line on stderr naming the problem, and no output file left behind.
 * Good input: a random-weights demo checkpoint and a full-size SD1.5-layout
 * checkpoint (both written by `loom make-checkpoint`, real key names, fp16)
 * render through the CLI; the PNG carries A1111's parameters text; the same
 * seed gives the same bytes. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "testlib.h"

#ifndef LOOM_BIN
#define LOOM_BIN "loom"
#endif

static char out[1 << 16];
static const char *dir;

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return s[0] && (!nl || nl[1] == 0);
}

/* Runs `loom generate <args> -o <dir>/bad.png`; expects failure. */
static void expect_fail(const char *args, const char *want)
{
    char png[1024], cmd[8192];
    snprintf(png, sizeof png, "%s/bad.png", dir);
    unlink(png);
    snprintf(cmd, sizeof cmd, "'%s' generate %s -o '%s'", LOOM_BIN, args, png);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 1 || rc == 2, "[%s] exit %d, want 1 or 2: %s", args, rc, out);
    T_CHECK(one_line(out), "[%s] not one line: %s", args, out);
    T_CHECK(strstr(out, want) != NULL, "[%s] message lacks '%s': %s", args, want, out);
    T_CHECK(!exists(png), "[%s] left %s behind", args, png);
    printf("ok  %-60.60s -> %s", args, out);
}

static void bad_inputs(void)
{
    char a[1024];
    expect_fail("-p cat -m /nonexistent/model.safetensors", "/nonexistent/model.safetensors");
    snprintf(a, sizeof a, "-p cat -m '%s'", t_fixture("../bad_inputs/st_truncated_data.safetensors"));
    expect_fail(a, "st_truncated_data.safetensors");
    snprintf(a, sizeof a, "-p cat -m '%s'", t_fixture("inspect/lora_kohya_sd15.safetensors"));
    expect_fail(a, "not a model checkpoint");
    snprintf(a, sizeof a, "-p cat -m '%s'", t_fixture("inspect/sdxl_tiny_fp16.safetensors"));
    expect_fail(a, "SDXL");
    expect_fail("-p cat -W 0", "--width");
    expect_fail("-p cat -H 100", "multiples of 64");
    expect_fail("-p cat --steps -3", "--steps");
    expect_fail("-p cat --steps 0", "--steps");
    expect_fail("-p cat --sampling-method euler_z", "euler_z");
    expect_fail("-p cat --scheduler warp", "warp");
    expect_fail("-p cat --rng gpu2", "--rng");
    expect_fail("-p cat --cfg-scale abc", "--cfg-scale");
    expect_fail("-p cat --bogus 1", "--bogus");
    expect_fail("-p cat --dtype f8", "--dtype");
    expect_fail("-p cat --dtype bf16 -m /nonexistent.safetensors", "--dtype bf16 needs --backend cuda");
    expect_fail("-m x", "no prompt");
    expect_fail("-p '<lora:missing:0.8> cat' -m /nonexistent.safetensors", "lora");
    expect_fail("-p 'a cat AND a dog' -m /nonexistent.safetensors", "AND (composable diffusion)");
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

static int mem_has(const unsigned char *b, size_t n, const char *s)
{
    size_t m = strlen(s);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(b + i, s, m)) return 1;
    return 0;
}

static int run_ok(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", LOOM_BIN, args);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "[%s] exit %d: %s", args, rc, out);
    return rc == 0;
}

/* Reads the latent dump: returns malloc'd floats and their count. */
static float *load_latent(const char *path, int64_t *n, loom_tensor *shape)
{
    loom_tfile *tf = NULL;
    *n = 0;
    if (loom_tfile_open(path, &tf) != LOOM_OK) {
        T_CHECK(0, "cannot read %s: %s", path, loom_last_error());
        return NULL;
    }
    float *v = t_load_f32(tf, "latent", shape);
    if (v) *n = loom_tensor_numel(shape);
    loom_tfile_close(tf);
    return v;
}

static void demo_renders(void)
{
    char ck[1024], a[8192], p0[1024], p1[1024], l0[1024], l1[1024], lb[1024];
    snprintf(ck, sizeof ck, "%s/demo.safetensors", dir);
    snprintf(a, sizeof a, "make-checkpoint --preset demo --seed 1 '%s'", ck);
    if (!run_ok(a)) return;

    /* a render: PNG with A1111 parameters text, and the latent dump */
    snprintf(p0, sizeof p0, "%s/demo_a.png", dir);
    snprintf(l0, sizeof l0, "%s/demo_a.safetensors", dir);
    snprintf(a, sizeof a, "generate -m '%s' -p 'a (red:1.2) cube, [sky|sea]' -n 'blurry' -W 64 -H 64 --steps 3 "
             "-s 11 --sampling-method 'DPM++ 2M Karras' -o '%s' --dump-latent '%s'", ck, p0, l0);
    if (!run_ok(a)) return;
    size_t n0 = 0;
    unsigned char *b0 = slurp(p0, &n0);
    T_CHECK(b0 && n0 > 8 && !memcmp(b0, "\x89PNG", 4), "a PNG was written");
    T_CHECK(b0 && mem_has(b0, n0, "tEXtparameters"), "PNG has the parameters chunk");
    /* Model hash: first 10 hex of the file's SHA-256 (A1111 "AutoV2"; sha256.c is checked against hashlib) */
    uint8_t dg[LOOM_SHA256_BYTES];
    char hx[65], want[512];
    T_OK(loom_sha256_file(ck, 0, LOOM_SHA256_TO_EOF, dg));
    loom_sha256_hex(dg, 5, hx);
    snprintf(want, sizeof want, "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 11, "
             "Size: 64x64, Model hash: %s, Model: demo", hx);
    T_CHECK(b0 && mem_has(b0, n0, want), "parameters text as A1111 writes it: %s", want);
    T_CHECK(b0 && mem_has(b0, n0, "Negative prompt: blurry"), "negative prompt in the text");

    /* same seed, same bytes */
    snprintf(p1, sizeof p1, "%s/demo_b.png", dir);
    snprintf(a, sizeof a, "generate -m '%s' -p 'a (red:1.2) cube, [sky|sea]' -n 'blurry' -W 64 -H 64 --steps 3 "
             "-s 11 --sampling-method 'DPM++ 2M Karras' -o '%s'", ck, p1);
    if (run_ok(a)) {
        size_t n1 = 0;
        unsigned char *b1 = slurp(p1, &n1);
        T_CHECK(b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0), "same seed gives the same PNG bytes");
        free(b1);
    }
    free(b0);

    /* a batch of 2 (seeds 20, 21) equals two single renders, for an ancestral sampler */
    snprintf(lb, sizeof lb, "%s/demo_batch.safetensors", dir);
    snprintf(a, sizeof a, "generate -m '%s' -p 'cube' -W 64 -H 64 --steps 3 -s 20 --batch-size 2 "
             "--sampling-method euler_a -o '%s/demo_batch_%%d.png' --dump-latent '%s'", ck, dir, lb);
    run_ok(a);
    int64_t nb = 0, n1 = 0;
    loom_tensor sb, s1;
    float *vb = load_latent(lb, &nb, &sb);
    T_CHECK(vb && sb.ndim == 4 && sb.shape[0] == 2 && sb.shape[1] == 4 && sb.shape[2] == 8 && sb.shape[3] == 8,
            "latent dump is [2, 4, 8, 8]");
    for (int i = 0; i < 2 && vb; i++) {
        snprintf(l1, sizeof l1, "%s/demo_single%d.safetensors", dir, i);
        snprintf(a, sizeof a, "generate -m '%s' -p 'cube' -W 64 -H 64 --steps 3 -s %d --sampling-method euler_a "
                 "-o '%s/demo_single.png' --dump-latent '%s'", ck, 20 + i, dir, l1);
        if (!run_ok(a)) continue;
        float *v1 = load_latent(l1, &n1, &s1);
        if (v1 && n1 * 2 == nb) {
            double e = t_rel_l2(vb + i * n1, v1, n1);
            /* the CPU ops are batch-invariant (one GEMM per sample), so this is exact in practice */
            T_CHECK(e <= 1e-6, "batch image %d equals its single render (rel L2 %.3g)", i, e);
        }
        free(v1);
    }
    snprintf(a, sizeof a, "%s/demo_batch_1.png", dir);
    T_CHECK(exists(a), "%%d pattern numbers the batch's images");
    free(vb);

    /* img2img from the 64×64 render: its size, the strength in the parameters text */
    snprintf(p1, sizeof p1, "%s/demo_i2i.png", dir);
    snprintf(a, sizeof a, "generate -m '%s' -p 'cube' -i '%s' --strength 0.5 --steps 4 -o '%s'", ck, p0, p1);
    if (run_ok(a)) {
        size_t ni = 0;
        unsigned char *bi = slurp(p1, &ni);
        T_CHECK(bi && mem_has(bi, ni, "Size: 64x64") && mem_has(bi, ni, "Denoising strength: 0.5"),
                "img2img parameters text");
        free(bi);
    }
    snprintf(a, sizeof a, "-m '%s' -p cube -i '%s' -W 128 -H 128", ck, p0);
    expect_fail(a, "the init image is 64x64");
    snprintf(a, sizeof a, "-m '%s' -p cube -i '%s'", ck, t_fixture("../bad_inputs/misc_text.ckpt"));
    expect_fail(a, "cannot read the init image");
}

/* The acceptance case: a full-size SD1.5-architecture checkpoint (real key
 * names, fp16 safetensors, random weights) renders 64×64 through the CLI. */
static void sd15_render(void)
{
    char ck[1024], a[8192], png[1024];
    snprintf(ck, sizeof ck, "%s/sd15_random.safetensors", dir);
    snprintf(a, sizeof a, "make-checkpoint --preset sd15 --seed 3 '%s'", ck);
    if (!run_ok(a)) return;
    snprintf(png, sizeof png, "%s/sd15.png", dir);
    snprintf(a, sizeof a, "generate -m '%s' -p 'a photo of a cat' -W 64 -H 64 --steps 2 -s 5 -o '%s'", ck, png);
    run_ok(a);
    T_CHECK(exists(png), "the full-size checkpoint rendered %s", png);
    unlink(ck); /* 2 GB: regenerated in seconds next time */
}

/* A diffusers folder assembled from fixture parts (symlinks): the loader must
 * find every component, and say clearly when they do not fit together. */
static void diffusers_folder(void)
{
    char root[1024], sub[1100], a[4096];
    snprintf(root, sizeof root, "%s/dfolder", dir);
    mkdir(root, 0755);
    static const char *const parts[] = {"unet", "text_encoder", "vae"};
    for (int i = 0; i < 3; i++) { /* links left by an earlier run */
        snprintf(sub, sizeof sub, "%s/%s", root, parts[i]);
        unlink(sub);
    }
    snprintf(a, sizeof a, "-p cube -m '%s'", root);
    expect_fail(a, "no unet/diffusion_pytorch_model.safetensors");
    snprintf(sub, sizeof sub, "%s/unet", root);
    unlink(sub);
    T_CHECK(symlink(t_fixture("unet/sd1_diffusers/unet"), sub) == 0, "symlink unet");
    expect_fail(a, "no text_encoder/model.safetensors");
    snprintf(sub, sizeof sub, "%s/text_encoder", root);
    unlink(sub);
    T_CHECK(symlink(t_fixture("clip_vae/diffusers/text_encoder"), sub) == 0, "symlink text_encoder");
    expect_fail(a, "no vae/diffusion_pytorch_model.safetensors");
    snprintf(sub, sizeof sub, "%s/vae", root);
    unlink(sub);
    T_CHECK(symlink(t_fixture("clip_vae/diffusers/vae"), sub) == 0, "symlink vae");
    /* every part loads from its diffusers files; the tiny UNet (context 32)
     * and text encoder (width 64) come from different models */
    expect_fail(a, "expects a 32-wide context but the text encoder gives 64");
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "/tmp";
    setenv("XDG_CACHE_HOME", dir, 1); /* the model-hash cache stays in the build folder */
    bad_inputs();
    diffusers_folder();
    demo_renders();
    if (!getenv("LOOM_TEST_SKIP_SD15")) sd15_render();
    return t_finish("test_generate_cli");
}
