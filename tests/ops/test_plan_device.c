/* test_plan_device.c — adapters/plan_device.h: host adapter plans → device copies for the CUDA
 * live-adapter ops. Label `gpu`: the host half always runs; without a usable GPU the test then
 * exits 77 (skipped) unless the host half failed.
 *
 * Host half: malformed host groups fail with a one-line LOOM_E_INVALID before any device call
 * (a factor that is f16, or already on the device, or not contiguous; a term count without a term
 * array; no group array); plans without tensors need no device memory and keep their shape
 * (rows, sets, NULL for untouched rows); with tensors and no GPU the build fails cleanly with
 * LOOM_E_DEVICE and no object.
 * Device half: real plans built by loom_adapter_plans_build from the real-tool fixture files
 * (tests/fixtures/inspect: LoHa, LoKr, full with diff_b, IA³) in two sets that share modules,
 * uploaded with loom_adapter_plans_device_build: a device row exactly where the host has one,
 * every group's counts, kinds and scales copied, every factor f16 on the device with the host's
 * shape and bits = loom_f32_to_f16 of the host values, every vector f32 with the host's bits, and
 * a factor shared by the two sets stored once.
 *
 * LoHa/LoKr ΔWs (adapter_plan.h "Precomputed ΔW", kernels/adapter_dense.h). Host half, on the same
 * real plans: each HADA/KRON term's ΔW shape from its factors is its key-table row's [O, I·kh·kw];
 * the test's own ΔW of the plan factors (adapter_plan.h's formula in double, factors rounded to
 * f16 as the upload rounds them) matches the LyCORIS-checked CPU reference s·ΔW of the parsed
 * module (adapters/adapter_delta.c, test_adapters) within the f16 rounding of the factors, which
 * ties that formula, and the layouts it reads, to a reference; malformed factor shapes fail with
 * a one-line message naming the term. Device half: every HADA/KRON term's `dense` is f32 [O, K]
 * on the device and equals that ΔW (LoKr bit for bit: a product of two f16 values is exact in
 * f32; LoHa within a few f32 roundings); other kinds have none; a row's terms with the same
 * factors share one ΔW; the device bytes count it; factor shapes that disagree fail the build
 * with no object. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_dense.h"
#include "backend.h"
#include "plan_device.h"
#include "testlib.h"

/* The test's ΔW vs the CPU reference: rel L2 within this many times 2^-11 (one f16 rounding of
 * each factor element moves ΔW by about that much, relatively). */
#define CHAIN_TOL (4.0 / 2048)
/* The GPU's LoHa ΔW vs the test's: rel L2. A LoHa element is two f32 sums of ranks r1, r2
 * (each product of two f16 values exact) and their product: a few f32 roundings, 2^-24 each. */
#define HADA_TOL 1e-6

/* ---- host half ---------------------------------------------------------------------------------- */

/* loom_ad_term_dense_shape on hand-made terms: the shapes adapter_plan.h's layouts give, and a
 * one-line message naming the term for every inconsistency. */
