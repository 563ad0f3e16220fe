/* test_backend_ops.c — every CUDA op (loom_ops_cuda, loom_ops_cuda_vendor)
 * against the CPU reference on fresh random inputs at SD1.x's real shapes
 * (style.md §3; issue 5 item 6): the GEMM-like ops (backend_cases.c) and the
 * memory-bound ones — norms, activations, elementwise, concat, upsample,
 * timestep embedding, softmax (backend_cases_misc.c). Label `gpu`: without a
 * usable GPU it prints why and exits 77 (skipped, never passed).
 *
 *   test_backend_ops [OP ...] [--table cuda|cuda_vendor] [--quick] [--seed N]
 *                    [--dtype f16|bf16|both] [--csv FILE] [perf [--reps N]]
 *   (LOOM_BACKEND_OPS_CSV=FILE in the environment does what --csv does)
 *
 * Every case runs in each selected storage dtype (default both): f16, and bf16
 * (DESIGN.md: "Storage fp16 (bf16 selectable)") with the same ops, which
 * dispatch on their tensors' dtype. Below, "f16" reads as the case's dtype:
 * inputs, output, poison and floor are all in it.
 * Check mode: inputs drawn in f32, rounded to f16 (what the GPU gets); the
 * CPU computes in f32 from those same rounded values, so input rounding is
 * out of the comparison and what remains is the GPU path's own error.
 * Tolerance, per case: tol = 4·floor, where floor = ‖f16(ref) − ref‖/‖ref‖
 * is measured — the error of an ideal op that rounds only its output to f16.
 * The vendor paths round twice (bias+residual or the softmax probabilities,
 * then the output), each adding about one floor (errors of independent
 * roundings add in quadrature: √2·floor); the acceptance is "twice
 * what PyTorch's own fp16 op gets", and PyTorch's fp16 ops round the same
 * two places, so 2·√2 ≈ 2.8 floors is the expected ceiling and 4 leaves
 * headroom for fp32 accumulation-order differences (≪ floor at these K).
 * The pure copies (concat, upsample2x) have a floor of 0: their tolerance
 * is the 1e-6 minimum, i.e. they must be exact. add and mul round once from
 * fp32, so they land on the floor itself.
 * Also: no NaN/Inf, every output element written (the output is poisoned
 * with f16 NaN first), 256 guard bytes on each side of the output unchanged,
 * and the op returns LOOM_OK. An op present in a table without a case here
 * fails the test (add its case to backend_cases.c or backend_cases_misc.c);
 * an op a table lacks is not run for that table, and a case no selected
 * table can run is skipped whole (no CPU reference computed).
 *
 * Perf mode: each case timed with CUDA events (3 warm-ups, --reps runs,
 * median), printed with TFLOP/s and GB/s — the bytes being every operand
 * read once plus the output written once, the least traffic the op needs
 * (the figure of merit for the memory-bound ops, whose TFLOP/s is 0); no CPU
 * reference. The inputs are not rotated, so operands that fit the L2 cache
 * (the smaller linears, most memory-bound cases: H100/H200 have 50 MB of L2)
 * time optimistically; the large GEMM/conv/attention cases are compute-bound.
 *
 * Nothing here has run on a GPU yet (written on machines without one). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "backend_cases.h"
#include "fixture_rng.h"
#include "tensor_alloc.h"
#include "testlib.h"
#ifdef LOOM_HAVE_CUDA
#include "vendor/attention_stats.h"
#endif

#define GUARD 256
#define GUARD_BYTE 0xA5

typedef struct options {
    const char *filters[16];
    int nfilters;
    loom_dtype dtypes[2]; /* storage dtypes to run, in order */
    int n_dtypes;
    const char *table, *csv;
    int perf, quick, reps;
    uint32_t seed;
} options;

static const loom_ops *const tables[] = {&loom_ops_cuda, &loom_ops_cuda_vendor};
#define NTABLES ((int)(sizeof tables / sizeof tables[0]))

/* ---- host helpers --------------------------------------------------------- */

