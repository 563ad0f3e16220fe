/* bench.c — `loom bench`: the UNet step time of a checkpoint on a backend,
 * loom's kernels beside the vendor ones (cuBLAS/cuDNN) in the same process,
 * and the cost of live adapters (DESIGN.md: "the adapter cost is a separate,
 * named thing that loom bench measures"; performance.md's targets).
 *
 *   loom bench -m FILE [--backend cuda|cpu] [--kernels own,vendor] [-W 512 -H 512]
 *              [--batch 2] [--warmup 2] [--reps 10] [--lora-model-dir DIR --lora NAME[:w]]...
 *              [--csv FILE]
 *
 * One step = one UNet forward of `batch` rows (2 = a CFG pair of one image)
 * on random latents and a random 77-token context, t = 500; timed by the
 * wall clock around a call that ends in a device-to-host copy of eps (so it
 * includes the small host↔device copies of the correctness-first runtime,
 * model_io.h). Median and minimum over --reps after --warmup. Each
 * kernel set is timed without adapters and, when --lora is given, with them
 * (the overhead is reported against the same kernels without adapters).
 * --ops times each op inside the step with CUDA events: exact while the GPU
 * is the bottleneck; when the host issues ops slower than the GPU runs them
 * (the vendor table: bench/results/2026-11-27-h200-probe) the waits count
 * too, so the column is an upper bound there.
 * Nothing here is a unit test: numbers go to bench/results/. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "commands.h"
#include "device_arena.h"
#include "log.h"
#include "model_ad.h"
#include "pipeline_adapters.h"
#include "sd_model.h"
#include "tensor_alloc.h"
#include "unet_kv.h"

#define MAX_LORAS 16

typedef struct bench_opts {
    const char *model, *csv, *lora_dir;
    const char *loras[MAX_LORAS];
    int n_loras;
    loom_backend backend;
    int own, vendor;
    loom_dtype dtype; /* CUDA storage: f16 or bf16 */
    int ops;          /* --ops: per-op GPU time inside the step */
    int rounds;       /* --rounds: the comparison repeated in one process */
    int width, height, batch, warmup, reps;
} bench_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: loom bench -m FILE [options]\n"
               "  -m, --model FILE           checkpoint (loom make-checkpoint --preset sd15 makes a random SD1.5)\n"
               "      --backend cuda|cpu     default cuda\n"
               "      --kernels LIST         own, vendor or own,vendor (default own,vendor; CUDA only)\n"
               "      --dtype f16|bf16       CUDA storage type (default f16)\n"
               "  -W, --width N  -H, --height N   pixels, multiples of 64 (default 512)\n"
               "      --batch N              UNet rows per step (default 2: one image with CFG)\n"
               "      --warmup N             untimed steps first (default 2)\n"
               "      --reps N               timed steps (default 10)\n"
               "      --lora-model-dir DIR   with --lora NAME[:w] (repeatable): also time the step with these\n"
               "                             adapters applied live, and report their overhead\n"
               "      --rounds N             repeat own/vendor N times in this process, every other round vendor first\n"
               "      --ops                  also the step's GPU time per op (CUDA events around each op), own vs vendor\n"
               "      --csv FILE             also write the rows as CSV\n");
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "loom bench: %s '%s': expected an integer in %d..%d\n", flag, v, lo, hi);
        return 0;
    }
    *out = (int)x;
    return 1;
}