static void test_dense_shape(void)
{
    static float v[64];
    const int64_t sd[2] = {2, 6}, su[2] = {4, 2}, sd2[2] = {1, 6}, su2[2] = {4, 1}, su4[4] = {4, 1, 1, 2};
    const int64_t sw1[2] = {2, 3}, sw2[4] = {4, 3, 3, 5}, sw2l[2] = {4, 5}, sbad[2] = {5, 1}, sd2b[2] = {1, 5};
    loom_ad_term t;
    memset(&t, 0, sizeof t);
    t.kind = LOOM_AD_HADA;
    t.down = loom_tensor_view(v, LOOM_F32, 2, sd), t.up = loom_tensor_view(v, LOOM_F32, 2, su);
    t.down2 = loom_tensor_view(v, LOOM_F32, 2, sd2), t.up2 = loom_tensor_view(v, LOOM_F32, 2, su2);
    loom_ad_dense_shape ds;
    T_OK(loom_ad_term_dense_shape(&t, "t", &ds));
    T_CHECK(ds.o == 4 && ds.k == 6, "hada: O = up's rows, K = down's row length: [%lld, %lld]", (long long)ds.o,
            (long long)ds.k);
    t.up = loom_tensor_view(v, LOOM_F32, 4, su4); /* a 1×1 conv factor, 4-D */
    T_OK(loom_ad_term_dense_shape(&t, "t", &ds));
    t.up2 = loom_tensor_view(v, LOOM_F32, 2, sbad);
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "row 3 group 1 term 0", &ds),
                  "row 3 group 1 term 0 (hada): up2 is [5, 1]: its rows should be up's");
    t.up2 = loom_tensor_view(v, LOOM_F32, 2, su2), t.down2 = loom_tensor_view(v, LOOM_F32, 2, sd2b);
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "t", &ds), "t (hada): down2 is [1, 5]: its row length should be down's");
    t.down2 = loom_tensor_view(v, LOOM_F32, 2, sd2), t.up = loom_tensor_view(v, LOOM_F32, 2, su2);
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "t", &ds),
                  "t (hada): up is [4, 1]: its columns should be the down's rank");
    t.up = loom_tensor_view(v, LOOM_F32, 2, su), t.down2.data = NULL;
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "t", &ds), "t (hada): down2 is missing (empty)");

    memset(&t, 0, sizeof t);
    t.kind = LOOM_AD_KRON;
    t.down = loom_tensor_view(v, LOOM_F32, 2, sw1), t.up = loom_tensor_view(v, LOOM_F32, 4, sw2);
    T_OK(loom_ad_term_dense_shape(&t, "t", &ds));
    T_CHECK(ds.o == 8 && ds.kk == 9 && ds.in == 15 && ds.k == 135, "kron conv: O = a·b, I = c·d, K = kh·kw·I");
    t.up = loom_tensor_view(v, LOOM_F32, 2, sw2l);
    T_OK(loom_ad_term_dense_shape(&t, "t", &ds));
    T_CHECK(ds.o == 8 && ds.kk == 1 && ds.in == 15 && ds.k == 15, "kron linear: O = a·b, K = I = c·d");
    t.down = loom_tensor_view(v, LOOM_F32, 4, sw2);
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "t", &ds), "t (kron): down is [4, 3, 3, 5]: W1 is [a, c]");
    t.kind = LOOM_AD_LOWRANK;
    T_EXPECT_FAIL(loom_ad_term_dense_shape(&t, "t", &ds), "t (lowrank): only hada and kron terms have a ΔW to build");
    T_CHECK(strchr(loom_last_error(), '\n') == NULL, "message has a newline");
}

/* With a GPU: a hand-made LoHa in two sets (shared factors) gets one ΔW, counted in the device
 * bytes; factor shapes that disagree fail the build after the upload and leave no object. */