/* v rounded to the 16-bit storage dtype sd and back (round to nearest even, as the GPU's
 * conversions: check_conversions holds them to these) */
static void round_to(loom_dtype sd, float *v, int64_t n)
{
    if (sd == LOOM_BF16)
        for (int64_t i = 0; i < n; i++) v[i] = loom_bf16_to_f32(loom_f32_to_bf16(v[i]));
    else
        for (int64_t i = 0; i < n; i++) v[i] = loom_f16_to_f32(loom_f32_to_f16(v[i]));
}

/* ‖sd(ref) − ref‖/‖ref‖: the error of an ideal op that rounds only its output to sd */
static double rounding_floor(loom_dtype sd, const float *ref, int64_t n)
{
    float *r = malloc((size_t)n * sizeof *r);
    if (!r) return NAN;
    memcpy(r, ref, (size_t)n * sizeof *r);
    round_to(sd, r, n);
    double f = t_rel_l2(r, ref, n);
    free(r);
    return f;
}

static int wanted(const options *o, const bo_case *c)
{
    if (o->quick && !c->quick) return 0;
    if (!o->nfilters) return 1;
    for (int i = 0; i < o->nfilters; i++)
        if (strcmp(o->filters[i], bo_kind_op(c->kind)) == 0) return 1;
    return 0;
}

/* ---- device output with guards -------------------------------------------- */

typedef struct guarded {
    unsigned char *base; /* device: GUARD | output | GUARD */
    size_t nbytes;
    loom_tensor t;
} guarded;

static loom_status guarded_alloc(loom_dtype sd, const loom_tensor *shape, guarded *g)
{
    memset(g, 0, sizeof *g);
    g->t = loom_tensor_view(NULL, sd, shape->ndim, shape->shape);
    g->t.device = LOOM_CUDA;
    g->nbytes = loom_tensor_nbytes(&g->t);
    void *p;
    LOOM_TRY(loom_device_alloc(g->nbytes + 2 * GUARD, &p));
    g->base = p;
    g->t.data = g->base + GUARD;
    return LOOM_OK;
}

/* Guards get GUARD_BYTE; the output 0xFF bytes, an f16 and a bf16 NaN: an
 * element the op never writes shows up as NaN. */
static loom_status guarded_poison(guarded *g)
{
    LOOM_TRY(loom_device_memset(g->base, GUARD_BYTE, g->nbytes + 2 * GUARD));
    return loom_device_memset(g->t.data, 0xFF, g->nbytes);
}

static loom_status guarded_intact(const guarded *g, int *ok)
{
    unsigned char h[2 * GUARD];
    LOOM_TRY(loom_device_download(h, g->base, GUARD));
    LOOM_TRY(loom_device_download(h + GUARD, g->base + GUARD + g->nbytes, GUARD));
    *ok = 1;
    for (int i = 0; i < 2 * GUARD; i++)
        if (h[i] != GUARD_BYTE) *ok = 0;
    return LOOM_OK;
}

/* ---- which path the vendor attention took --------------------------------- */

#ifdef LOOM_HAVE_CUDA
/* cuda_vendor's attention runs cuDNN's fused attention, or the cuBLAS path
 * where cuDNN refuses (kernels/cuda/vendor/attention_cudnn.cu). A silent
 * fallback on every shape must not pass as "cuDNN fused attention checked":
 * head dims cuDNN documents (multiples of 8, at most 256; every GPU loom
 * builds for is sm_80+) must have run on cuDNN without a causal mask, and
 * the others, which that file refuses before asking cuDNN, on the fallback.
 * Prints the path. */
