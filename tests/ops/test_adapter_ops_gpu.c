/* test_adapter_ops_gpu.c — the CUDA backend's live adapters (loom_cuda_linear_adapted,
 * loom_cuda_conv2d_adapted) on every case of the live-adapter fixture
 * (tests/fixtures/ops/adapter_ops.safetensors, scripts/gen_fixtures_adapter_ops.py: PyTorch
 * float64 with every ΔW formed densely), the plan uploaded with adapters/plan_device.h.
 * Label `gpu`: without a usable GPU it runs its host half and exits 77 (skipped).
 *
 * Tolerances. The GPU takes f16 inputs and f16 factors; the CPU reference op runs on the very
 * same values (x, w, bias, residual and every factor rounded to f16 on the host, vectors kept
 * f32, as the device plan keeps them), so only accumulation order and the output's rounding
 * differ. floor_i = ‖f16(y_cpu,i) − y_cpu,i‖/‖y_cpu,i‖ is the error of an ideal op that rounds
 * only its output; the GPU sums in fp32 and rounds once, so it should sit near one floor:
 *   (a) GPU vs CPU-on-f16-inputs: rel L2 ≤ 4·floor_i per sample (test_backend_ops' rule);
 *   (b) GPU vs PyTorch: ‖gpu − ref‖ ≤ ‖gpu − cpu16‖ + ‖cpu16 − ref‖, so rel L2 ≤ e_in,i +
 *       4·floor_i·(1 + e_in,i), where e_in,i = ‖cpu16 − ref‖/‖ref‖ is what rounding the inputs
 *       and factors to f16 does to the exact result. (b) guards (a)'s harness: a rounding step
 *       done on both sides alike, or a wrong reference, would pass (a) and fail (b). A priori
 *       e_in,i ≤ E_IN_MAX·floor_i: each of the k independently rounded operand sets (x, w, the
 *       factors) moves the output by about one floor, √k floors together (1.0–1.9 measured on
 *       this fixture); more means the case is ill-conditioned for the check.
 * Also, per case: no element left unwritten (y is poisoned with f16 NaN); each sample run alone
 * (batch 1) gives the bits it gets in the mixed batch (issue 5 item 2: "one batch mixes adapter
 * sets"); samples without a group, NULL / all-plain / empty-group plans give the plain op's
 * bits (loom_ops_cuda.linear / conv2d); y aliasing the residual gives the same bits; bad plans
 * (host tensors, wrong dtypes, shapes, batch, y over a factor, a bad precomputed ΔW) fail with a
 * one-line LOOM_E_INVALID and leave y untouched.
 * LoHa/LoKr ΔWs: the device plan carries each HADA/KRON term's ΔW built once by plan_device.c
 * (adapter_plan.h "Precomputed ΔW"), so the checks above run the ops on it; the same plan with
 * every `dense` dropped (the op builds each ΔW per call into scratch), and with one dropped at a
 * time (a scratch ΔW next to precomputed ones), must give the very same bits.
 * Every case runs twice: in f16, then in bf16 storage (inputs, weights and factors bf16-rounded,
 * floors in bf16; "f16" above reads as the pass's dtype). The bad-plan refusals run in f16. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_cases.h"
#include "backend.h"
#include "plan_device.h"
#include "testlib.h"
#ifdef LOOM_HAVE_CUDA
#include "cuda_ops.h"
#endif

#define E_IN_MAX 4.0
#define POISON 0xFF /* every byte: an f16 and a bf16 NaN */

/* The storage dtype of the current pass: every case runs in f16, then in bf16 (--dtype bf16:
 * activations, weights and factors bf16, vectors f32), with "f16" below read as this dtype. */
static loom_dtype g_sd = LOOM_F16;

static float round_sd(float v)
{
    return g_sd == LOOM_BF16 ? loom_bf16_to_f32(loom_f32_to_bf16(v)) : loom_f16_to_f32(loom_f32_to_f16(v));
}

/* ---- host side: the f16-rounded twin and the CPU reference ------------------------------------ */

static void round_f16(loom_tensor *t)
{
    float *v = t->data;
    for (int64_t i = 0; v && i < loom_tensor_numel(t); i++) v[i] = round_sd(v[i]);
}

