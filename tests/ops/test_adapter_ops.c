/* test_adapter_ops.c — the CPU backend's live adapters (linear_adapted, conv2d_adapted) against
 * PyTorch float64 references (tests/fixtures/ops/adapter_ops.safetensors, written by
 * scripts/gen_fixtures_adapter_ops.py with every ΔW formed densely).
 *
 * Per case (a linear or an NHWC conv with a batch mixing adapter groups and the plain op):
 *   - every sample matches the reference, relative L2 ≤ TOL, with no element left unwritten;
 *   - a sample without a group, or with an empty one, and a NULL or empty plan give the plain
 *     op's bits exactly;
 *   - each sample run alone (batch 1) gives the bits it gets in the mixed batch;
 *   - y aliasing the residual (accumulate in place) gives the same bits.
 * Then bad plans (shapes, indices, batch, vector lengths, kinds, dtypes) fail with LOOM_E_INVALID,
 * a one-line message naming the op and the problem, and an untouched y. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_cases.h"
#include "ops.h"
#include "testlib.h"

/* f32 with f32 GEMMs against float64: ~1e-7; a dropped term or a layout bug: > 1e-2 */
#define TOL 1e-5
#define MAX_BATCH FX_MAX_BATCH

static loom_status run_adapted(const fx_case *c, const loom_tensor *x, const loom_tensor *res, loom_tensor *y,
                               const loom_ad_plan *plan)
{
    const loom_tensor *b = c->bias.data ? &c->bias : NULL;
    if (c->is_conv) return loom_ops_cpu.conv2d_adapted(x, &c->w, b, res, y, &c->p, plan);
    return loom_ops_cpu.linear_adapted(x, &c->w, b, res, y, plan);
}

static loom_status run_plain(const fx_case *c, loom_tensor *y)
{
    const loom_tensor *b = c->bias.data ? &c->bias : NULL, *r = c->residual.data ? &c->residual : NULL;
    if (c->is_conv) return loom_ops_cpu.conv2d(&c->x, &c->w, b, r, y, &c->p);
    return loom_ops_cpu.linear(&c->x, &c->w, b, r, y);
}

static loom_ad_plan plan_of(const fx_case *c) { return fx_plan_of(c); }

/* A tensor shaped like y_ref over a fresh buffer filled with `fill`. */
static loom_tensor out_like(const fx_case *c, float fill)
{
    const int64_t n = loom_tensor_numel(&c->y_ref);
    float *d = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; d && i < n; i++) d[i] = fill;
    return loom_tensor_view(d, LOOM_F32, c->y_ref.ndim, c->y_ref.shape);
}

static loom_tensor sample(const loom_tensor *t, int batch, int i) { return fx_sample(t, batch, i); }