static void test_hada_upload(void)
{
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)(i + 1) / 8.0f; /* exact in f16 */
    const int64_t sd[2] = {2, 6}, su[2] = {4, 2}, sd2[2] = {1, 6}, su2[2] = {4, 1}, sbad[2] = {3, 1};
    loom_ad_term t;
    memset(&t, 0, sizeof t);
    t.kind = LOOM_AD_HADA, t.scale = 0.25f;
    t.down = loom_tensor_view(v, LOOM_F32, 2, sd), t.up = loom_tensor_view(v, LOOM_F32, 2, su);
    t.down2 = loom_tensor_view(v, LOOM_F32, 2, sd2), t.up2 = loom_tensor_view(v, LOOM_F32, 2, su2);
    loom_ad_group g[2];
    memset(g, 0, sizeof g);
    g[0].n_terms = g[1].n_terms = 1, g[0].terms = g[1].terms = &t;
    loom_adapter_plans_device *p = NULL;
    T_OK(loom_ad_groups_to_device(g, 2, &p));
    const loom_ad_group *r0 = loom_adapter_plans_device_row(p, 0);
    if (r0) {
        const loom_tensor *d0 = &r0[0].terms[0].dense, *d1 = &r0[1].terms[0].dense;
        T_CHECK(d0->data && d0->data == d1->data, "one LoHa in two sets: one ΔW (%p, %p)", d0->data, d1->data);
        T_CHECK(d0->dtype == LOOM_F32 && d0->device == LOOM_CUDA && d0->ndim == 2 && d0->shape[0] == 4 &&
                    d0->shape[1] == 6, "ΔW tensor");
        /* 4 f16 factors (12, 8, 6, 4 elements) and a 4·6 f32 ΔW, each in a 256-byte slot */
        T_CHECK(loom_adapter_plans_device_bytes(p) == 5 * 256, "device bytes %zu", loom_adapter_plans_device_bytes(p));
        float dw[24];
        T_OK(loom_device_download(dw, d0->data, sizeof dw));
        int same = 1; /* ranks 2 and 1 over values exact in f16, their products exact in f32 */
        for (int o = 0; o < 4; o++)
            for (int e = 0; e < 6; e++) {
                const double a = (double)v[o * 2] * v[e] + (double)v[o * 2 + 1] * v[6 + e], b = (double)v[o] * v[e];
                same &= dw[o * 6 + e] == (float)(a * b);
            }
        T_CHECK(same, "hand-made LoHa ΔW");
    }
    loom_adapter_plans_device_free(p);
    t.up2 = loom_tensor_view(v, LOOM_F32, 2, sbad);
    static char sentinel;
    p = (loom_adapter_plans_device *)&sentinel; /* reset to NULL on failure */
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p),
                  "adapter plan upload: row 0 group 0 term 0 (hada): up2 is [3, 1]");
    T_CHECK(p == NULL, "no object after a failed ΔW build");
}

static void test_host_checks(int have_gpu)
{
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i / 7.0f;
    const int64_t s2[2] = {4, 6}, s1[1] = {6};
    loom_ad_term t[2];
    memset(t, 0, sizeof t);
    t[0].kind = LOOM_AD_DENSE, t[0].scale = 0.5f, t[0].down = loom_tensor_view(v, LOOM_F32, 2, s2);
    t[1] = t[0];
    loom_ad_group g[2];
    memset(g, 0, sizeof g);
    g[0].n_terms = 1, g[0].terms = &t[0];
    g[1].n_terms = 1, g[1].terms = &t[1], g[1].in_scale = loom_tensor_view(v, LOOM_F32, 1, s1);
    static char sentinel;
    loom_adapter_plans_device *p = (loom_adapter_plans_device *)&sentinel; /* reset to NULL on failure */

    t[1].down.dtype = LOOM_F16;
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p), "adapter plan upload: row 0 group 1 term 0: down is not an f32 host tensor");
    T_CHECK(p == NULL, "no object after a failure");
    t[1].down.dtype = LOOM_F32, t[1].down.device = LOOM_CUDA;
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p), "row 0 group 1 term 0: down is not an f32 host tensor");
    t[1].down.device = LOOM_HOST, t[1].down.stride[0] = 7;
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p), "row 0 group 1 term 0: down is not contiguous");
    t[1] = t[0];
    g[1].in_scale.dtype = LOOM_BF16;
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p), "row 0 group 1: in_scale is not an f32 host tensor");
    g[1].in_scale.dtype = LOOM_F32;
    g[0].terms = NULL;
    T_EXPECT_FAIL(loom_ad_groups_to_device(g, 2, &p), "adapter plan upload: row 0 group 0 has 1 terms but no term array");
    g[0].terms = &t[0];
    T_EXPECT_FAIL(loom_ad_groups_to_device(NULL, 2, &p), "2 groups but no group array");
    T_EXPECT_FAIL(loom_adapter_plans_device_build(NULL, 10, &p), "no host plans");
    T_EXPECT_FAIL(loom_ad_groups_to_device_dtype(g, 2, LOOM_F32, &p), "adapter plan upload: factors as f32; the CUDA "
                                                                     "ops take f16 or bf16");
    T_CHECK(p == NULL, "no object after a failure");

    /* no tensors: no device memory, so this works without a GPU too */
    loom_ad_group empty[3];
    memset(empty, 0, sizeof empty);
    T_OK(loom_ad_groups_to_device(empty, 3, &p));
    T_CHECK(p && loom_adapter_plans_device_n_sets(p) == 3 && loom_adapter_plans_device_bytes(p) == 0,
            "empty groups: %d sets, %zu bytes", loom_adapter_plans_device_n_sets(p), loom_adapter_plans_device_bytes(p));
    const loom_ad_group *r0 = loom_adapter_plans_device_row(p, 0);
    T_CHECK(r0 && r0[2].n_terms == 0 && !r0[2].in_scale.data, "empty groups: row 0");
    T_CHECK(!loom_adapter_plans_device_row(p, 1) && !loom_adapter_plans_device_row(p, -1), "rows out of range");
    loom_adapter_plans_device_free(p);
    loom_adapter_plans_device_free(NULL);

    if (!have_gpu) { /* a plan with tensors needs the device: a clean one-line failure */
        p = (loom_adapter_plans_device *)&sentinel;
        loom_clear_error();
        const loom_status s = loom_ad_groups_to_device(g, 2, &p);
        T_CHECK(s == LOOM_E_DEVICE && p == NULL, "without a GPU: %s (%s)", loom_status_name(s), loom_last_error());
        T_CHECK(strchr(loom_last_error(), '\n') == NULL, "message has a newline");
        return;
    }
    /* with a GPU: the two groups' shared factor is stored once, their vectors kept */
    test_hada_upload();
    T_OK(loom_ad_groups_to_device(g, 2, &p));
    r0 = loom_adapter_plans_device_row(p, 0);
    if (r0) {
        T_CHECK(r0[0].terms[0].down.data == r0[1].terms[0].down.data, "a shared factor was stored twice");
        T_CHECK(r0[0].terms[0].scale == 0.5f && r0[0].terms[0].kind == LOOM_AD_DENSE, "term fields");
        T_CHECK(r0[1].in_scale.dtype == LOOM_F32 && r0[1].in_scale.device == LOOM_CUDA, "vector dtype");
        T_CHECK(loom_adapter_plans_device_bytes(p) == 512, "24 f16 + 6 f32 in two 256-byte slots: %zu",
                loom_adapter_plans_device_bytes(p));
    }
    loom_adapter_plans_device_free(p);
}