/* x, w, bias, residual and every factor to f16 values; vectors stay f32 (plan_device.h). */
static void round_case(fx_case *c)
{
    round_f16(&c->x), round_f16(&c->w), round_f16(&c->bias), round_f16(&c->residual);
    for (int g = 0; g < c->n_groups; g++)
        for (int k = 0; k < c->groups[g].n_terms; k++) {
            loom_ad_term *t = &c->terms[g][k];
            round_f16(&t->down), round_f16(&t->up), round_f16(&t->down2), round_f16(&t->up2);
        }
}

static double rounding_floor(const float *ref, int64_t n)
{
    float *r = malloc((size_t)n * sizeof *r);
    if (!r) return NAN;
    for (int64_t i = 0; i < n; i++) r[i] = round_sd(ref[i]);
    const double f = t_rel_l2(r, ref, n);
    free(r);
    return f;
}

typedef struct host_ref {
    float *y;                          /* the CPU op on the rounded case */
    double floor[FX_MAX_BATCH], e_in[FX_MAX_BATCH];
} host_ref;

static int host_reference(const fx_case *cr, const fx_case *c, host_ref *h)
{
    const int64_t n = loom_tensor_numel(&c->y_ref), per = n / cr->batch;
    h->y = malloc((size_t)n * sizeof(float));
    if (!h->y) return 0;
    loom_tensor y = loom_tensor_view(h->y, LOOM_F32, c->y_ref.ndim, c->y_ref.shape);
    const loom_ad_plan plan = fx_plan_of(cr);
    const loom_tensor *b = cr->bias.data ? &cr->bias : NULL, *r = cr->residual.data ? &cr->residual : NULL;
    loom_status s = cr->is_conv ? loom_ops_cpu.conv2d_adapted(&cr->x, &cr->w, b, r, &y, &cr->p, &plan)
                                : loom_ops_cpu.linear_adapted(&cr->x, &cr->w, b, r, &y, &plan);
    T_OK(s);
    if (s != LOOM_OK) return 0;
    for (int i = 0; i < cr->batch; i++) {
        const float *yi = h->y + i * per, *ri = (const float *)c->y_ref.data + i * per;
        h->floor[i] = rounding_floor(yi, per);
        h->e_in[i] = t_rel_l2(yi, ri, per);
        const char *dn = loom_dtype_name(g_sd);
        printf("%-11s sample %d group %2d  %s floor %.2e  inputs-to-%s effect %.2e (%.1f floors)\n", c->name, i,
               c->group_of[i], dn, h->floor[i], dn, h->e_in[i], h->e_in[i] / h->floor[i]);
        T_CHECK(h->e_in[i] <= E_IN_MAX * h->floor[i], "%s sample %d: rounding the inputs moves the result by %.2e, "
                "%.1f floors (> %g): ill-conditioned case", c->name, i, h->e_in[i], h->e_in[i] / h->floor[i], E_IN_MAX);
    }
    return 1;
}

/* ---- device side ------------------------------------------------------------------------------ */

#ifdef LOOM_HAVE_CUDA

static float sd_bits_to_f32(uint16_t b) { return g_sd == LOOM_BF16 ? loom_bf16_to_f32(b) : loom_f16_to_f32(b); }

/* An f16 device tensor shaped like h (values uploaded from h when upload). */
static loom_tensor dev_like(const loom_tensor *h, int upload)
{
    loom_tensor d = loom_tensor_view(NULL, g_sd, h->ndim, h->shape);
    d.device = LOOM_CUDA;
    if (!h->data) return d;
    void *p = NULL;
    T_OK(loom_device_alloc(loom_tensor_nbytes(&d), &p));
    if (p && upload)
        T_OK(g_sd == LOOM_BF16 ? loom_device_upload_f32_as_bf16(p, h->data, (size_t)loom_tensor_numel(h))
                               : loom_device_upload_f32_as_f16(p, h->data, (size_t)loom_tensor_numel(h)));
    d.data = p;
    return d;
}

static uint16_t *dev_bits(const loom_tensor *d)
{
    uint16_t *b = malloc(loom_tensor_nbytes(d) + 2);
    if (b) T_OK(loom_device_download(b, d->data, loom_tensor_nbytes(d)));
    return b;
}