static int same_bits(const loom_tensor *a, const loom_tensor *b)
{
    return loom_tensor_numel(a) == loom_tensor_numel(b) &&
           memcmp(a->data, b->data, (size_t)loom_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_case_values(fx_case *c)
{
    const loom_tensor *res = c->residual.data ? &c->residual : NULL;
    const loom_ad_plan plan = plan_of(c);
    loom_tensor y = out_like(c, NAN), yp = out_like(c, NAN);
    T_OK(run_adapted(c, &c->x, res, &y, &plan));
    T_OK(run_plain(c, &yp));
    T_CHECK(t_count_nonfinite(y.data, loom_tensor_numel(&y)) == 0, "%s: output has NaN/Inf (unwritten?)", c->name);
    for (int i = 0; i < c->batch; i++) {
        loom_tensor yi = sample(&y, c->batch, i), ri = sample(&c->y_ref, c->batch, i), pi = sample(&yp, c->batch, i);
        const int64_t n = loom_tensor_numel(&yi);
        const double err = t_rel_l2(yi.data, ri.data, n), plain = t_rel_l2(pi.data, ri.data, n);
        printf("%-11s sample %d group %2d  rel L2 %.2e  (plain op: %.2e)\n", c->name, i, c->group_of[i], err, plain);
        T_CHECK(err <= TOL, "%s sample %d (group %d): rel L2 %.3e > %g", c->name, i, c->group_of[i], err, TOL);
        if (c->group_of[i] < 0) T_CHECK(same_bits(&yi, &pi), "%s sample %d: not the plain op's bits", c->name, i);
        else T_CHECK(plain > 100 * TOL, "%s sample %d: the adapters change nothing (%.2e)", c->name, i, plain);

        /* alone, as a batch of one */
        loom_tensor xi = sample(&c->x, c->batch, i), rsi = res ? sample(res, c->batch, i) : xi;
        loom_tensor y1 = out_like(c, NAN);
        loom_tensor y1i = sample(&y1, c->batch, i);
        const loom_ad_plan one = {1, &c->group_of[i], c->n_groups, c->groups};
        T_OK(run_adapted(c, &xi, res ? &rsi : NULL, &y1i, &one));
        T_CHECK(same_bits(&y1i, &yi), "%s sample %d: alone != in the mixed batch", c->name, i);
        free(y1.data);
    }

    /* NULL plan, all samples plain, all samples on an empty group: the plain op's bits */
    loom_tensor y2 = out_like(c, NAN);
    T_OK(run_adapted(c, &c->x, res, &y2, NULL));
    T_CHECK(same_bits(&y2, &yp), "%s: NULL plan != plain op", c->name);
    int none[MAX_BATCH], empty[MAX_BATCH], mixed[MAX_BATCH];
    const int eg = c->n_groups; /* the empty group, appended */
    memset(&c->groups[eg], 0, sizeof c->groups[eg]);
    for (int i = 0; i < c->batch; i++) none[i] = -1, empty[i] = eg, mixed[i] = i == 0 ? eg : c->group_of[i];
    loom_ad_plan p_none = {c->batch, none, c->n_groups, c->groups}, p_empty = {c->batch, empty, eg + 1, c->groups};
    T_CHECK(loom_ad_plan_is_empty(&p_none) && loom_ad_plan_is_empty(&p_empty), "%s: is_empty", c->name);
    T_OK(run_adapted(c, &c->x, res, &y2, &p_none));
    T_CHECK(same_bits(&y2, &yp), "%s: all-plain plan != plain op", c->name);
    T_OK(run_adapted(c, &c->x, res, &y2, &p_empty));
    T_CHECK(same_bits(&y2, &yp), "%s: empty-group plan != plain op", c->name);
    loom_ad_plan p_mixed = {c->batch, mixed, eg + 1, c->groups};
    T_OK(run_adapted(c, &c->x, res, &y2, &p_mixed));
    loom_tensor s0 = sample(&y2, c->batch, 0), p0 = sample(&yp, c->batch, 0);
    T_CHECK(same_bits(&s0, &p0), "%s: a sample on an empty group among adapted ones != plain op", c->name);
    for (int i = 1; i < c->batch; i++) {
        loom_tensor a = sample(&y2, c->batch, i), b = sample(&y, c->batch, i);
        T_CHECK(same_bits(&a, &b), "%s sample %d: changed by its neighbour's group", c->name, i);
    }

    /* y == residual: accumulate in place */
    if (res) {
        loom_tensor acc = out_like(c, 0.0f);
        memcpy(acc.data, res->data, (size_t)loom_tensor_numel(res) * sizeof(float));
        T_OK(run_adapted(c, &c->x, &acc, &acc, &plan));
        T_CHECK(same_bits(&acc, &y), "%s: y aliasing residual != separate y", c->name);
        free(acc.data);
    }
    free(y.data);
    free(yp.data);
    free(y2.data);
}

/* The call fails with LOOM_E_INVALID, a one-line message holding `want`, and y untouched. */
static void expect_invalid(const fx_case *c, const loom_ad_plan *plan, const char *want)
{
    loom_tensor y = out_like(c, 7.0f);
    loom_clear_error();
    const loom_status s = run_adapted(c, &c->x, c->residual.data ? &c->residual : NULL, &y, plan);
    const char *m = loom_last_error();
    T_CHECK(s == LOOM_E_INVALID, "%s: \"%s\": got %s (%s)", c->name, want, loom_status_name(s), m);
    T_CHECK(strstr(m, want) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name, m, want);
    T_CHECK(strchr(m, '\n') == NULL, "%s: message has a newline", c->name);
    int untouched = 1;
    for (int64_t i = 0; i < loom_tensor_numel(&y); i++) untouched &= ((float *)y.data)[i] == 7.0f;
    T_CHECK(untouched, "%s: a refused call wrote y (%s)", c->name, want);
    free(y.data);
}

/* t with dim `dim` set to `extent`, over the same data (only the checks look at it). */
static loom_tensor reshaped(const loom_tensor *t, int dim, int64_t extent)
{
    int64_t s[LOOM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) s[d] = t->shape[d];
    s[dim] = extent;
    return loom_tensor_view(t->data, LOOM_F32, t->ndim, s);
}

/* Bad plans on case c, whose group 0 holds terms lowrank, hada, kron, dense (in that order). */
static void test_bad_plans(fx_case *c, const char *op)
{
    char want[160];
    loom_ad_plan p = plan_of(c);
    loom_ad_group *g0 = &c->groups[0];
    loom_ad_term *t = c->terms[0];
    const loom_ad_term saved[4] = {t[0], t[1], t[2], t[3]};
    const loom_ad_group saved_g = *g0;

    p.batch = c->batch - 1;
    snprintf(want, sizeof want, "%s: the plan has %d samples but x has %d", op, c->batch - 1, c->batch);
    expect_invalid(c, &p, want);
    p = plan_of(c);
    const int g_saved = c->group_of[0];
    c->group_of[0] = c->n_groups;
    snprintf(want, sizeof want, "%s: sample 0 uses group %d but the plan has %d groups", op, c->n_groups, c->n_groups);
    expect_invalid(c, &p, want);
    c->group_of[0] = g_saved;
    p.group_of = NULL;
    expect_invalid(c, &p, "no group_of array");
    p = plan_of(c);

    const int64_t in = c->w.shape[c->w.ndim - 1], o = c->w.shape[0];
    g0->in_scale = reshaped(&g0->in_scale, 0, in - 1);
    snprintf(want, sizeof want, "%s: group 0: in_scale is [%lld] but should be [%lld]", op, (long long)in - 1,
             (long long)in);
    expect_invalid(c, &p, want);
    *g0 = saved_g;
    g0->bias_add = reshaped(&g0->bias_add, 0, o + 1);
    expect_invalid(c, &p, "group 0: bias_add is");
    *g0 = saved_g;
    t[0].out_scale = reshaped(&t[0].out_scale, 0, o - 1);
    expect_invalid(c, &p, "group 0 term 0 (lowrank): out_scale is");
    t[0] = saved[0];

    t[0].down = reshaped(&t[0].down, t[0].down.ndim - 1, in - 1); /* wrong input width */
    snprintf(want, sizeof want, "%s: group 0 term 0 (lowrank): down is", op);
    expect_invalid(c, &p, want);
    t[0] = saved[0];
    t[0].up = reshaped(&t[0].up, 1, t[0].up.shape[1] - 1); /* rank mismatch */
    expect_invalid(c, &p, "group 0 term 0 (lowrank): up is");
    t[0] = saved[0];
    memset(&t[0].up, 0, sizeof t[0].up);
    expect_invalid(c, &p, "group 0 term 0 (lowrank): up is missing");
    t[0] = saved[0];
    t[0].down2 = t[1].down2;
    expect_invalid(c, &p, "group 0 term 0 (lowrank): down2 must be empty");
    t[0] = saved[0];
    t[0].down.dtype = LOOM_F16;
    expect_invalid(c, &p, "down: the CPU backend computes in f32; got f16");
    t[0] = saved[0];
    t[0].scale = NAN;
    expect_invalid(c, &p, "group 0 term 0 (lowrank): scale nan is not finite");
    t[0] = saved[0];

    memset(&t[1].down2, 0, sizeof t[1].down2);
    expect_invalid(c, &p, "group 0 term 1 (hada): down2 is missing");
    t[1] = saved[1];
    t[1].up2 = reshaped(&t[1].up2, 0, o - 1);
    expect_invalid(c, &p, "group 0 term 1 (hada): up2 is");
    t[1] = saved[1];

    t[2].down = reshaped(&t[2].down, 0, t[2].down.shape[0] + 2); /* a no longer divides O (20, 12) */
    expect_invalid(c, &p, "group 0 term 2 (kron): down");
    t[2] = saved[2];
    t[2].up = reshaped(&t[2].up, 0, t[2].up.shape[0] + 1); /* b·a != O */
    expect_invalid(c, &p, "group 0 term 2 (kron): up is");
    t[2] = saved[2];

    t[3].down = reshaped(&t[3].down, 0, o - 1);
    expect_invalid(c, &p, "group 0 term 3 (dense): down is");
    t[3] = saved[3];
    t[3].kind = LOOM_AD_KIND_COUNT;
    expect_invalid(c, &p, "group 0 term 3 (?): unknown term kind");
    t[3] = saved[3];

    /* y over a factor's memory */
    loom_tensor y = out_like(c, 0.0f), yd = t[3].down;
    if (loom_tensor_numel(&yd) >= loom_tensor_numel(&y)) {
        yd = loom_tensor_view(t[3].down.data, LOOM_F32, c->y_ref.ndim, c->y_ref.shape);
        loom_clear_error();
        const loom_status s = run_adapted(c, &c->x, NULL, &yd, &p);
        T_CHECK(s == LOOM_E_INVALID && strstr(loom_last_error(), "y overlaps group 0 term 3 (dense): down"),
                "%s: y over a factor: %s", c->name, loom_last_error());
    }
    free(y.data);

    /* the restored plan runs again */
    loom_tensor yok = out_like(c, NAN);
    T_OK(run_adapted(c, &c->x, c->residual.data ? &c->residual : NULL, &yok, &p));
    free(yok.data);
}

static void test_plan_helpers(void)
{
    T_CHECK(!strcmp(loom_ad_kind_name(LOOM_AD_LOWRANK), "lowrank") && !strcmp(loom_ad_kind_name(LOOM_AD_HADA), "hada") &&
                !strcmp(loom_ad_kind_name(LOOM_AD_KRON), "kron") && !strcmp(loom_ad_kind_name(LOOM_AD_DENSE), "dense"),
            "kind names");
    T_CHECK(!strcmp(loom_ad_kind_name(LOOM_AD_KIND_COUNT), "?"), "unknown kind name");
    loom_ad_term term;
    memset(&term, 0, sizeof term);
    loom_ad_group groups[2];
    memset(groups, 0, sizeof groups);
    groups[1].n_terms = 1, groups[1].terms = &term;
    int gof[3] = {-1, 0, -1};
    loom_ad_plan p = {3, gof, 2, groups};
    T_CHECK(loom_ad_plan_is_empty(NULL), "NULL plan is empty");
    T_CHECK(loom_ad_plan_is_empty(&p), "only an empty group: empty");
    gof[2] = 1;
    T_CHECK(!loom_ad_plan_is_empty(&p), "a group with a term: not empty");
    gof[2] = 2;
    T_CHECK(!loom_ad_plan_is_empty(&p), "an out-of-range group: not empty (the op reports it)");
    gof[2] = -1;
    float v = 1.0f;
    groups[0].out_scale = loom_tensor_view(&v, LOOM_F32, 1, (const int64_t[]){1});
    T_CHECK(!loom_ad_plan_is_empty(&p), "a group with out_scale: not empty");
    p.group_of = NULL;
    T_CHECK(!loom_ad_plan_is_empty(&p), "no group_of: not empty (the op reports it)");
}

int main(void)
{
    test_plan_helpers();
    loom_tfile *tf = t_open_fixture("ops/adapter_ops.safetensors");
    if (!tf) return t_finish("test_adapter_ops");
    json_t *root = NULL, *cases = fx_cases(tf, &root);
    T_CHECK(cases && json_array_size(cases) >= 5, "fixture metadata has no cases");
    int n_bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        fx_case *c = calloc(1, sizeof *c);
        if (c && fx_load_case(c, tf, json_array_get(cases, i))) {
            test_case_values(c);
            if (c->n_groups && c->groups[0].n_terms == 4 && c->terms[0][0].kind == LOOM_AD_LOWRANK &&
                c->terms[0][3].kind == LOOM_AD_DENSE && c->batch > 1) {
                test_bad_plans(c, c->is_conv ? "conv2d_adapted" : "linear_adapted");
                n_bad++;
            }
        }
        if (c) fx_free_case(c);
        free(c);
    }
    T_CHECK(n_bad >= 2, "bad-plan checks ran on %d cases", n_bad);
    json_decref(root);
    loom_tfile_close(tf);
    return t_finish("test_adapter_ops");
}