static void check_attention_path(const options *o, const bo_case *c, const loom_vendor_attn_stats *before)
{
    loom_vendor_attn_stats after;
    loom_vendor_attention_stats(&after);
    const long long ran = (long long)(after.cudnn_calls - before->cudnn_calls);
    const long long fell = (long long)(after.fallback_calls - before->fallback_calls);
    const int64_t d = c->p[4];
    /* causal (CLIP's 77-token text attention, once per request): cuDNN 9.19 offers no engine for
     * the masked graph on sm_90 (H200 run, bench/results/2026-11-27-h200-runtime), so either path */
    const int causal = strcmp(bo_kind_op(c->kind), "attention_causal") == 0;
    const int want_cudnn = d % 8 == 0 && d <= 256;
    printf("%-12s %-18s   ran on %s%s%s\n", "", "",
           fell ? "cuBLAS (fallback)" : loom_vendor_attn_path_name(after.last_path), fell ? ": " : "",
           fell ? after.last_refusal : "");
    if (strcmp(after.last_build_note, before->last_build_note) != 0) /* the SDPA operation refused first */
        printf("%-12s %-18s   (first choice refused: %s)\n", "", "", after.last_build_note);
    if (o->perf || (causal && want_cudnn)) return;
    if (want_cudnn)
        T_CHECK(ran > 0 && fell == 0,
                "cuda_vendor.%s %s: cuDNN's fused attention did not run (%lld cuDNN, %lld fallback calls): %s",
                bo_kind_op(c->kind), c->where, ran, fell, fell ? after.last_refusal : "no call counted");
    else
        T_CHECK(fell > 0 && ran == 0, "cuda_vendor.%s %s: head dim %lld should have taken the cuBLAS fallback",
                bo_kind_op(c->kind), c->where, (long long)d);
}
#endif

/* ---- one case ------------------------------------------------------------- */

typedef struct run_ctx {
    const loom_ops *table;
    const bo_case *c;
    const loom_tensor *in[BO_SLOTS];
    loom_tensor *out;
} run_ctx;

static loom_status run_once(void *p)
{
    run_ctx *r = p;
    return bo_case_call(r->table, r->c, r->in, r->out);
}

static FILE *csv_file;

static void report(const options *o, const loom_ops *t, loom_dtype sd, const bo_case *c, double rel, double tol,
                   int64_t bad, int guards_ok, double ms, double bytes, loom_status s)
{
    const char *dn = loom_dtype_name(sd);
    char label[96];
    bo_case_label(c, label, sizeof label);
    const double tflops = ms > 0 ? bo_case_flops(c) / (ms * 1e9) : 0;
    const double gbps = ms > 0 ? bytes / (ms * 1e6) : 0;
    const int pass = s == LOOM_OK && (o->perf || (rel <= tol && bad == 0 && guards_ok));
    if (o->perf)
        printf("%-12s %-4s %-18s %-34s %9.4f %8.1f %8.1f  %s\n", t->name, dn, bo_kind_op(c->kind), label, ms, tflops,
               gbps, s == LOOM_OK ? "" : loom_last_error());
    else
        printf("%-12s %-4s %-18s %-34s %9.2e %9.2e %5.0f%% %5lld %-3s %8.3f  %s\n", t->name, dn, bo_kind_op(c->kind),
               label, rel, tol, 100.0 * rel / tol, (long long)bad, guards_ok ? "ok" : "BAD", ms,
               s != LOOM_OK ? loom_last_error() : pass ? "pass" : "FAIL");
    if (csv_file)
        fprintf(csv_file, "%s,%s,\"%s\",\"%s\",%s,%.4e,%.4e,%lld,%d,%.5f,%.2f,%s,%.1f,%s\n", t->name,
                bo_kind_op(c->kind), label, c->where, o->perf ? "perf" : "check", rel, tol, (long long)bad, guards_ok,
                ms, tflops, pass ? "pass" : "fail", gbps, dn);
}

static int table_selected(const options *o, const loom_ops *t, const bo_case *c)
{
    return bo_table_has(t, c->kind) && (!o->table || strcmp(o->table, t->name) == 0);
}