/* Sample i of a device batch tensor as a batch of one. */
static loom_tensor dev_sample(const loom_tensor *t, int batch, int i)
{
    if (batch == 1 || !t->data) return *t;
    loom_tensor v = *t;
    v.shape[0] = 1;
    v.data = (uint16_t *)t->data + i * (loom_tensor_numel(t) / batch);
    return v;
}

typedef struct dev_case {
    const fx_case *c;
    loom_tensor x, w, bias, residual, y;
    loom_adapter_plans_device *plan; /* the case's groups plus an empty one at n_groups */
    const loom_ad_group *groups;
} dev_case;

static loom_status gpu_adapted(const dev_case *d, const loom_tensor *x, const loom_tensor *res, loom_tensor *y,
                               const loom_ad_plan *plan)
{
    const loom_tensor *b = d->bias.data ? &d->bias : NULL;
    if (d->c->is_conv) return loom_cuda_conv2d_adapted(x, &d->w, b, res, y, &d->c->p, plan);
    return loom_cuda_linear_adapted(x, &d->w, b, res, y, plan);
}

/* The backend's plain op (the table entry the adapted op uses for samples without a group). */
static loom_status gpu_plain(const dev_case *d, const loom_tensor *x, const loom_tensor *res, loom_tensor *y)
{
    const loom_tensor *b = d->bias.data ? &d->bias : NULL;
    if (d->c->is_conv) return loom_ops_cuda.conv2d ? loom_ops_cuda.conv2d(x, &d->w, b, res, y, &d->c->p)
                                                   : loom_op_missing(&loom_ops_cuda, "conv2d");
    return loom_ops_cuda.linear ? loom_ops_cuda.linear(x, &d->w, b, res, y) : loom_op_missing(&loom_ops_cuda, "linear");
}

static int dev_open(dev_case *d, const fx_case *c, const fx_case *cr)
{
    memset(d, 0, sizeof *d);
    d->c = c;
    /* the rounded values are exact in f16: the device gets bit for bit what the CPU reference got */
    d->x = dev_like(&cr->x, 1), d->w = dev_like(&cr->w, 1), d->bias = dev_like(&cr->bias, 1);
    d->residual = dev_like(&cr->residual, 1), d->y = dev_like(&c->y_ref, 0);
    /* the unrounded host plan: plan_device.c's own f16 conversion is part of what is tested */
    T_OK(loom_ad_groups_to_device_dtype(c->groups, c->n_groups + 1, g_sd, &d->plan));
    d->groups = loom_adapter_plans_device_row(d->plan, 0);
    return d->x.data && d->w.data && d->y.data && d->groups && (!cr->bias.data || d->bias.data) &&
           (!cr->residual.data || d->residual.data);
}

static void dev_close(dev_case *d)
{
    (void)loom_device_sync();
    loom_device_free(d->x.data), loom_device_free(d->w.data), loom_device_free(d->bias.data);
    loom_device_free(d->residual.data), loom_device_free(d->y.data);
    loom_adapter_plans_device_free(d->plan);
}

static int same_bits(const uint16_t *a, const uint16_t *b, int64_t n) { return !memcmp(a, b, (size_t)n * 2); }

/* Runs `plan` on x into y (poisoned first); *bits gets y's bits. */
static loom_status run_bits(const dev_case *d, const loom_tensor *x, const loom_tensor *res, loom_tensor *y,
                            const loom_ad_plan *plan, uint16_t **bits)
{
    *bits = NULL;
    LOOM_TRY(loom_device_memset(y->data, POISON, loom_tensor_nbytes(y)));
    LOOM_TRY(gpu_adapted(d, x, res, y, plan));
    *bits = malloc(loom_tensor_nbytes(y) + 2);
    if (!*bits) return loom_fail(LOOM_E_NOMEM, "test: out of memory");
    return loom_device_download(*bits, y->data, loom_tensor_nbytes(y));
}

/* Sample i alone, as a batch of one, into a buffer of its own. */
static loom_status run_alone(const dev_case *d, int i, uint16_t **bits)
{
    const fx_case *c = d->c;
    const loom_tensor xi = dev_sample(&d->x, c->batch, i), ri = dev_sample(&d->residual, c->batch, i);
    loom_tensor y1 = dev_sample(&d->y, c->batch, i);
    void *p = NULL;
    LOOM_TRY(loom_device_alloc(loom_tensor_nbytes(&y1), &p));
    y1.data = p;
    const loom_ad_plan one = {1, &c->group_of[i], c->n_groups, d->groups};
    loom_status s = run_bits(d, &xi, d->residual.data ? &ri : NULL, &y1, &one, bits);
    (void)loom_device_sync();
    loom_device_free(p);
    return s;
}