static int parse(int argc, char **argv, bench_opts *o, int *help)
{
    *o = (bench_opts){.backend = LOOM_BACKEND_CUDA, .own = 1, .vendor = 1, .dtype = LOOM_F16, .rounds = 1, .width = 512, .height = 512,
                      .batch = 2, .warmup = 2, .reps = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return *help = 1, 1;
        if (!strcmp(a, "--ops")) {
            o->ops = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "loom bench: %s needs a value (try 'loom bench --help')\n", a);
            return 0;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--lora-model-dir")) o->lora_dir = v;
        else if (!strcmp(a, "--lora")) {
            if (o->n_loras == MAX_LORAS) return fprintf(stderr, "loom bench: at most %d --lora\n", MAX_LORAS), 0;
            o->loras[o->n_loras++] = v;
        } else if (!strcmp(a, "--backend")) {
            if (loom_backend_from_name(v, &o->backend) != 0)
                return fprintf(stderr, "loom bench: --backend '%s': expected cpu or cuda\n", v), 0;
        } else if (!strcmp(a, "--kernels")) {
            o->own = !strcmp(v, "own") || !strcmp(v, "own,vendor") || !strcmp(v, "vendor,own");
            o->vendor = !strcmp(v, "vendor") || !strcmp(v, "own,vendor") || !strcmp(v, "vendor,own");
            if (!o->own && !o->vendor)
                return fprintf(stderr, "loom bench: --kernels '%s': expected own, vendor or own,vendor\n", v), 0;
        } else if (!strcmp(a, "--dtype")) {
            if (!strcmp(v, "f16") || !strcmp(v, "fp16")) o->dtype = LOOM_F16;
            else if (!strcmp(v, "bf16")) o->dtype = LOOM_BF16;
            else return fprintf(stderr, "loom bench: --dtype '%s': expected f16 or bf16\n", v), 0;
        } else if (!strcmp(a, "-W") || !strcmp(a, "--width")) {
            if (!parse_int(a, v, 64, 4096, &o->width)) return 0;
        } else if (!strcmp(a, "-H") || !strcmp(a, "--height")) {
            if (!parse_int(a, v, 64, 4096, &o->height)) return 0;
        } else if (!strcmp(a, "--rounds")) {
            if (!parse_int(a, v, 1, 100, &o->rounds)) return 0;
        } else if (!strcmp(a, "--batch")) {
            if (!parse_int(a, v, 1, 64, &o->batch)) return 0;
        } else if (!strcmp(a, "--warmup")) {
            if (!parse_int(a, v, 0, 1000, &o->warmup)) return 0;
        } else if (!strcmp(a, "--reps")) {
            if (!parse_int(a, v, 1, 10000, &o->reps)) return 0;
        } else {
            fprintf(stderr, "loom bench: unknown option '%s' (try 'loom bench --help')\n", a);
            return 0;
        }
    }
    if (!o->model) return fprintf(stderr, "loom bench: no model: pass -m FILE\n"), 0;
    if (o->width % 64 || o->height % 64)
        return fprintf(stderr, "loom bench: -W/-H must be multiples of 64\n"), 0;
    if (o->n_loras && !o->lora_dir) return fprintf(stderr, "loom bench: --lora needs --lora-model-dir\n"), 0;
    if (o->backend == LOOM_BACKEND_CPU && o->dtype == LOOM_BF16)
        return fprintf(stderr, "loom bench: --dtype bf16 needs --backend cuda\n"), 0;
    if (o->backend == LOOM_BACKEND_CPU) o->own = 1, o->vendor = 0, o->dtype = LOOM_F32;
    return 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct step_io {
    loom_tensor x, t, ctx, eps;
} step_io;

static void fill_random(loom_tensor *t, uint64_t seed)
{
    float *d = t->data;
    uint64_t z = seed;
    for (int64_t i = 0, n = loom_tensor_numel(t); i < n; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        d[i] = (float)((double)(z >> 40) / (double)(1ull << 24) * 2.0 - 1.0); /* uniform (−1, 1) */
    }
}

/* Times `reps` UNet steps; *median and *best in ms. */
static loom_status time_steps(const loom_sd_model *m, const loom_ops *ops, const loom_model_ad *ad, step_io *io,
                              const bench_opts *o, double *median, double *best)
{
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    if (!ms) return loom_fail(LOOM_E_NOMEM, "bench: out of memory");
    loom_status s = LOOM_OK;
    for (int i = 0; s == LOOM_OK && i < o->warmup + o->reps; i++) {
        const double t0 = now_ms();
        s = loom_unet_forward_ad(&m->unet, ops, ad, &io->x, &io->t, &io->ctx, &io->eps); /* ends in a D2H copy */
        if (i >= o->warmup) ms[i - o->warmup] = now_ms() - t0;
    }
    if (s == LOOM_OK) {
        for (int64_t i = 0, n = loom_tensor_numel(&io->eps); i < n; i++)
            if (!isfinite(((float *)io->eps.data)[i])) {
                s = loom_fail(LOOM_E_DEVICE, "bench: the UNet on %s produced a non-finite value", ops->name);
                break;
            }
    }
    if (s == LOOM_OK) {
        qsort(ms, (size_t)o->reps, sizeof *ms, cmp_double);
        *median = o->reps % 2 ? ms[o->reps / 2] : 0.5 * (ms[o->reps / 2 - 1] + ms[o->reps / 2]);
        *best = ms[0];
    }
    free(ms);
    return s;
}

#define PROFILE_STEPS 3
#define MAX_OPS 32

/* The step's GPU time per op: PROFILE_STEPS steps through a profiled table, mean per step. The
 * K/V cache keys on the table's address, which the profiled tables share: both kernel sets'
 * profiled steps reuse the first one's cross-attention K/V (timing only; results are unused). */
static loom_status profile_ops(const loom_sd_model *m, const loom_ops *ops, step_io *io, loom_op_time *t, int *n)
{
    const loom_ops *prof = loom_ops_profiled(ops);
    for (int i = 0; i < PROFILE_STEPS; i++)
        LOOM_TRY(loom_unet_forward_ad(&m->unet, prof, NULL, &io->x, &io->t, &io->ctx, &io->eps));
    LOOM_TRY(loom_op_profile_take(t, MAX_OPS, n));
    for (int i = 0; i < *n; i++) t[i].ms /= PROFILE_STEPS, t[i].calls /= PROFILE_STEPS;
    return LOOM_OK;
}

static double op_ms(const loom_op_time *t, int n, const char *op, int *calls)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].op, op)) return *calls = t[i].calls, t[i].ms;
    return *calls = 0, 0.0;
}