/* One case in storage dtype sd (f16 or bf16) on every selected table. */
static void run_case(const options *o, const bo_case *c, loom_dtype sd, uint32_t seed)
{
    int any = 0;
    for (int ti = 0; ti < NTABLES; ti++) any |= table_selected(o, tables[ti], c);
    if (!any) return; /* no table here has the op: not even the CPU reference */
    loom_tensor shp[BO_SLOTS], out_shape;
    float scale[BO_SLOTS];
    bo_case_shapes(c, shp, scale, &out_shape);
    float *host[BO_SLOTS] = {0};
    loom_tensor dev[BO_SLOTS] = {{0}};
    const loom_tensor *dev_in[BO_SLOTS] = {0};
    float *ref = NULL, *got = NULL;
    const int64_t n_out = loom_tensor_numel(&out_shape);
    double floor_err = 0, bytes = (double)n_out * 2.0; /* the 16-bit output, written once */

    for (int i = 0; i < BO_SLOTS; i++) {
        if (!shp[i].ndim) continue;
        const int64_t n = loom_tensor_numel(&shp[i]);
        /* sd, or f32 for timesteps (uploaded as they are) */
        const loom_dtype dt = bo_case_dtype(c, i) == LOOM_F16 ? sd : bo_case_dtype(c, i);
        host[i] = malloc((size_t)n * sizeof(float));
        T_CHECK(host[i] != NULL, "out of memory");
        if (!host[i]) goto done;
        bo_case_fill(c, i, host[i], n, seed + (uint32_t)i, scale[i]);
        if (dt != LOOM_F32) round_to(dt, host[i], n);
        loom_status s = loom_tensor_alloc(LOOM_CUDA, dt, shp[i].ndim, shp[i].shape, &dev[i]);
        T_OK(s);
        if (s != LOOM_OK) goto done;
        if (dt == LOOM_F16) s = loom_device_upload_f32_as_f16(dev[i].data, host[i], (size_t)n);
        else if (dt == LOOM_BF16) s = loom_device_upload_f32_as_bf16(dev[i].data, host[i], (size_t)n);
        else s = loom_device_upload(dev[i].data, host[i], (size_t)n * sizeof(float));
        T_OK(s);
        if (s != LOOM_OK) goto done;
        dev_in[i] = &dev[i];
        bytes += (double)n * (double)loom_dtype_size(dt);
    }
    if (!o->perf) { /* the CPU reference, once for every table */
        loom_tensor cin[BO_SLOTS];
        const loom_tensor *cin_p[BO_SLOTS] = {0};
        for (int i = 0; i < BO_SLOTS; i++)
            if (host[i]) {
                cin[i] = loom_tensor_view(host[i], LOOM_F32, shp[i].ndim, shp[i].shape);
                cin_p[i] = &cin[i];
            }
        ref = malloc((size_t)n_out * sizeof *ref);
        got = malloc((size_t)n_out * sizeof *got);
        T_CHECK(ref && got, "out of memory");
        if (!ref || !got) goto done;
        loom_tensor cout = loom_tensor_view(ref, LOOM_F32, out_shape.ndim, out_shape.shape);
        loom_status s = bo_case_call(&loom_ops_cpu, c, cin_p, &cout);
        T_OK(s);
        if (s != LOOM_OK) goto done;
        floor_err = rounding_floor(sd, ref, n_out);
    }
    for (int ti = 0; ti < NTABLES; ti++) {
        const loom_ops *t = tables[ti];
        if (!table_selected(o, t, c)) continue;
        guarded g;
        loom_status s = guarded_alloc(sd, &out_shape, &g);
        T_OK(s);
        if (s != LOOM_OK) continue;
        run_ctx rc = {t, c, {dev_in[0], dev_in[1], dev_in[2], dev_in[3]}, &g.t};
        /* never 0: a reference exactly representable in sd would demand bit equality */
        double ms = 0, rel = NAN, tol = fmax(4.0 * floor_err, 1e-6);
        int64_t bad = 0;
        int guards_ok = 1;
#ifdef LOOM_HAVE_CUDA
        const int vendor_attention =
            t == &loom_ops_cuda_vendor && (c->kind == BO_ATTENTION || c->kind == BO_ATTENTION_CAUSAL);
        loom_vendor_attn_stats attn_before;
        loom_vendor_attention_stats(&attn_before);
#endif
        s = guarded_poison(&g);
        if (s == LOOM_OK)
            s = o->perf ? loom_device_time_ms(run_once, &rc, 3, o->reps, &ms) : loom_device_time_ms(run_once, &rc, 0, 1, &ms);
        if (s == LOOM_OK) s = loom_device_sync();
        if (s == LOOM_OK && !o->perf) {
            s = sd == LOOM_BF16 ? loom_device_download_bf16_as_f32(got, g.t.data, (size_t)n_out)
                                : loom_device_download_f16_as_f32(got, g.t.data, (size_t)n_out);
            if (s == LOOM_OK) s = guarded_intact(&g, &guards_ok);
            if (s == LOOM_OK) {
                bad = t_count_nonfinite(got, n_out);
                rel = t_rel_l2(got, ref, n_out);
            }
        }
        report(o, t, sd, c, rel, tol, bad, guards_ok, ms, bytes, s);
#ifdef LOOM_HAVE_CUDA
        if (vendor_attention && s == LOOM_OK) check_attention_path(o, c, &attn_before);
#endif
        const char *dn = loom_dtype_name(sd);
        T_CHECK(s == LOOM_OK, "%s.%s %s %s: %s", t->name, bo_kind_op(c->kind), dn, c->where, loom_last_error());
        if (s == LOOM_OK && !o->perf) {
            T_CHECK(bad == 0, "%s.%s %s %s: %lld NaN/Inf (or unwritten) outputs", t->name, bo_kind_op(c->kind), dn,
                    c->where, (long long)bad);
            T_CHECK(guards_ok, "%s.%s %s %s: guard bytes around the output were overwritten", t->name,
                    bo_kind_op(c->kind), dn, c->where);
            T_CHECK(rel <= tol, "%s.%s %s %s: relative L2 error %.3e > tolerance %.3e (4x the %s rounding floor)",
                    t->name, bo_kind_op(c->kind), dn, c->where, rel, tol, dn);
        }
        T_OK(loom_device_free(g.base));
    }
done:
    for (int i = 0; i < BO_SLOTS; i++) {
        free(host[i]);
        loom_tensor_free(&dev[i]);
    }
    free(ref);
    free(got);
}