/* Values against the CPU op and PyTorch, and each sample alone; returns the batch's bits. */
static uint16_t *check_values(const dev_case *d, const host_ref *h)
{
    const fx_case *c = d->c;
    const int64_t n = loom_tensor_numel(&c->y_ref), per = n / c->batch;
    const loom_tensor *res = d->residual.data ? &d->residual : NULL;
    const loom_ad_plan plan = {c->batch, c->group_of, c->n_groups, d->groups};
    uint16_t *bits = NULL;
    loom_tensor y = d->y;
    T_OK(run_bits(d, &d->x, res, &y, &plan, &bits));
    float *yf = bits ? malloc((size_t)n * sizeof *yf) : NULL;
    if (!yf) return bits;
    for (int64_t e = 0; e < n; e++) yf[e] = sd_bits_to_f32(bits[e]);
    T_CHECK(t_count_nonfinite(yf, n) == 0, "%s: output has NaN/Inf (unwritten?)", c->name);
    for (int i = 0; i < c->batch; i++) {
        const float *yi = yf + i * per, *ci = h->y + i * per, *ri = (const float *)c->y_ref.data + i * per;
        const double e_cpu = t_rel_l2(yi, ci, per), e_ref = t_rel_l2(yi, ri, per);
        const double tol_cpu = 4 * h->floor[i], tol_ref = h->e_in[i] + tol_cpu * (1 + h->e_in[i]);
        printf("%-11s sample %d group %2d  vs CPU(f16 in) %.2e (%.1f floors)  vs PyTorch %.2e (tol %.2e)\n", c->name,
               i, c->group_of[i], e_cpu, e_cpu / h->floor[i], e_ref, tol_ref);
        T_CHECK(e_cpu <= tol_cpu, "%s sample %d: rel L2 %.3e vs the CPU op > 4 floors (%.3e)", c->name, i, e_cpu,
                tol_cpu);
        T_CHECK(e_ref <= tol_ref, "%s sample %d: rel L2 %.3e vs PyTorch > %.3e", c->name, i, e_ref, tol_ref);
        uint16_t *b1 = NULL;
        T_OK(run_alone(d, i, &b1));
        T_CHECK(b1 && same_bits(b1, bits + i * per, per), "%s sample %d: alone != in the mixed batch", c->name, i);
        free(b1);
    }
    free(yf);
    return bits;
}

/* The plain op on sample i alone (a batch of one, a buffer of its own): what the adapted op
 * promises a sample without a group. */
static loom_status plain_alone(const dev_case *d, int i, uint16_t **bits)
{
    const fx_case *c = d->c;
    const loom_tensor xi = dev_sample(&d->x, c->batch, i), ri = dev_sample(&d->residual, c->batch, i);
    loom_tensor y1 = dev_sample(&d->y, c->batch, i);
    void *p = NULL;
    *bits = NULL;
    LOOM_TRY(loom_device_alloc(loom_tensor_nbytes(&y1), &p));
    y1.data = p;
    loom_status s = loom_device_memset(p, POISON, loom_tensor_nbytes(&y1));
    if (s == LOOM_OK) s = gpu_plain(d, &xi, d->residual.data ? &ri : NULL, &y1);
    if (s == LOOM_OK && !(*bits = malloc(loom_tensor_nbytes(&y1) + 2))) s = loom_fail(LOOM_E_NOMEM, "test: no memory");
    if (s == LOOM_OK) s = loom_device_download(*bits, p, loom_tensor_nbytes(&y1));
    (void)loom_device_sync();
    loom_device_free(p);
    return s;
}

/* A sample without a group (or on an empty one) gets the plain op's bits for it alone; NULL,
 * all-plain and empty-group plans are the plain op on the whole batch; a sample on the empty
 * group among adapted ones leaves its neighbours' bits alone; y == residual accumulates in
 * place. The plain op's own batch invariance (ops.h), which the adapted op relies on when it
 * runs plain samples in sub-batches, is checked separately so that a failure names its owner. */
