/* generate.c — `loom generate`: stable-diffusion.cpp's flags (style.md,
 * "Command-line conventions"), checked before anything is loaded so a typo
 * costs no model load. Every error is one line and exit 2 (usage) or 1 (run). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "pipeline.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: loom generate -p PROMPT [options]\n"
            "  -m, --model FILE|DIR       checkpoint (.safetensors/.ckpt) or diffusers folder (default: demo model)\n"
            "  -p, --prompt TEXT          A1111 prompt syntax: (x:1.2) [x] [a:b:0.5] [a|b] BREAK\n"
            "  -n, --negative-prompt TEXT\n"
            "  -o, --output PATH          default output.png; %%d / %%03d number several images\n"
            "  -W, --width N  -H, --height N   pixels, multiples of 64 (default 512)\n"
            "      --steps N              default 20\n"
            "      --cfg-scale X          default 7.0\n"
            "  -s, --seed N               default 42; < 0 picks a random seed\n"
            "      --sampling-method NAME euler, euler_a, heun, dpm2, dpm++2s_a, dpm++2m, dpm++2m_sde, lms, ddim,\n"
            "                             lcm (A1111 and ComfyUI spellings too; default euler_a)\n"
            "      --scheduler NAME       normal, karras, exponential, sgm_uniform, simple, ddim_uniform\n"
            "      --clip-skip N          default: the model's (1 for SD1.x)\n"
            "      --rng cuda|cpu         cuda: A1111's default (torch CUDA Philox); cpu: torch CPU (ComfyUI)\n"
            "      --comfy-noise          one noise draw for the whole batch, as ComfyUI\n"
            "  -b, --batch-count N        images one after another, seed + i (default 1)\n"
            "      --batch-size N         images per UNet batch (default 1)\n"
            "      --vae FILE             separate VAE\n"
            "  -i, --init-img FILE        img2img source (PNG/JPEG; its size unless -W/-H are given)\n"
            "      --strength X           img2img denoising strength (default 0.75)\n"
            "      --backend cpu|cuda     where the models run (default cpu)\n"
            "      --kernels own|vendor   CUDA: loom's kernels (default) or cuBLAS/cuDNN baselines where they exist\n"
            "      --dtype f16|bf16       CUDA: weights and activations in fp16 (default) or bf16 (fp32 accumulation)\n"
            "      --dump-latent FILE     write the final latent(s) as .safetensors\n"
            "      --lora-model-dir DIR   where <lora:NAME:w> / <lyco:…> prompt tags and --lora names are found\n"
            "                             (file name without extension, or its ss_output_name alias)\n"
            "      --lora NAME[:w]        apply an adapter live (also NAME:te:unet); repeatable, before the tags\n"
            "      --strict-adapters      adapter modules that match nothing in the model are an error\n"
            "      --skip-broken-adapters a missing or broken adapter is a warning and left out\n"
            "  -t, --threads N            CPU threads (default: all)\n"
            "  -v, --verbose\n");
}

static int bad(const char *flag, const char *what, const char *got)
{
    fprintf(stderr, "loom generate: %s: %s, got '%s'\n", flag, what, got);
    return 2;
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof what, "expected an integer from %ld to %ld", lo, hi);
        return bad(flag, what, s);
    }
    *out = (int)v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        char what[96];
        snprintf(what, sizeof what, "expected a number from %g to %g", lo, hi);
        return bad(flag, what, s);
    }
    *out = v;
    return 0;
}

/* Parses argv into req; returns 0, or the exit code (2) after printing one line. */
int loom_generate_parse(int argc, char **argv, loom_gen_request *req, int *help)
{
    memset(req, 0, sizeof *req);
    req->width = req->height = 512;
    req->steps = 20;
    req->cfg_scale = 7.0;
    req->seed = 42;
    req->sampler = "euler_a";
    req->rng = "cuda";
    req->batch_count = req->batch_size = 1;
    req->strength = 0.75;
    req->backend = LOOM_BACKEND_CPU;
    req->output = "output.png";
    req->negative_prompt = "";
    req->progress = 1;
    *help = 0;
    int size_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            loom_log_set_level(LOOM_LOG_DEBUG);
            continue;
        }
        if (!strcmp(a, "--comfy-noise")) {
            req->comfy_noise = 1;
            continue;
        }
        if (!strcmp(a, "--strict-adapters")) {
            req->strict_adapters = 1;
            continue;
        }
        if (!strcmp(a, "--skip-broken-adapters")) {
            req->skip_broken_adapters = 1;
            continue;
        }
        if (a[0] != '-') {
            fprintf(stderr, "loom generate: unexpected argument '%s' (the prompt goes after -p)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "loom generate: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int r = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) req->model_path = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) req->prompt = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--negative-prompt")) req->negative_prompt = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) req->output = v;
        else if (!strcmp(a, "-W") || !strcmp(a, "--width")) {
            r = parse_int("-W/--width", v, 64, 16384, &req->width);
            size_set = 1;
        } else if (!strcmp(a, "-H") || !strcmp(a, "--height")) {
            r = parse_int("-H/--height", v, 64, 16384, &req->height);
            size_set = 1;
        }
        else if (!strcmp(a, "--steps")) r = parse_int(a, v, 1, 10000, &req->steps);
        else if (!strcmp(a, "--cfg-scale")) r = parse_double(a, v, 0, 100, &req->cfg_scale);
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            long long s = strtoll(v, &end, 10);
            if (errno || end == v || *end) return bad(a, "expected an integer", v);
            req->seed = s;
        } else if (!strcmp(a, "--sampling-method")) req->sampler = v;
        else if (!strcmp(a, "--scheduler")) req->scheduler = v;
        else if (!strcmp(a, "--clip-skip")) r = parse_int(a, v, -1, 12, &req->clip_skip);
        else if (!strcmp(a, "--rng")) {
            if (strcmp(v, "cuda") && strcmp(v, "cpu")) return bad(a, "expected cuda or cpu", v);
            req->rng = v;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-count")) r = parse_int("-b/--batch-count", v, 1, 1000000, &req->batch_count);
        else if (!strcmp(a, "--batch-size")) r = parse_int(a, v, 1, 64, &req->batch_size);
        else if (!strcmp(a, "--vae")) req->vae_path = v;
        else if (!strcmp(a, "-i") || !strcmp(a, "--init-img")) req->init_image = v;
        else if (!strcmp(a, "--strength")) r = parse_double(a, v, 0, 1, &req->strength);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) r = parse_int("-t/--threads", v, 0, 1024, &req->threads);
        else if (!strcmp(a, "--dump-latent")) req->dump_latent = v;
        else if (!strcmp(a, "--lora-model-dir")) req->lora_dir = v;
        else if (!strcmp(a, "--lora")) {
            /* pointers into argv, which outlives the request; the array is the caller's to free */
            const char **specs = realloc((void *)req->loras, (size_t)(req->n_loras + 1) * sizeof *specs);
            if (!specs) {
                fprintf(stderr, "loom generate: out of memory\n");
                return 2;
            }
            specs[req->n_loras++] = v;
            req->loras = specs;
        }
        else if (!strcmp(a, "--backend")) {
            if (loom_backend_from_name(v, &req->backend) != 0) return bad(a, "expected cpu or cuda", v);
        } else if (!strcmp(a, "--kernels")) {
            if (!strcmp(v, "own")) req->vendor_kernels = 0;
            else if (!strcmp(v, "vendor")) req->vendor_kernels = 1;
            else return bad(a, "expected own or vendor", v);
        } else if (!strcmp(a, "--dtype")) {
            if (!strcmp(v, "f16") || !strcmp(v, "fp16")) req->bf16 = 0;
            else if (!strcmp(v, "bf16")) req->bf16 = 1;
            else return bad(a, "expected f16 or bf16", v);
        } else {
            fprintf(stderr, "loom generate: unknown option '%s' (try 'loom generate --help')\n", a);
            return 2;
        }
        if (r) return r;
    }
    if (!req->prompt) {
        fprintf(stderr, "loom generate: no prompt: pass -p \"a photo of a cat\"\n");
        return 2;
    }
    if (req->init_image && !size_set) req->width = req->height = 0; /* the image's size */
    else if (req->width % 64 || req->height % 64) {
        fprintf(stderr, "loom generate: size %dx%d: width and height must be multiples of 64\n", req->width,
                req->height);
        return 2;
    }
    return 0;
}

int loom_cmd_generate(int argc, char **argv)
{
    loom_gen_request req;
    int help;
    int r = loom_generate_parse(argc, argv, &req, &help);
    if (help) {
        usage(stdout);
        r = 0;
    } else if (r == 0 && loom_generate(&req) != LOOM_OK) {
        fprintf(stderr, "loom generate: %s\n", loom_last_error());
        r = 1;
    }
    free((void *)req.loras);
    return r;
}