/* ---- memory.cu's conversions: bit for bit against loom_base.c ------------- */

static void check_conversions(uint32_t seed)
{
    enum { N = 4096 };
    static float src[N], back[N];
    static uint16_t half[N];
    fixture_rng_fill(src, N, seed, 70000.0f); /* beyond f16's range: ±inf */
    const float special[] = {0.0f, -0.0f, 1e-8f, -3e-5f, 6.1e-5f, 65504.0f, 65520.0f, 1.0f / 3.0f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) src[i] = special[i];
    for (int i = 12; i < N / 2; i++) src[i] *= 1e-4f * (float)(i % 7); /* small values and subnormals */
    const int64_t shape[1] = {N};
    loom_tensor d;
    loom_status s = loom_tensor_zeros(LOOM_CUDA, LOOM_F16, 1, shape, &d);
    T_OK(s);
    if (s != LOOM_OK) return;
    T_OK(loom_device_download(half, d.data, sizeof half));
    int zeros = 1;
    for (int i = 0; i < N; i++) zeros &= half[i] == 0;
    T_CHECK(zeros, "loom_tensor_zeros on the GPU left non-zero bytes");
    T_OK(loom_device_upload_f32_as_f16(d.data, src, N));
    T_OK(loom_device_download(half, d.data, sizeof half));
    int mism = 0;
    for (int i = 0; i < N; i++) {
        const uint16_t want = loom_f32_to_f16(src[i]);
        const int both_nan = (want & 0x7C00) == 0x7C00 && (want & 0x3FF) && (half[i] & 0x7C00) == 0x7C00 &&
                             (half[i] & 0x3FF);
        if (half[i] != want && !both_nan && mism++ < 5)
            fprintf(stderr, "f32->f16 of %a: GPU 0x%04x, loom_f32_to_f16 0x%04x\n", (double)src[i], half[i], want);
    }
    T_CHECK(mism == 0, "%d of %d f32->f16 conversions differ from loom_f32_to_f16", mism, N);
    T_OK(loom_device_download_f16_as_f32(back, d.data, N));
    mism = 0;
    for (int i = 0; i < N; i++) {
        const float want = loom_f16_to_f32(half[i]);
        if (!(back[i] == want || (isnan(back[i]) && isnan(want)))) mism++;
    }
    T_CHECK(mism == 0, "%d of %d f16->f32 conversions differ from loom_f16_to_f32", mism, N);

    /* the bf16 staging (the same buffer: 2 bytes an element) */
    T_OK(loom_device_upload_f32_as_bf16(d.data, src, N));
    T_OK(loom_device_download(half, d.data, sizeof half));
    mism = 0;
    for (int i = 0; i < N; i++) {
        const uint16_t want = loom_f32_to_bf16(src[i]);
        const int both_nan = (want & 0x7F80) == 0x7F80 && (want & 0x7F) && (half[i] & 0x7F80) == 0x7F80 &&
                             (half[i] & 0x7F);
        if (half[i] != want && !both_nan && mism++ < 5)
            fprintf(stderr, "f32->bf16 of %a: GPU 0x%04x, loom_f32_to_bf16 0x%04x\n", (double)src[i], half[i], want);
    }
    T_CHECK(mism == 0, "%d of %d f32->bf16 conversions differ from loom_f32_to_bf16", mism, N);
    T_OK(loom_device_download_bf16_as_f32(back, d.data, N));
    mism = 0;
    for (int i = 0; i < N; i++) {
        const float want = loom_bf16_to_f32(half[i]);
        if (!(back[i] == want || (isnan(back[i]) && isnan(want)))) mism++;
    }
    T_CHECK(mism == 0, "%d of %d bf16->f32 conversions differ from loom_bf16_to_f32", mism, N);
    loom_tensor_free(&d);
}