static void check_plain_and_alias(const dev_case *d, const uint16_t *bits)
{
    const fx_case *c = d->c;
    const char *plain_name = c->is_conv ? "conv2d" : "linear";
    const int64_t n = loom_tensor_numel(&c->y_ref), per = n / c->batch;
    const loom_tensor *res = d->residual.data ? &d->residual : NULL;
    loom_tensor y = d->y;
    uint16_t *plain = NULL, *b = NULL, *alone[FX_MAX_BATCH] = {NULL};
    T_OK(loom_device_memset(y.data, POISON, loom_tensor_nbytes(&y)));
    const loom_status ps = gpu_plain(d, &d->x, res, &y);
    T_CHECK(ps == LOOM_OK, "%s: the plain op: %s", c->name, loom_last_error());
    plain = ps == LOOM_OK ? dev_bits(&y) : NULL;
    for (int i = 0; plain && i < c->batch; i++) {
        T_OK(plain_alone(d, i, &alone[i]));
        if (!alone[i]) continue;
        T_CHECK(same_bits(alone[i], plain + i * per, per),
                "%s sample %d: loom_ops_cuda.%s gives other bits for it in a batch of %d than alone: the plain op is "
                "not batch-invariant (ops.h)", c->name, i, plain_name, c->batch);
        if (c->group_of[i] < 0)
            T_CHECK(same_bits(bits + i * per, alone[i], per), "%s sample %d: not the plain op's bits", c->name, i);
    }
    if (!plain || !alone[0]) goto done;
    T_OK(run_bits(d, &d->x, res, &y, NULL, &b));
    T_CHECK(b && same_bits(b, plain, n), "%s: NULL plan != plain op", c->name);
    free(b);
    int none[FX_MAX_BATCH], empty[FX_MAX_BATCH], mixed[FX_MAX_BATCH];
    const int eg = c->n_groups; /* the empty group the device plan carries */
    for (int i = 0; i < c->batch; i++) none[i] = -1, empty[i] = eg, mixed[i] = i == 0 ? eg : c->group_of[i];
    const loom_ad_plan p_none = {c->batch, none, c->n_groups, d->groups}, p_empty = {c->batch, empty, eg + 1, d->groups};
    const loom_ad_plan p_mixed = {c->batch, mixed, eg + 1, d->groups};
    T_OK(run_bits(d, &d->x, res, &y, &p_none, &b));
    T_CHECK(b && same_bits(b, plain, n), "%s: all-plain plan != plain op", c->name);
    free(b);
    T_OK(run_bits(d, &d->x, res, &y, &p_empty, &b));
    T_CHECK(b && same_bits(b, plain, n), "%s: empty-group plan != plain op", c->name);
    free(b);
    T_OK(run_bits(d, &d->x, res, &y, &p_mixed, &b));
    T_CHECK(b && same_bits(b, alone[0], per), "%s: a sample on an empty group among adapted ones != plain op", c->name);
    for (int i = 1; b && i < c->batch; i++)
        T_CHECK(same_bits(b + i * per, bits + i * per, per), "%s sample %d: changed by its neighbour's group", c->name, i);
    free(b);
done:
    free(plain);
    for (int i = 0; i < c->batch; i++) free(alone[i]);
    if (!res) return;
    /* y == residual: a fresh copy of the residual, accumulated into in place */
    loom_tensor acc = dev_like(&d->c->y_ref, 0);
    const loom_ad_plan plan = {c->batch, c->group_of, c->n_groups, d->groups};
    uint16_t *rb = dev_bits(&d->residual);
    if (acc.data && rb) {
        T_OK(loom_device_upload(acc.data, rb, loom_tensor_nbytes(&acc)));
        T_OK(gpu_adapted(d, &d->x, &acc, &acc, &plan));
        uint16_t *ab = dev_bits(&acc);
        T_CHECK(ab && same_bits(ab, bits, n), "%s: y aliasing residual != separate y", c->name);
        free(ab);
    }
    free(rb);
    (void)loom_device_sync();
    loom_device_free(acc.data);
}