/* ---- device half: real plans -------------------------------------------------------------------- */

typedef struct fixture_adapter {
    loom_tfile *tf;
    loom_adapter_src *src;
    loom_adapter a;
    int ok;
} fixture_adapter;

static void open_adapter(fixture_adapter *f, const char *file)
{
    char rel[128];
    memset(f, 0, sizeof *f);
    snprintf(rel, sizeof rel, "inspect/%s", file);
    f->tf = t_open_fixture(rel);
    if (!f->tf) return;
    f->src = calloc((size_t)f->tf->n_tensors + 1, sizeof *f->src);
    for (int i = 0; f->src && i < f->tf->n_tensors; i++) {
        f->src[i].name = f->tf->tensors[i].name;
        T_OK(loom_tfile_tensor(f->tf, &f->tf->tensors[i], &f->src[i].t));
    }
    loom_status s = f->src ? loom_adapter_parse(file, f->src, f->tf->n_tensors, &loom_keymap_sd15, 0, &f->a) : LOOM_E_NOMEM;
    T_CHECK(s == LOOM_OK, "%s: %s", file, loom_last_error());
    f->ok = s == LOOM_OK;
}

static void close_adapter(fixture_adapter *f)
{
    if (f->ok) loom_adapter_free(&f->a);
    free(f->src);
    if (f->tf) loom_tfile_close(f->tf);
}

/* The device tensor holds the host tensor: same shape, dtype `want` (a factor's f16 or bf16, a
 * vector's f32), bits (a factor's = loom_f32_to_f16 / loom_f32_to_bf16 of the host values). */