/* ---- main ----------------------------------------------------------------- */

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->reps = 20;
    o->dtypes[0] = LOOM_F16, o->dtypes[1] = LOOM_BF16, o->n_dtypes = 2;
    o->seed = (uint32_t)time(NULL);
    o->csv = getenv("LOOM_BACKEND_OPS_CSV"); /* so a ctest run can leave a CSV (scripts/gpu-check.sh) */
    if (o->csv && !*o->csv) o->csv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "perf") == 0) o->perf = 1;
        else if (strcmp(a, "--quick") == 0) o->quick = 1;
        else if (strcmp(a, "--table") == 0 && i + 1 < argc) o->table = argv[++i];
        else if (strcmp(a, "--csv") == 0 && i + 1 < argc) o->csv = argv[++i];
        else if (strcmp(a, "--seed") == 0 && i + 1 < argc) o->seed = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--reps") == 0 && i + 1 < argc) o->reps = atoi(argv[++i]);
        else if (strcmp(a, "--dtype") == 0 && i + 1 < argc && strcmp(argv[i + 1], "f16") == 0)
            o->dtypes[0] = LOOM_F16, o->n_dtypes = 1, i++;
        else if (strcmp(a, "--dtype") == 0 && i + 1 < argc && strcmp(argv[i + 1], "bf16") == 0)
            o->dtypes[0] = LOOM_BF16, o->n_dtypes = 1, i++;
        else if (strcmp(a, "--dtype") == 0 && i + 1 < argc && strcmp(argv[i + 1], "both") == 0)
            o->dtypes[0] = LOOM_F16, o->dtypes[1] = LOOM_BF16, o->n_dtypes = 2, i++;
        else if (a[0] != '-' && o->nfilters < 16) o->filters[o->nfilters++] = a;
        else {
            fprintf(stderr, "usage: %s [OP ...] [--table cuda|cuda_vendor] [--quick] [--seed N] "
                            "[--dtype f16|bf16|both] [--csv FILE] [perf [--reps N]]\n", argv[0]);
            return -1;
        }
    }
    if (o->reps < 1) o->reps = 1;
    return 0;
}