/* The call fails with LOOM_E_INVALID, a one-line message holding `want`, and y untouched. */
static void expect_invalid(const dev_case *d, const loom_ad_plan *plan, loom_tensor *y, const char *want)
{
    const loom_tensor *res = d->residual.data ? &d->residual : NULL;
    T_OK(loom_device_memset(y->data, 0x3C, loom_tensor_nbytes(y))); /* 0x3C3C: a finite f16 */
    loom_clear_error();
    const loom_status s = gpu_adapted(d, &d->x, res, y, plan);
    const char *m = loom_last_error();
    T_CHECK(s == LOOM_E_INVALID, "%s: \"%s\": got %s (%s)", d->c->name, want, loom_status_name(s), m);
    T_CHECK(strstr(m, want) != NULL, "%s: message \"%s\" lacks \"%s\"", d->c->name, m, want);
    T_CHECK(strchr(m, '\n') == NULL, "%s: message has a newline", d->c->name);
    uint16_t *b = dev_bits(y);
    int untouched = b != NULL;
    for (int64_t i = 0; b && i < loom_tensor_numel(y); i++) untouched &= b[i] == 0x3C3C;
    T_CHECK(untouched, "%s: a refused call wrote y (%s)", d->c->name, want);
    free(b);
}

/* t with dim `dim` set to `extent`, over the same data (only the checks look at it). */
static loom_tensor reshaped(const loom_tensor *t, int dim, int64_t extent)
{
    int64_t s[LOOM_MAX_DIMS];
    for (int k = 0; k < t->ndim; k++) s[k] = t->shape[k];
    s[dim] = extent;
    loom_tensor v = loom_tensor_view(t->data, t->dtype, t->ndim, s);
    v.device = t->device;
    return v;
}

/* Bad plans on a case whose group 0 holds lowrank, hada, kron, dense. */
static void check_bad_plans(const dev_case *d, const char *op)
{
    const fx_case *c = d->c;
    char want[200];
    loom_tensor y = d->y;
    loom_ad_group g[FX_MAX_GROUPS];
    loom_ad_term t[FX_MAX_TERMS];
    memcpy(g, d->groups, (size_t)(c->n_groups + 1) * sizeof *g);
    memcpy(t, d->groups[0].terms, (size_t)d->groups[0].n_terms * sizeof *t);
    g[0].terms = t;
    loom_ad_plan p = {c->batch, c->group_of, c->n_groups, g};

    const loom_ad_plan host = fx_plan_of(c); /* f32 host tensors: not a device plan */
    snprintf(want, sizeof want, "%s: group 0: in_scale: a device plan holds vectors as f32 on the CUDA device; got "
             "f32 on the host", op);
    expect_invalid(d, &host, &y, want);
    p.batch = c->batch - 1;
    snprintf(want, sizeof want, "%s: the plan has %d samples but x has %d", op, c->batch - 1, c->batch);
    expect_invalid(d, &p, &y, want);
    p.batch = c->batch;
    const loom_ad_term t0 = t[0];
    t[0].down = reshaped(&t0.down, t0.down.ndim - 1, t0.down.shape[t0.down.ndim - 1] - 1); /* wrong input width */
    snprintf(want, sizeof want, "%s: group 0 term 0 (lowrank): down is", op);
    expect_invalid(d, &p, &y, want);
    t[0] = t0;
    t[0].up.dtype = LOOM_F32;
    expect_invalid(d, &p, &y, "group 0 term 0 (lowrank): up: a device plan holds factors as f16 on the CUDA device; "
                              "got f32 on the CUDA device");
    t[0] = t0;
    const loom_ad_group g0 = g[0];
    g[0].out_scale.dtype = LOOM_F16;
    expect_invalid(d, &p, &y, "group 0: out_scale: a device plan holds vectors as f32");
    g[0] = g0;
    t[2].up = reshaped(&t[2].up, 0, t[2].up.shape[0] + 1); /* b·a != O */
    expect_invalid(d, &p, &y, "group 0 term 2 (kron): up is");
    t[2] = d->groups[0].terms[2];
    /* a bad precomputed ΔW on the hada term: shape, dtype; one on a kind without ΔW; y over it */
    T_CHECK(t[1].kind == LOOM_AD_HADA && t[1].dense.data, "%s: term 1 is a hada term with a ΔW", c->name);
    if (t[1].kind == LOOM_AD_HADA && t[1].dense.data) {
        const loom_ad_term t1 = t[1];
        const long long o = t1.dense.shape[0], k = t1.dense.shape[1];
        t[1].dense = reshaped(&t1.dense, 1, k - 1);
        snprintf(want, sizeof want, "%s: group 0 term 1 (hada): dense is [%lld, %lld] but should be [%lld, %lld]", op,
                 o, k - 1, o, k);
        expect_invalid(d, &p, &y, want);
        t[1] = t1, t[1].dense.dtype = LOOM_F16;
        expect_invalid(d, &p, &y, "group 0 term 1 (hada): dense: a device plan holds dense deltas as f32 on the CUDA "
                                  "device; got f16 on the CUDA device");
        t[1] = t1, t[3].dense = t1.dense;
        snprintf(want, sizeof want, "%s: group 0 term 3 (dense): dense must be empty for this kind", op);
        expect_invalid(d, &p, &y, want);
        t[3] = d->groups[0].terms[3];
        loom_tensor yd2 = d->y;
        yd2.data = t1.dense.data;
        if (loom_tensor_nbytes(&t1.dense) >= loom_tensor_nbytes(&yd2)) {
            loom_clear_error();
            const loom_status s = gpu_adapted(d, &d->x, NULL, &yd2, &p);
            T_CHECK(s == LOOM_E_INVALID && strstr(loom_last_error(), "y overlaps group 0 term 1 (hada): dense"),
                    "%s: y over a ΔW: %s", c->name, loom_last_error());
        }
    }
    /* y over a factor's memory */
    loom_tensor yd = d->y;
    yd.data = t[3].down.data;
    if (loom_tensor_nbytes(&t[3].down) >= loom_tensor_nbytes(&yd)) {
        loom_clear_error();
        const loom_status s = gpu_adapted(d, &d->x, NULL, &yd, &p);
        T_CHECK(s == LOOM_E_INVALID && strstr(loom_last_error(), "y overlaps group 0 term 3 (dense): down"),
                "%s: y over a factor: %s", c->name, loom_last_error());
    }
    /* the restored plan runs again */
    T_OK(loom_device_memset(y.data, POISON, loom_tensor_nbytes(&y)));
    T_OK(gpu_adapted(d, &d->x, d->residual.data ? &d->residual : NULL, &y, &p));
}

