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
 * a factor shared by the two sets stored once. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "plan_device.h"
#include "testlib.h"

/* ---- host half ---------------------------------------------------------------------------------- */

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

/* The device tensor holds the host tensor: same shape, dtype f16 (factor) or f32 (vector), bits. */
static int same_tensor(const loom_tensor *h, const loom_tensor *d, int factor)
{
    if (!h->data || !d->data) return !h->data && !d->data;
    if (d->dtype != (factor ? LOOM_F16 : LOOM_F32) || d->device != LOOM_CUDA || d->ndim != h->ndim) return 0;
    for (int k = 0; k < h->ndim; k++)
        if (d->shape[k] != h->shape[k]) return 0;
    const int64_t n = loom_tensor_numel(h);
    unsigned char *b = malloc(loom_tensor_nbytes(d) + 4);
    int same = b && loom_device_download(b, d->data, loom_tensor_nbytes(d)) == LOOM_OK;
    const float *hv = h->data;
    for (int64_t i = 0; same && i < n; i++) {
        if (factor) same = ((const uint16_t *)b)[i] == loom_f32_to_f16(hv[i]);
        else same = !memcmp(b + 4 * i, &hv[i], 4);
    }
    free(b);
    return same;
}

static void check_rows(const loom_adapter_plans *hp, const loom_adapter_plans_device *dp, int n_rows, int *n_terms,
                       int *n_shared)
{
    for (int r = 0; r < n_rows; r++) {
        const loom_ad_group *h = loom_adapter_plans_row(hp, r), *d = loom_adapter_plans_device_row(dp, r);
        T_CHECK(!h == !d, "row %d: host %p device %p", r, (const void *)h, (const void *)d);
        for (int s = 0; h && d && s < loom_adapter_plans_n_sets(hp); s++) {
            T_CHECK(h[s].n_terms == d[s].n_terms, "row %d set %d: n_terms", r, s);
            T_CHECK(same_tensor(&h[s].in_scale, &d[s].in_scale, 0) && same_tensor(&h[s].out_scale, &d[s].out_scale, 0) &&
                        same_tensor(&h[s].bias_add, &d[s].bias_add, 0),
                    "row %d set %d: vectors", r, s);
            for (int k = 0; k < h[s].n_terms && k < d[s].n_terms; k++) {
                const loom_ad_term *ht = &h[s].terms[k], *dt = &d[s].terms[k];
                T_CHECK(ht->kind == dt->kind && ht->scale == dt->scale, "row %d set %d term %d: kind/scale", r, s, k);
                T_CHECK(same_tensor(&ht->down, &dt->down, 1) && same_tensor(&ht->up, &dt->up, 1) &&
                            same_tensor(&ht->down2, &dt->down2, 1) && same_tensor(&ht->up2, &dt->up2, 1),
                        "row %d set %d term %d: factors", r, s, k);
                T_CHECK(same_tensor(&ht->in_scale, &dt->in_scale, 0) && same_tensor(&ht->out_scale, &dt->out_scale, 0),
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
        if (!have_gpu) {
            T_CHECK(s == LOOM_E_DEVICE && !dp, "real plans without a GPU: %s (%s)", loom_status_name(s), loom_last_error());
        } else {
            T_CHECK(s == LOOM_OK, "device build: %s", loom_last_error());
            int n_terms = 0, n_shared = 0;
            if (dp) {
                T_CHECK(loom_adapter_plans_device_n_sets(dp) == 2 && loom_adapter_plans_device_bytes(dp) > 0, "sets/bytes");
                check_rows(hp, dp, loom_keymap_sd15.n_rows, &n_terms, &n_shared);
            }
            printf("device plans: %d terms, %d shared factors, %zu device bytes\n", n_terms, n_shared,
                   loom_adapter_plans_device_bytes(dp));
            T_CHECK(n_terms >= 10 && n_shared >= 2, "checked %d terms, %d shared", n_terms, n_shared);
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
    test_host_checks(have_gpu);
    test_real_plans(have_gpu);
    if (!have_gpu && !t_failures) {
        printf("host half: %d checks passed\n", t_checks);
        t_skip(why);
    }
    return t_finish("test_plan_device");
}