static int same_tensor(const loom_tensor *h, const loom_tensor *d, loom_dtype want)
{
    if (!h->data || !d->data) return !h->data && !d->data;
    const int factor = want != LOOM_F32;
    if (d->dtype != want || d->device != LOOM_CUDA || d->ndim != h->ndim) return 0;
    for (int k = 0; k < h->ndim; k++)
        if (d->shape[k] != h->shape[k]) return 0;
    const int64_t n = loom_tensor_numel(h);
    unsigned char *b = malloc(loom_tensor_nbytes(d) + 4);
    int same = b && loom_device_download(b, d->data, loom_tensor_nbytes(d)) == LOOM_OK;
    const float *hv = h->data;
    for (int64_t i = 0; same && i < n; i++) {
        if (factor)
            same = ((const uint16_t *)b)[i] == (want == LOOM_BF16 ? loom_f32_to_bf16(hv[i]) : loom_f32_to_f16(hv[i]));
        else same = !memcmp(b + 4 * i, &hv[i], 4);
    }
    free(b);
    return same;
}

/* fdt: the factors' device dtype (the build's) */
static void check_rows(const loom_adapter_plans *hp, const loom_adapter_plans_device *dp, int n_rows, loom_dtype fdt,
                       int *n_terms, int *n_shared)
{
    const loom_dtype v = LOOM_F32;
    for (int r = 0; r < n_rows; r++) {
        const loom_ad_group *h = loom_adapter_plans_row(hp, r), *d = loom_adapter_plans_device_row(dp, r);
        T_CHECK(!h == !d, "row %d: host %p device %p", r, (const void *)h, (const void *)d);
        for (int s = 0; h && d && s < loom_adapter_plans_n_sets(hp); s++) {
            T_CHECK(h[s].n_terms == d[s].n_terms, "row %d set %d: n_terms", r, s);
            T_CHECK(same_tensor(&h[s].in_scale, &d[s].in_scale, v) &&
                        same_tensor(&h[s].out_scale, &d[s].out_scale, v) && same_tensor(&h[s].bias_add, &d[s].bias_add, v),
                    "row %d set %d: vectors", r, s);
            for (int k = 0; k < h[s].n_terms && k < d[s].n_terms; k++) {
                const loom_ad_term *ht = &h[s].terms[k], *dt = &d[s].terms[k];
                T_CHECK(ht->kind == dt->kind && ht->scale == dt->scale, "row %d set %d term %d: kind/scale", r, s, k);
                T_CHECK(same_tensor(&ht->down, &dt->down, fdt) && same_tensor(&ht->up, &dt->up, fdt) &&
                            same_tensor(&ht->down2, &dt->down2, fdt) && same_tensor(&ht->up2, &dt->up2, fdt),
                        "row %d set %d term %d: %s factors", r, s, k, loom_dtype_name(fdt));
                T_CHECK(same_tensor(&ht->in_scale, &dt->in_scale, v) && same_tensor(&ht->out_scale, &dt->out_scale, v),
                        "row %d set %d term %d: vectors", r, s, k);
                ++*n_terms;
                for (int k2 = 0; s == 1 && k2 < h[0].n_terms; k2++) /* set 0 holds the same module */
                    if (h[0].terms[k2].down.data == ht->down.data) {
                        T_CHECK(d[0].terms[k2].down.data == dt->down.data, "row %d: a shared factor stored twice", r);
                        ++*n_shared;
                    }
            }
        }
    }
}

/* ---- LoHa/LoKr ΔWs of the real plans --------------------------------------------------------- */

/* t's present factor rounded to f16 values, as the upload rounds it (owned; NULL when absent). */
static float *rounded(const loom_tensor *t)
{
    if (!t->data) return NULL;
    const int64_t n = loom_tensor_numel(t);
    float *r = malloc((size_t)n * sizeof *r + 4);
    for (int64_t i = 0; r && i < n; i++) r[i] = loom_f16_to_f32(loom_f32_to_f16(((const float *)t->data)[i]));
    return r;
}

/* The ΔW [O, K] of host term t as adapter_plan.h defines it, in double from its f16-rounded
 * factors, each element rounded to f32 once (owned). */