/* The precomputed ΔWs give the per-call build's bits: the case's plan with every HADA/KRON
 * term's `dense` dropped, then with each one alone dropped, against `bits` (the plan as built). */
static void check_dense_vs_per_call(const dev_case *d, const uint16_t *bits, int *n_dense)
{
    const fx_case *c = d->c;
    const int n_groups = c->n_groups + 1; /* with the empty group the device plan carries */
    loom_ad_group g[FX_MAX_GROUPS];
    loom_ad_term t[FX_MAX_GROUPS][FX_MAX_TERMS];
    int pre[FX_MAX_GROUPS * FX_MAX_TERMS][2], n_pre = 0;
    memcpy(g, d->groups, (size_t)n_groups * sizeof *g);
    for (int gi = 0; gi < n_groups; gi++) {
        if (g[gi].n_terms) memcpy(t[gi], d->groups[gi].terms, (size_t)g[gi].n_terms * sizeof **t);
        g[gi].terms = g[gi].n_terms ? t[gi] : NULL;
        for (int k = 0; k < g[gi].n_terms; k++) {
            const int dk = t[gi][k].kind == LOOM_AD_HADA || t[gi][k].kind == LOOM_AD_KRON;
            T_CHECK(dk == (t[gi][k].dense.data != NULL), "%s: group %d term %d (%s): dense %p", c->name, gi, k,
                    loom_ad_kind_name(t[gi][k].kind), t[gi][k].dense.data);
            if (dk && t[gi][k].dense.data) pre[n_pre][0] = gi, pre[n_pre][1] = k, n_pre++;
        }
    }
    if (!n_pre) return;
    ++*n_dense;
    const int64_t n = loom_tensor_numel(&c->y_ref);
    const loom_tensor *res = d->residual.data ? &d->residual : NULL;
    const loom_ad_plan plan = {c->batch, c->group_of, c->n_groups, g};
    loom_tensor y = d->y;
    for (int v = -1; v < n_pre; v++) { /* v < 0: every ΔW per call; else only pre[v]'s */
        for (int j = 0; j < n_pre; j++) {
            const int gi = pre[j][0], k = pre[j][1];
            t[gi][k].dense.data = v < 0 || j == v ? NULL : d->groups[gi].terms[k].dense.data;
        }
        uint16_t *b = NULL;
        T_OK(run_bits(d, &d->x, res, &y, &plan, &b));
        if (v < 0)
            T_CHECK(b && same_bits(b, bits, n), "%s: ΔWs built per call != precomputed ΔWs", c->name);
        else
            T_CHECK(b && same_bits(b, bits, n), "%s: group %d term %d's ΔW per call, the others precomputed != all "
                    "precomputed", c->name, pre[v][0], pre[v][1]);
        free(b);
    }
}

