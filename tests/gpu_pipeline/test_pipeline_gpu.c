/* test_pipeline_gpu.c — issue 5's pipeline acceptance: the real CLI on the
 * demo checkpoint with --backend cuda gives a final latent within 1e-2
 * relative L2 of the CPU backend's for the same seed (fp16 storage on the
 * GPU, f32 on the CPU), without adapters and with a stack of live adapters
 * of every structural kind (LoCon, LoHa, LoKr, DoRA, IA³, full) from the
 * issue-4 fixture (made by LyCORIS/peft for this demo model), with loom's
 * kernels and with the vendor ones (--kernels vendor); and a batch of two
 * images (a UNet batch of four rows with CFG) through the adapted ops.
 * (Per-image adapter sets in one batch: tests/ops/test_adapter_ops_gpu.c.)
 * Without a usable GPU it reports skipped (exit 77).
 *
 *   test_pipeline_gpu OUTDIR */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "tensor_file.h"
#include "testlib.h"

#define TOL 1e-2
static const char *outdir;
static char cmd[16384], out[16384];

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

/* Runs loom generate with `args` on `backend` ("cpu", "cuda", "cuda --kernels vendor"), returns the latent. */
static float *render(const char *tag, const char *backend, const char *args, int64_t *n)
{
    char dump[4096], png[4096];
    snprintf(dump, sizeof dump, "%s/gpu_%s.safetensors", outdir, tag);
    snprintf(png, sizeof png, "%s/gpu_%s.png", outdir, tag);
    snprintf(cmd, sizeof cmd,
             LOOM_BIN " generate -m '%s/gpu_demo.safetensors' -W 128 -H 128 --steps 6 --cfg-scale 7 -s 42 "
                      "--sampling-method euler_a --lora-model-dir '%s' --backend %s %s --dump-latent '%s' -o '%s'",
             outdir, t_fixture("adapters_live"), backend, args, dump, png);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "%s (%s): loom generate exited %d: %s", tag, backend, rc, out);
    return rc ? NULL : read_latent(dump, n);
}

/* The CLI on the CPU, then on the GPU with loom's kernels and the vendor ones (`dtype`: the
 * storage type flag), final latents against the CPU's. tol: TOL for f16; bf16 keeps 8 mantissa
 * bits to f16's 11, so its rounding unit, and the error budget, is 8x. */
static void compare_dtype(const char *name, const char *args, const char *dtype, double tol)
{
    int64_t nc = 0, ng = 0, nv = 0;
    char tag[160], own[64], ven[96];
    snprintf(own, sizeof own, "cuda --dtype %s", dtype);
    snprintf(ven, sizeof ven, "cuda --kernels vendor --dtype %s", dtype);
    snprintf(tag, sizeof tag, "%s_cpu", name);
    float *c = render(tag, "cpu", args, &nc);
    snprintf(tag, sizeof tag, "%s_cuda", name);
    float *g = render(tag, own, args, &ng);
    snprintf(tag, sizeof tag, "%s_vendor", name);
    float *v = render(tag, ven, args, &nv);
    if (c && g) {
        T_CHECK(nc == ng, "%s: latent sizes differ (%lld vs %lld)", name, (long long)nc, (long long)ng);
        const double e = nc == ng ? t_rel_l2(g, c, nc) : 1.0;
        printf("%-22s own kernels (%s) vs cpu: rel L2 %.3e (tol %.0e)\n", name, dtype, e, tol);
        T_CHECK(e <= tol, "%s: GPU latent (%s) differs from the CPU's by %.3e > %.0e", name, dtype, e, tol);
    }
    if (c && v) {
        const double e = nc == nv ? t_rel_l2(v, c, nc) : 1.0;
        printf("%-22s vendor kernels (%s) vs cpu: rel L2 %.3e (tol %.0e)\n", name, dtype, e, tol);
        T_CHECK(e <= tol, "%s (--kernels vendor, %s): GPU latent differs from the CPU's by %.3e > %.0e", name, dtype,
                e, tol);
    }
    free(c), free(g), free(v);
}

static void compare(const char *name, const char *args) { compare_dtype(name, args, "f16", TOL); }

int main(int argc, char **argv)
{
    char desc[256];
    if (loom_cuda_probe(0, desc, sizeof desc) != LOOM_OK) {
        char why[600];
        snprintf(why, sizeof why, "no usable GPU: %s", loom_last_error());
        t_skip(why);
    }
    printf("GPU: %s\n", desc);
    outdir = argc > 1 ? argv[1] : ".";
    snprintf(cmd, sizeof cmd, LOOM_BIN " make-checkpoint --preset demo --seed 1 '%s/gpu_demo.safetensors'", outdir);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 0, "make-checkpoint exited %d: %s", rc, out);
    if (rc) return t_finish("test_pipeline_gpu");

    compare("plain", "-p 'a photo of a cat on a wooden table' -n 'blurry'");
    compare("adapters",
            "-p 'a photo of a cat <lora:locon:0.8> <lora:loha:0.6> <lora:lokr:0.7> <lora:dora:0.8> <lora:ia3:1> "
            "<lora:full:0.5>' -n 'blurry' --strict-adapters");
    /* a UNet batch of 4 rows (2 images × CFG) through the adapted ops */
    compare("batch2", "-p 'a cat <lora:locon_tucker:1> <lora:lora_kohya:-1> <lora:loha_tucker:0.5>' -n 'blurry' "
                      "--batch-size 2");
    /* bf16 storage (--dtype bf16), with and without live adapters */
    compare_dtype("plain_bf16", "-p 'a photo of a cat on a wooden table' -n 'blurry'", "bf16", 8 * TOL);
    compare_dtype("adapters_bf16",
                  "-p 'a photo of a cat <lora:locon:0.8> <lora:loha:0.6> <lora:lokr:0.7> <lora:dora:0.8> "
                  "<lora:ia3:1> <lora:full:0.5>' -n 'blurry' --strict-adapters",
                  "bf16", 8 * TOL);
    return t_finish("test_pipeline_gpu");
}