static float *plan_delta(const loom_ad_term *t, const loom_ad_dense_shape *s)
{
    float *dw = malloc((size_t)(s->o * s->k) * sizeof *dw + 4);
    float *d1 = rounded(&t->down), *u1 = rounded(&t->up), *d2 = rounded(&t->down2), *u2 = rounded(&t->up2);
    const int64_t k = s->k;
    if (!dw || !d1 || !u1 || (t->kind == LOOM_AD_HADA && (!d2 || !u2))) {
        free(dw);
        dw = NULL;
    } else if (t->kind == LOOM_AD_HADA) { /* (up·down) ⊙ (up2·down2) */
        const int64_t r1 = t->down.shape[0], r2 = t->down2.shape[0];
        for (int64_t o = 0; o < s->o; o++)
            for (int64_t e = 0; e < k; e++) {
                double a = 0, b = 0;
                for (int64_t j = 0; j < r1; j++) a += (double)u1[o * r1 + j] * d1[j * k + e];
                for (int64_t j = 0; j < r2; j++) b += (double)u2[o * r2 + j] * d2[j * k + e];
                dw[o * k + e] = (float)(a * b);
            }
    } else { /* KRON: ΔW[o1·b + o2, pq, i1·d + i2] = W1[o1, i1]·W2[o2, pq, i2], W1 [a, c], W2 [b, kk, d] */
        const int64_t c = t->down.shape[1], b = t->up.shape[0], d = t->up.shape[t->up.ndim - 1];
        for (int64_t o = 0; o < s->o; o++)
            for (int64_t pq = 0; pq < s->kk; pq++)
                for (int64_t i = 0; i < s->in; i++)
                    dw[o * k + pq * s->in + i] =
                        (float)((double)d1[(o / b) * c + i / d] * u1[((o % b) * s->kk + pq) * d + i % d]);
    }
    free(d1), free(u1), free(d2), free(u2);
    return dw;
}

/* The parsed module of adapter `a` on key-table row r, or NULL. */
static const loom_adapter_module *module_on(const loom_adapter *a, int r)
{
    for (int i = 0; i < a->n_modules; i++)
        if (a->modules[i].target == &loom_keymap_sd15.rows[r]) return &a->modules[i];
    return NULL;
}

/* rel L2 of ref_plan·scale (plan layout [O, kh·kw·I]) against the CPU reference s·ΔW of module m
 * (adapters/adapter_delta.c: PyTorch layout [O, I, kh, kw]), or a negative value on failure. */
static double chain_error(const loom_adapter_module *m, const float *ref_plan)
{
    const loom_keymap_row *row = m->target;
    const int64_t o = row->shape[0], in = row->shape[1], kh = row->shape[2], kw = row->shape[3], k = kh * kw * in;
    float *pt = malloc((size_t)(o * k) * sizeof *pt + 4), *ours = malloc((size_t)(o * k) * sizeof *ours + 4);
    double e = -1;
    if (pt && ours && loom_adapter_module_numel(m) == o * k && loom_adapter_module_delta(m, pt) == LOOM_OK) {
        for (int64_t oo = 0; oo < o; oo++)
            for (int64_t i = 0; i < in; i++)
                for (int64_t p = 0; p < kh * kw; p++)
                    ours[(oo * in + i) * kh * kw + p] = ref_plan[oo * k + p * in + i] * m->scale;
        e = t_rel_l2(ours, pt, o * k);
    }
    free(pt), free(ours);
    return e;
}

typedef struct delta_counts {
    int hada, kron, on_device, shared;
    double chain_max, hada_max;
} delta_counts;

/* Device term dt holds ref (the test's ΔW of its host term, shape ds) as its `dense`. */
static void check_device_delta(const loom_ad_term *dt, const float *ref, const loom_ad_dense_shape *ds,
                               const char *what, delta_counts *n)
{
    const loom_tensor *dw = &dt->dense;
    if (!dw->data || dw->dtype != LOOM_F32 || dw->device != LOOM_CUDA || dw->ndim != 2 || dw->shape[0] != ds->o ||
        dw->shape[1] != ds->k) {
        T_CHECK(0, "%s: no f32 device ΔW [%lld, %lld]", what, (long long)ds->o, (long long)ds->k);
        return;
    }
    const int64_t n_el = ds->o * ds->k;
    float *got = malloc((size_t)n_el * sizeof *got + 4);
    if (got && loom_device_download(got, dw->data, (size_t)n_el * sizeof *got) == LOOM_OK) {
        if (dt->kind == LOOM_AD_KRON) {
            int64_t bad = 0;
            for (int64_t i = 0; i < n_el; i++) bad += got[i] != ref[i];
            T_CHECK(bad == 0, "%s: LoKr ΔW differs from the exact products in %lld elements", what, (long long)bad);
        } else {
            const double e = t_rel_l2(got, ref, n_el);
            if (e > n->hada_max) n->hada_max = e;
            T_CHECK(e <= HADA_TOL, "%s: LoHa ΔW rel L2 %.3e > %g", what, e, HADA_TOL);
        }
        n->on_device++;
    } else {
        T_CHECK(0, "%s: cannot download the ΔW", what);
    }
    free(got);
}