static void gpu_case(const fx_case *c, const fx_case *cr, const host_ref *h, int *n_bad, int *n_dense)
{
    dev_case d;
    if (dev_open(&d, c, cr)) {
        uint16_t *bits = check_values(&d, h);
        if (bits) check_plain_and_alias(&d, bits);
        if (bits) check_dense_vs_per_call(&d, bits, n_dense);
        free(bits);
        /* the refusals' messages name f16 factors: the f16 pass checks them */
        if (g_sd == LOOM_F16 && c->n_groups && c->groups[0].n_terms == 4 && c->terms[0][0].kind == LOOM_AD_LOWRANK &&
            c->terms[0][3].kind == LOOM_AD_DENSE && c->batch > 1) {
            check_bad_plans(&d, c->is_conv ? "conv2d_adapted" : "linear_adapted");
            ++*n_bad;
        }
    }
    dev_close(&d);
}
#endif

int main(void)
{
    char desc[256] = "", why[512];
    const int have_gpu = loom_cuda_probe(0, desc, sizeof desc) == LOOM_OK;
    snprintf(why, sizeof why, "no usable GPU: %s", have_gpu ? "" : loom_last_error());
    if (have_gpu) printf("device: %s\n", desc);
    loom_tfile *tf = t_open_fixture("ops/adapter_ops.safetensors");
    if (!tf) return t_finish("test_adapter_ops_gpu");
    json_t *root = NULL, *cases = fx_cases(tf, &root);
    T_CHECK(cases && json_array_size(cases) >= 5, "fixture metadata has no cases");
    int n_cases = 0, n_bad = 0, n_dense = 0;
    static const loom_dtype pass_dtypes[2] = {LOOM_F16, LOOM_BF16};
    for (size_t i = 0; i < 2 * json_array_size(cases); i++) {
        g_sd = pass_dtypes[i / json_array_size(cases)];
        if (i % json_array_size(cases) == 0) printf("---- %s storage ----\n", loom_dtype_name(g_sd));
        fx_case *c = calloc(1, sizeof *c), *cr = calloc(1, sizeof *cr);
        host_ref h;
        memset(&h, 0, sizeof h);
        json_t *jc = json_array_get(cases, i % json_array_size(cases));
        if (c && cr && fx_load_case(c, tf, jc) && fx_load_case(cr, tf, jc)) {
            round_case(cr);
            if (host_reference(cr, c, &h)) {
                n_cases++;
#ifdef LOOM_HAVE_CUDA
                if (have_gpu) gpu_case(c, cr, &h, &n_bad, &n_dense);
#endif
            }
        }
        free(h.y);
        if (c) fx_free_case(c);
        if (cr) fx_free_case(cr);
        free(c), free(cr);
    }
    T_CHECK(n_cases >= 10, "ran %d cases (f16 and bf16)", n_cases);
    json_decref(root);
    loom_tfile_close(tf);
    if (!have_gpu) {
        if (t_failures) return t_finish("test_adapter_ops_gpu"); /* the host half failed: report it */
        printf("host half: %d checks passed\n", t_checks);
        t_skip(why);
    }
    T_CHECK(n_bad >= 2, "bad-plan checks ran on %d cases", n_bad);
    T_CHECK(n_dense >= 4, "precomputed vs per-call ΔWs compared on %d cases (f16 and bf16)", n_dense);
    return t_finish("test_adapter_ops_gpu");
}