static loom_status report_ops(const loom_sd_model *m, const bench_opts *o, step_io *io)
{
    loom_op_time t[2][MAX_OPS];
    int n[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        if (k == 0 ? o->own : o->vendor)
            LOOM_TRY(profile_ops(m, loom_backend_ops_dtype(o->backend, k == 1, o->dtype), io, t[k], &n[k]));
    printf("per-op GPU time in the step (CUDA events around each op, mean of %d steps):\n", PROFILE_STEPS);
    printf("%-20s %6s %10s %10s\n", "op", "calls", "own ms", "vendor ms");
    const loom_op_time *names = n[0] ? t[0] : t[1];
    double sum[2] = {0, 0};
    for (int i = 0; i < (n[0] ? n[0] : n[1]); i++) {
        int c0 = 0, c1 = 0;
        const double a = op_ms(t[0], n[0], names[i].op, &c0), b = op_ms(t[1], n[1], names[i].op, &c1);
        sum[0] += a, sum[1] += b;
        printf("%-20s %6d %10.3f %10.3f\n", names[i].op, c0 ? c0 : c1, a, b);
    }
    printf("%-20s %6s %10.3f %10.3f\n", "sum of ops", "", sum[0], sum[1]);
    return LOOM_OK;
}

/* The step's memory: the UNet's planned activation arena (device_arena.h) against what it could
 * not go below and what no reuse at all would take, the K/V cache, the pool's high-water mark. */
static loom_status report_memory(const loom_sd_model *m)
{
    const double mib = 1.0 / (1024.0 * 1024.0);
    loom_device_arena_stats st;
    loom_unet_kv_stats kv;
    loom_device_mem dm;
    loom_device_arena_get_stats(m->unet.arena, &st);
    loom_unet_kv_get_stats(m->unet.kv, &kv);
    LOOM_TRY(loom_device_mem_info(&dm));
    printf("memory: UNet activations %.1f MiB planned arena (peak live %.1f MiB, %.1f MiB without reuse, %d tensors "
           "a step, %d plans, %d replays); cross-attention K/V cache %.1f MiB (%d hits, %d misses); pool in use "
           "%.1f MiB, high-water %.1f MiB; GPU %.1f of %.1f GiB free\n",
           st.planned_bytes * mib, st.peak_live_bytes * mib, st.sum_bytes * mib, st.n_allocs, st.n_plans,
           st.n_replays, kv.bytes * mib, kv.hits, kv.misses, dm.in_use * mib, dm.peak * mib,
           dm.gpu_free * mib / 1024.0, dm.gpu_total * mib / 1024.0);
    return LOOM_OK;
}

static loom_status run(const bench_opts *o, FILE *csv)
{
    char desc[256] = "cpu";
    if (o->backend == LOOM_BACKEND_CUDA) {
        loom_status ps = loom_cuda_probe(0, desc, sizeof desc);
        if (ps != LOOM_OK) return loom_fail_wrap(ps, "--backend cuda");
    }
    loom_sd_model m;
    LOOM_TRY(loom_sd_model_load_dtype(&m, o->model, NULL, o->backend, o->dtype));
    const loom_unet_config *c = &m.unet.cfg;
    const int64_t b = o->batch, lh = o->height / 8, lw = o->width / 8;
    const int64_t xs[4] = {b, lh, lw, c->in_channels}, cs[3] = {b, 77, c->context_dim};
    const int64_t os[4] = {b, lh, lw, c->out_channels};
    step_io io = {{0}, {0}, {0}, {0}};
    loom_gen_adapters ads;
    memset(&ads, 0, sizeof ads);
    int *set_of = calloc((size_t)b, sizeof *set_of);
    loom_status s = set_of ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "bench: out of memory");
    if (s == LOOM_OK) s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, xs, &io.x);
    if (s == LOOM_OK) s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 1, &b, &io.t);
    if (s == LOOM_OK) s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, cs, &io.ctx);
    if (s == LOOM_OK) s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 4, os, &io.eps);
    if (s == LOOM_OK) {
        fill_random(&io.x, 1), fill_random(&io.ctx, 2);
        for (int64_t i = 0; i < b; i++) ((float *)io.t.data)[i] = 500.0f;
    }
    if (s == LOOM_OK && o->n_loras) { /* every row uses one set: --lora specs, in order */
        loom_gen_request req;
        memset(&req, 0, sizeof req);
        req.backend = o->backend, req.lora_dir = o->lora_dir, req.loras = o->loras, req.n_loras = o->n_loras;
        req.bf16 = o->dtype == LOOM_BF16;
        s = loom_gen_adapters_prepare(&req, &m, NULL, 1, &ads);
    }
    printf("loom bench: UNet step on %s, %s, %dx%d, batch %d, %s, %d reps after %d warm-up\n", desc, o->model,
           o->width, o->height, o->batch, loom_dtype_name(o->dtype), o->reps, o->warmup);
    printf("%-8s %-10s %10s %10s %8s %s\n", "kernels", "adapters", "median ms", "best ms", "it/s", "note");
    if (csv) fprintf(csv, "device,model,kernels,adapters,width,height,batch,median_ms,best_ms\n");
    double other_ms = 0; /* the round's first kernel set's median */
    /* --rounds: the whole comparison again in the same process, every other round vendor first,
     * so run-to-run and order effects show beside the difference between the kernel sets */
    for (int i = 0; s == LOOM_OK && i < 2 * o->rounds; i++) {
        const int round = i / 2, k = round % 2 ? 1 - i % 2 : i % 2;
        if (!(k == 0 ? o->own : o->vendor)) continue;
        const loom_ops *ops = loom_backend_ops_dtype(o->backend, k == 1, o->dtype);
        char kname[24];
        snprintf(kname, sizeof kname, o->rounds > 1 ? "%s/%d" : "%s", k == 0 ? "own" : "vendor", round + 1);
        double base_med = 0, base_best = 0;
        s = time_steps(&m, ops, NULL, &io, o, &base_med, &base_best);
        if (s != LOOM_OK) break;
        char note[128] = "";
        if (i % 2 == 0) other_ms = base_med;
        else if (o->own && o->vendor)
            snprintf(note, sizeof note, "own is %.2fx the vendor speed",
                     k == 1 ? base_med / other_ms : other_ms / base_med);
        printf("%-8s %-10s %10.3f %10.3f %8.2f %s\n", kname, "none", base_med, base_best, 1e3 / base_med, note);
        if (csv) fprintf(csv, "\"%s\",\"%s\",%s,none,%d,%d,%d,%.4f,%.4f\n", desc, o->model, kname, o->width, o->height,
                         o->batch, base_med, base_best);
        if (!ads.plans) continue;
        loom_model_ad ad = {&m.adapter_map, ads.plans, (int)b, set_of, ads.dplans};
        double med = 0, best = 0;
        s = time_steps(&m, ops, &ad, &io, o, &med, &best);
        if (s != LOOM_OK) break;
        snprintf(note, sizeof note, "adapters cost %+.1f %% of the step", 100.0 * (med - base_med) / base_med);
        char an[32];
        snprintf(an, sizeof an, "%d live", o->n_loras);
        printf("%-8s %-10s %10.3f %10.3f %8.2f %s\n", kname, an, med, best, 1e3 / med, note);
        if (csv) fprintf(csv, "\"%s\",\"%s\",%s,%d,%d,%d,%d,%.4f,%.4f\n", desc, o->model, kname, o->n_loras, o->width,
                         o->height, o->batch, med, best);
    }
    if (s == LOOM_OK && o->backend == LOOM_BACKEND_CUDA && o->ops) s = report_ops(&m, o, &io);
    if (s == LOOM_OK && o->backend == LOOM_BACKEND_CUDA) s = report_memory(&m);
    loom_gen_adapters_free(&ads);
    free(set_of);
    loom_tensor_free(&io.x), loom_tensor_free(&io.t), loom_tensor_free(&io.ctx), loom_tensor_free(&io.eps);
    loom_sd_model_free(&m);
    return s;
}

int loom_cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int help = 0;
    if (!parse(argc, argv, &o, &help)) return 2;
    if (help) {
        usage(stdout);
        return 0;
    }
    FILE *csv = NULL;
    if (o.csv && !(csv = fopen(o.csv, "w"))) {
        fprintf(stderr, "loom bench: %s: cannot write\n", o.csv);
        return 1;
    }
    loom_status s = run(&o, csv);
    if (csv && fclose(csv) != 0 && s == LOOM_OK) s = loom_fail(LOOM_E_IO, "%s: write failed", o.csv);
    if (s != LOOM_OK) {
        fprintf(stderr, "loom bench: %s\n", loom_last_error());
        return 1;
    }
    return 0;
}