/* Every HADA/KRON term of the host plans (and, with dp, of the device plans). */
static void check_deltas(const loom_adapter_plans *hp, const loom_adapter_plans_device *dp, const loom_adapter *loha,
                         const loom_adapter *lokr, delta_counts *n)
{
    char what[96];
    for (int r = 0; r < loom_keymap_sd15.n_rows; r++) {
        const loom_ad_group *h = loom_adapter_plans_row(hp, r), *d = dp ? loom_adapter_plans_device_row(dp, r) : NULL;
        for (int s = 0; h && s < loom_adapter_plans_n_sets(hp); s++)
            for (int k = 0; k < h[s].n_terms; k++) {
                const loom_ad_term *ht = &h[s].terms[k], *dt = d ? &d[s].terms[k] : NULL;
                snprintf(what, sizeof what, "row %d set %d term %d (%s)", r, s, k, loom_ad_kind_name(ht->kind));
                T_CHECK(!ht->dense.data, "%s: a host plan with a dense ΔW", what);
                if (ht->kind != LOOM_AD_HADA && ht->kind != LOOM_AD_KRON) {
                    T_CHECK(!dt || !dt->dense.data, "%s: a dense ΔW on this kind", what);
                    continue;
                }
                const loom_keymap_row *row = &loom_keymap_sd15.rows[r];
                loom_ad_dense_shape ds;
                T_OK(loom_ad_term_dense_shape(ht, what, &ds));
                T_CHECK(ds.o == row->shape[0] && ds.k == loom_keymap_cols(row), "%s: ΔW [%lld, %lld], row %s", what,
                        (long long)ds.o, (long long)ds.k, row->kohya);
                if (ds.o != row->shape[0] || ds.k != loom_keymap_cols(row)) continue;
                ++*(ht->kind == LOOM_AD_HADA ? &n->hada : &n->kron);
                float *ref = plan_delta(ht, &ds);
                const loom_adapter_module *m = module_on(ht->kind == LOOM_AD_HADA ? loha : lokr, r);
                T_CHECK(ref && m, "%s: no reference (module %p)", what, (const void *)m);
                if (!ref || !m) {
                    free(ref);
                    continue;
                }
                const double e = chain_error(m, ref);
                if (e > n->chain_max) n->chain_max = e;
                T_CHECK(e >= 0 && e <= CHAIN_TOL, "%s: the test's ΔW vs the CPU reference s·ΔW: rel L2 %.3e (> %g)",
                        what, e, CHAIN_TOL);
                if (dt) {
                    check_device_delta(dt, ref, &ds, what, n);
                    for (int s2 = 0; s2 < s; s2++) /* the same module in an earlier set: the same ΔW */
                        for (int k2 = 0; k2 < d[s2].n_terms; k2++)
                            if (d[s2].terms[k2].kind == dt->kind && d[s2].terms[k2].down.data == dt->down.data) {
                                T_CHECK(d[s2].terms[k2].dense.data == dt->dense.data, "%s: a shared ΔW built twice",
                                        what);
                                n->shared++;
                            }
                }
                free(ref);
            }
    }
}