static int has_case(const char *op)
{
    for (int i = 0; i < bo_case_count; i++)
        if (strcmp(bo_kind_op(bo_cases[i].kind), op) == 0) return 1;
    for (int i = 0; i < bo_misc_case_count; i++)
        if (strcmp(bo_kind_op(bo_misc_cases[i].kind), op) == 0) return 1;
    return 0;
}

/* An op in a table that this test has no case for is a failure: a kernel
 * must not land unchecked. The list names every entry of loom_ops (the
 * assertion breaks the build when one is added); linear_adapted and
 * conv2d_adapted need adapter plans and are checked by test_adapter_ops_gpu
 * (and the GPU pipeline test) instead, so they are exempt here. */
static void check_coverage(void)
{
    _Static_assert(sizeof(loom_ops) == offsetof(loom_ops, linear) + 16 * sizeof(loom_status (*)(void)),
                   "loom_ops gained an entry: list it in check_coverage");
    for (int ti = 0; ti < NTABLES; ti++) {
        const loom_ops *t = tables[ti];
#define ENTRY(e, exempt) {#e, t->e != NULL, exempt}
        const struct {
            const char *name;
            int present, exempt;
        } e[] = {ENTRY(linear, 0),     ENTRY(conv2d, 0),  ENTRY(group_norm, 0), ENTRY(layer_norm, 0),
                 ENTRY(attention, 0),  ENTRY(geglu, 0),   ENTRY(unary, 0),      ENTRY(add, 0),
                 ENTRY(mul, 0),        ENTRY(concat, 0),  ENTRY(upsample2x, 0), ENTRY(timestep_embedding, 0),
                 ENTRY(softmax, 0),    ENTRY(attention_causal, 0),
                 ENTRY(linear_adapted, 1), ENTRY(conv2d_adapted, 1)};
#undef ENTRY
        for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
            T_CHECK(!e[i].present || e[i].exempt || has_case(e[i].name),
                    "%s.%s exists but has no backend-ops case: add one to backend_cases.c or backend_cases_misc.c",
                    t->name, e[i].name);
    }
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) != 0) return 2;
    char desc[160];
    if (loom_cuda_probe(0, desc, sizeof desc) != LOOM_OK) {
        char why[320];
        snprintf(why, sizeof why, "no usable GPU: %s", loom_last_error());
        t_skip(why);
    }
    printf("device: %s; built for %s; seed %u (rerun with --seed %u)\n", desc, loom_cuda_built_archs(), o.seed,
           o.seed);
    if (o.csv) {
        csv_file = fopen(o.csv, "w");
        T_CHECK(csv_file != NULL, "cannot write %s", o.csv);
        if (csv_file) /* gbps and dtype appended last: readers that go by column name are unaffected */
            fprintf(csv_file, "table,op,shape,where,mode,rel_l2,tol,nonfinite,guards_ok,ms,tflops,result,gbps,dtype\n");
    }
    check_coverage();
    if (!o.perf) check_conversions(o.seed);
    if (o.perf)
        printf("%-12s %-4s %-18s %-34s %9s %8s %8s\n", "table", "type", "op", "shape", "ms(med)", "TFLOP/s", "GB/s");
    else
        printf("%-12s %-4s %-18s %-34s %9s %9s %6s %5s %-3s %8s  %s\n", "table", "type", "op", "shape", "rel_l2", "tol",
               "%tol", "nan", "grd", "ms", "result");
    /* seeds: 4 per case (one per operand slot), distinct across both lists; the same in each dtype */
    for (int d = 0; d < o.n_dtypes; d++) {
        for (int i = 0; i < bo_case_count; i++)
            if (wanted(&o, &bo_cases[i])) run_case(&o, &bo_cases[i], o.dtypes[d], o.seed * 16u + (uint32_t)i * 4u);
        for (int i = 0; i < bo_misc_case_count; i++)
            if (wanted(&o, &bo_misc_cases[i]))
                run_case(&o, &bo_misc_cases[i], o.dtypes[d], o.seed * 16u + (uint32_t)(bo_case_count + i) * 4u);
    }
    if (csv_file) fclose(csv_file);
    return t_finish("test_backend_ops");
}