static void test_real_plans(int have_gpu)
{
    static const char *const files[4] = {"loha_sd15.safetensors", "lokr_sd15.safetensors", "full_sd15.safetensors",
                                         "ia3_sd15.safetensors"};
    fixture_adapter f[4];
    int ok = 1;
    for (int i = 0; i < 4; i++) open_adapter(&f[i], files[i]), ok &= f[i].ok;
    if (ok) {
        /* set 0: LoHa and IA³; set 1: LoHa again (shared factors), LoKr, full */
        const loom_adapter_use u0[2] = {{&f[0].a, 1.0f, 1.0f}, {&f[3].a, 0.5f, 0.5f}};
        const loom_adapter_use u1[3] = {{&f[0].a, 0.7f, 0.7f}, {&f[1].a, 1.0f, 1.0f}, {&f[2].a, 0.8f, 0.8f}};
        const loom_adapter_set sets[2] = {{2, u0}, {3, u1}};
        loom_adapter_plans *hp = NULL;
        loom_adapter_plans_device *dp = NULL;
        T_OK(loom_adapter_plans_build(&loom_keymap_sd15, sets, 2, NULL, NULL, &hp));
        const loom_status s = hp ? loom_adapter_plans_device_build(hp, loom_keymap_sd15.n_rows, &dp) : LOOM_E_INVALID;
        delta_counts dn;
        memset(&dn, 0, sizeof dn);
        if (hp) check_deltas(hp, dp, &f[0].a, &f[1].a, &dn);
        printf("LoHa/LoKr ΔWs: %d hada, %d kron terms; the test's ΔW vs the CPU reference: rel L2 <= %.2e; "
               "%d on the device (LoHa rel L2 <= %.2e, LoKr exact), %d shared\n", dn.hada, dn.kron, dn.chain_max,
               dn.on_device, dn.hada_max, dn.shared);
        T_CHECK(dn.hada >= 10 && dn.kron >= 4, "checked %d hada and %d kron terms", dn.hada, dn.kron);
        if (!have_gpu) {
            T_CHECK(s == LOOM_E_DEVICE && !dp, "real plans without a GPU: %s (%s)", loom_status_name(s), loom_last_error());
        } else {
            T_CHECK(dn.on_device == dn.hada + dn.kron && dn.shared >= 2, "ΔWs checked on the device: %d, shared: %d",
                    dn.on_device, dn.shared);
            T_CHECK(s == LOOM_OK, "device build: %s", loom_last_error());
            int n_terms = 0, n_shared = 0;
            if (dp) {
                T_CHECK(loom_adapter_plans_device_n_sets(dp) == 2 && loom_adapter_plans_device_bytes(dp) > 0, "sets/bytes");
                check_rows(hp, dp, loom_keymap_sd15.n_rows, LOOM_F16, &n_terms, &n_shared);
            }
            printf("device plans: %d terms, %d shared factors, %zu device bytes\n", n_terms, n_shared,
                   loom_adapter_plans_device_bytes(dp));
            T_CHECK(n_terms >= 10 && n_shared >= 2, "checked %d terms, %d shared", n_terms, n_shared);
            /* the same plans with bf16 factors (--dtype bf16): bits = loom_f32_to_bf16 of the host's */
            loom_adapter_plans_device *bp = NULL;
            T_OK(loom_adapter_plans_device_build_dtype(hp, loom_keymap_sd15.n_rows, LOOM_BF16, &bp));
            int bt = 0, bs = 0;
            if (bp) check_rows(hp, bp, loom_keymap_sd15.n_rows, LOOM_BF16, &bt, &bs);
            T_CHECK(bt == n_terms && bs == n_shared, "bf16 plans: %d terms, %d shared (f16: %d, %d)", bt, bs, n_terms,
                    n_shared);
            loom_adapter_plans_device_free(bp);
        }
        loom_adapter_plans_device_free(dp);
        loom_adapter_plans_free(hp);
    }
    for (int i = 0; i < 4; i++) close_adapter(&f[i]);
}

int main(void)
{
    char desc[256] = "", why[512];
    const int have_gpu = loom_cuda_probe(0, desc, sizeof desc) == LOOM_OK;
    snprintf(why, sizeof why, "no usable GPU: %s", have_gpu ? "" : loom_last_error());
    test_dense_shape();
    test_host_checks(have_gpu);
    test_real_plans(have_gpu);
    if (!have_gpu && !t_failures) {
        printf("host half: %d checks passed\n", t_checks);
        t_skip(why);
    }
    return t_finish("test_plan_device");
}
