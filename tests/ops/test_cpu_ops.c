/* test_cpu_ops.c — every op of loom_ops_cpu against PyTorch float64
 * references (tests/fixtures/ops/<op>.safetensors, scripts/gen_fixtures.py ops).
 *
 * For each case the inputs come from the fixture (small cases) or from the
 * fixtures' PRNG (fixture_rng.c, large cases, SD's real shapes); the op runs
 * on an output pre-filled with NaN and followed by guard values; then:
 * relative L2 error ≤ TOL over the whole output or over the fixture's sampled
 * indices, no NaN/Inf anywhere in the output (so no element was left
 * unwritten), guards untouched. Prints per case: op, case, shape, rel L2,
 * max abs error and the error as a percentage of the tolerance.
 *
 *   test_cpu_ops [op]     # only one op's fixture, e.g. test_cpu_ops attention */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_rng.h"
#include "ops.h"
#include "testlib.h"

/* Relative L2 error against the float64 reference, rounded to f32. Ops in
 * f32 with double statistics land at 1e-7..1e-6 here; a layout or indexing
 * bug lands at ~1. */
#define TOL 1e-5
#define MAX_INPUTS 6
#define GUARD 16
#define GUARD_VALUE 1234.5f

static const char *const op_names[] = {"linear", "conv2d", "group_norm", "layer_norm", "attention",
                                       "geglu", "unary", "add", "mul", "concat", "upsample2x",
                                       "timestep_embedding", "softmax", "attention_causal"};
#define N_OPS ((int)(sizeof op_names / sizeof op_names[0]))

typedef struct test_case {
    const loom_tfile *tf;
    const char *op, *name;
    json_t *params;
    int n_in;
    const char *in_name[MAX_INPUTS];
    loom_tensor in[MAX_INPUTS];
} test_case;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A JSON shape array → dims; 0 on a malformed shape. */
static int json_shape(json_t *a, int *ndim, int64_t *shape)
{
    if (!json_is_array(a) || json_array_size(a) > LOOM_MAX_DIMS) return 0;
    *ndim = (int)json_array_size(a);
    for (int i = 0; i < *ndim; i++) {
        json_t *d = json_array_get(a, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1 << 30)) return 0;
        shape[i] = json_integer_value(d);
    }
    return 1;
}

static const loom_tensor *input(const test_case *tc, const char *name)
{
    for (int i = 0; i < tc->n_in; i++)
        if (strcmp(tc->in_name[i], name) == 0) return &tc->in[i];
    return NULL; /* optional input absent: the op gets NULL */
}

static double param_num(const test_case *tc, const char *key)
{
    json_t *v = json_object_get(tc->params, key);
    T_CHECK(json_is_number(v), "%s/%s: parameter %s missing", tc->op, tc->name, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static int param_int2(const test_case *tc, const char *key, int i)
{
    json_t *v = json_array_get(json_object_get(tc->params, key), (size_t)i);
    T_CHECK(json_is_integer(v), "%s/%s: parameter %s[%d] missing", tc->op, tc->name, key, i);
    return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

/* Build the case's inputs: stored tensors from the fixture, others from the PRNG. */
static int load_inputs(test_case *tc, json_t *inputs)
{
    const char *key;
    json_t *desc;
    json_object_foreach(inputs, key, desc) {
        int ndim;
        int64_t shape[LOOM_MAX_DIMS];
        if (tc->n_in == MAX_INPUTS || !json_shape(json_object_get(desc, "shape"), &ndim, shape)) {
            T_CHECK(0, "%s/%s: bad input description for %s", tc->op, tc->name, key);
            return 0;
        }
        loom_tensor v = loom_tensor_view(NULL, LOOM_F32, ndim, shape);
        const int64_t n = loom_tensor_numel(&v);
        float *buf;
        if (json_is_true(json_object_get(desc, "stored"))) {
            char tname[256];
            snprintf(tname, sizeof tname, "%s/%s", tc->name, key);
            loom_tensor st;
            buf = t_load_f32(tc->tf, tname, &st);
            if (!buf) return 0;
            T_CHECK(loom_tensor_numel(&st) == n, "%s: %s has %lld elements, the case says %lld", tc->op, tname,
                    (long long)loom_tensor_numel(&st), (long long)n);
            if (loom_tensor_numel(&st) != n) {
                free(buf);
                return 0;
            }
        } else {
            json_t *seed = json_object_get(desc, "seed"), *scale = json_object_get(desc, "scale");
            if (!json_is_integer(seed) || json_integer_value(seed) < 0 || json_integer_value(seed) > UINT32_MAX ||
                !json_is_number(scale) || n > (INT64_C(1) << 32)) {
                T_CHECK(0, "%s/%s: input %s is neither stored nor generated", tc->op, tc->name, key);
                return 0;
            }
            buf = malloc((size_t)(n ? n : 1) * sizeof(float));
            if (!buf) return 0;
            fixture_rng_fill(buf, n, (uint32_t)json_integer_value(seed), (float)json_number_value(scale));
        }
        tc->in_name[tc->n_in] = key;
        tc->in[tc->n_in] = loom_tensor_view(buf, LOOM_F32, ndim, shape);
        tc->n_in++;
    }
    return 1;
}

static loom_status run_op(const loom_ops *ops, const test_case *tc, loom_tensor *y)
{
    const char *op = tc->op;
    if (!strcmp(op, "linear"))
        return ops->linear(input(tc, "x"), input(tc, "w"), input(tc, "bias"), input(tc, "residual"), y);
    if (!strcmp(op, "conv2d")) {
        loom_conv2d_params p = {param_int2(tc, "stride", 0), param_int2(tc, "stride", 1), param_int2(tc, "pad", 0),
                                param_int2(tc, "pad", 1)};
        return ops->conv2d(input(tc, "x"), input(tc, "w"), input(tc, "bias"), input(tc, "residual"), y, &p);
    }
    if (!strcmp(op, "group_norm"))
        return ops->group_norm(input(tc, "x"), input(tc, "gamma"), input(tc, "beta"), y,
                               (int)param_num(tc, "groups"), (float)param_num(tc, "eps"),
                               json_is_true(json_object_get(tc->params, "silu")));
    if (!strcmp(op, "layer_norm"))
        return ops->layer_norm(input(tc, "x"), input(tc, "gamma"), input(tc, "beta"), y, (float)param_num(tc, "eps"));
    if (!strcmp(op, "attention"))
        return ops->attention(input(tc, "q"), input(tc, "k"), input(tc, "v"), y, (int)param_num(tc, "heads"),
                              (float)param_num(tc, "scale"));
    if (!strcmp(op, "attention_causal"))
        return ops->attention_causal(input(tc, "q"), input(tc, "k"), input(tc, "v"), y, (int)param_num(tc, "heads"),
                                     (float)param_num(tc, "scale"));
    if (!strcmp(op, "geglu")) return ops->geglu(input(tc, "x"), y);
    if (!strcmp(op, "unary")) {
        const char *act = json_string_value(json_object_get(tc->params, "act"));
        for (int a = 0; act && a < LOOM_ACT_COUNT; a++)
            if (!strcmp(act, loom_act_name((loom_act)a))) return ops->unary(input(tc, "x"), y, (loom_act)a);
        return loom_fail(LOOM_E_INVALID, "unknown activation %s", act ? act : "(none)");
    }
    if (!strcmp(op, "add")) return ops->add(input(tc, "a"), input(tc, "b"), y);
    if (!strcmp(op, "mul")) return ops->mul(input(tc, "a"), input(tc, "b"), y);
    if (!strcmp(op, "concat")) return ops->concat(input(tc, "a"), input(tc, "b"), y);
    if (!strcmp(op, "upsample2x")) return ops->upsample2x(input(tc, "x"), y);
    if (!strcmp(op, "timestep_embedding")) {
        loom_timestep_params p = {(int)param_num(tc, "dim"), (float)param_num(tc, "max_period"),
                                  json_is_true(json_object_get(tc->params, "flip_sin_to_cos")),
                                  (float)param_num(tc, "freq_shift")};
        return ops->timestep_embedding(input(tc, "t"), y, &p);
    }
    if (!strcmp(op, "softmax")) return ops->softmax(input(tc, "x"), y, (float)param_num(tc, "scale"));
    return loom_fail(LOOM_E_INVALID, "no test driver for op %s", op);
}

/* Compare y with the reference (whole, or at the sampled indices); returns rel L2 (or INFINITY). */
static double compare(const test_case *tc, const float *y, int64_t n, int sampled, double *max_abs,
                      int64_t *n_cmp)
{
    char tname[256];
    snprintf(tname, sizeof tname, "%s/y", tc->name);
    loom_tensor rt;
    float *ref = t_load_f32(tc->tf, tname, &rt);
    if (!ref) return INFINITY;
    const int64_t k = loom_tensor_numel(&rt);
    float *got = malloc((size_t)(k ? k : 1) * sizeof(float));
    int ok = got != NULL;
    if (ok && sampled) {
        snprintf(tname, sizeof tname, "%s/idx", tc->name);
        const loom_tf_entry *e = loom_tfile_find(tc->tf, tname);
        loom_tensor it;
        ok = e && (e->dtype == LOOM_I32 || e->dtype == LOOM_I64) && loom_tfile_tensor(tc->tf, e, &it) == LOOM_OK &&
             loom_tensor_numel(&it) == k;
        T_CHECK(ok, "%s/%s: missing or bad %s", tc->op, tc->name, tname);
        for (int64_t i = 0; ok && i < k; i++) {
            const double ix = loom_tensor_get(&it, i);
            ok = ix >= 0 && ix < (double)n;
            if (ok) got[i] = y[(int64_t)ix];
            else T_CHECK(0, "%s/%s: sample index %.0f out of range", tc->op, tc->name, ix);
        }
    } else if (ok) {
        ok = k == n;
        T_CHECK(ok, "%s/%s: reference has %lld elements, output %lld", tc->op, tc->name, (long long)k, (long long)n);
        if (ok) memcpy(got, y, (size_t)n * sizeof(float));
    }
    double rel = INFINITY;
    if (ok) {
        rel = t_rel_l2(got, ref, k);
        *max_abs = t_max_abs(got, ref, k);
        *n_cmp = k;
    }
    free(got);
    free(ref);
    return rel;
}

typedef struct case_result {
    double rel, max_abs, t_op;
    int64_t n_cmp;
} case_result;

/* Run the op of a loaded case into a fresh output (or in place) and check it. */
static void check_case(const loom_ops *ops, const test_case *tc, int ndim, const int64_t *shape, int sampled,
                       const char *inplace, case_result *r)
{
    loom_tensor y = loom_tensor_view(NULL, LOOM_F32, ndim, shape);
    const int64_t n = loom_tensor_numel(&y);
    float *ybuf = NULL;
    if (inplace) { /* the op writes over one of its inputs */
        const loom_tensor *src = input(tc, inplace);
        T_CHECK(src && loom_tensor_numel(src) == n, "%s/%s: bad in-place input %s", tc->op, tc->name, inplace);
        if (!src || loom_tensor_numel(src) != n) return;
        y.data = src->data;
    } else {
        /* NaN everywhere: an element the op forgets to write fails the finite check */
        ybuf = malloc((size_t)(n + GUARD) * sizeof(float));
        if (!ybuf) return;
        for (int64_t i = 0; i < n; i++) ybuf[i] = NAN;
        for (int i = 0; i < GUARD; i++) ybuf[n + i] = GUARD_VALUE;
        y.data = ybuf;
    }
    const double t1 = now_s();
    const loom_status s = run_op(ops, tc, &y);
    r->t_op = now_s() - t1;
    T_CHECK(s == LOOM_OK, "%s/%s: %s", tc->op, tc->name, loom_last_error());
    if (s == LOOM_OK) {
        const int64_t bad = t_count_nonfinite(y.data, n);
        T_CHECK(bad == 0, "%s/%s: %lld NaN/Inf (or unwritten) output elements", tc->op, tc->name, (long long)bad);
        int guards_ok = 1;
        for (int i = 0; ybuf && i < GUARD; i++) guards_ok &= ybuf[n + i] == GUARD_VALUE;
        T_CHECK(guards_ok, "%s/%s: wrote past the end of the output", tc->op, tc->name);
        r->rel = compare(tc, y.data, n, sampled, &r->max_abs, &r->n_cmp);
        T_CHECK(r->rel <= TOL, "%s/%s: rel L2 %.3e > %.0e", tc->op, tc->name, r->rel, TOL);
        if (bad) r->rel = INFINITY;
    }
    free(ybuf);
}

/* One case; returns its rel L2 error (INFINITY on failure). */
static double run_case(const loom_ops *ops, const loom_tfile *tf, const char *op, json_t *c)
{
    test_case tc = {.tf = tf, .op = op, .name = json_string_value(json_object_get(c, "name")),
                    .params = json_object_get(c, "params")};
    json_t *out = json_object_get(c, "output");
    int ndim;
    int64_t shape[LOOM_MAX_DIMS];
    if (!tc.name || !json_shape(json_object_get(out, "shape"), &ndim, shape)) {
        T_CHECK(0, "%s: malformed case in %s", op, tf->path);
        return INFINITY;
    }
    const int sampled = json_is_true(json_object_get(out, "sampled"));
    case_result r = {INFINITY, 0, 0, 0};
    const double t0 = now_s();
    if (load_inputs(&tc, json_object_get(c, "inputs")))
        check_case(ops, &tc, ndim, shape, sampled, json_string_value(json_object_get(c, "inplace")), &r);
    char ys[96];
    loom_tensor yshape = loom_tensor_view(NULL, LOOM_F32, ndim, shape);
    printf("%-18s %-30s %-22s rel_l2 %.2e  max_abs %.2e  %6.2f%% of tol  %s%lld pts  op %.3fs  total %.3fs\n", op,
           tc.name, loom_shape_str(&yshape, ys, sizeof ys), r.rel, r.max_abs, 100.0 * r.rel / TOL,
           sampled ? "sampled " : "", (long long)r.n_cmp, r.t_op, now_s() - t0);
    for (int i = 0; i < tc.n_in; i++) free(tc.in[i].data);
    return r.rel;
}

/* All cases of one op's fixture; returns the worst rel L2. */
static double run_op_file(const loom_ops *ops, const char *op, int *n_cases)
{
    char rel[128];
    snprintf(rel, sizeof rel, "ops/%s.safetensors", op);
    loom_tfile *tf = t_open_fixture(rel);
    if (!tf) return INFINITY;
    /* __metadata__["fixture"] = {"format", "op", "generator", "cases": [...]} (scripts/fixtures_ops.py) */
    const char *meta = loom_tfile_meta(tf, "fixture");
    double worst = INFINITY;
    json_error_t err;
    json_t *root = meta ? json_loads(meta, 0, &err) : NULL;
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const char *file_op = json_string_value(json_object_get(root, "op"));
    json_t *cases = json_object_get(root, "cases");
    T_CHECK(fmt && !strcmp(fmt, "loom-ops-fixture/1") && file_op && !strcmp(file_op, op) && json_is_array(cases) &&
                json_array_size(cases) > 0,
            "%s: not a loom op fixture for %s (regenerate with scripts/gen_fixtures.py ops)", tf->path, op);
    if (json_is_array(cases) && json_array_size(cases) > 0) {
        worst = 0;
        size_t i;
        json_t *c;
        json_array_foreach(cases, i, c) {
            const double r = run_case(ops, tf, op, c);
            worst = r > worst || isnan(r) ? r : worst;
            (*n_cases)++;
        }
    }
    json_decref(root);
    loom_tfile_close(tf);
    return worst;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    const loom_ops *ops = &loom_ops_cpu;
    double worst[N_OPS], secs[N_OPS];
    int ran[N_OPS] = {0}, n_cases[N_OPS] = {0}, any = 0;
    const double t0 = now_s();
    for (int i = 0; i < N_OPS; i++) {
        if (filter && strcmp(filter, op_names[i]) != 0) continue;
        const double t = now_s();
        worst[i] = run_op_file(ops, op_names[i], &n_cases[i]);
        secs[i] = now_s() - t;
        ran[i] = any = 1;
    }
    T_CHECK(any, "no op named '%s'", filter ? filter : "");
    printf("\n%-18s %6s %12s %10s %8s\n", "op", "cases", "max rel_l2", "% of tol", "time");
    for (int i = 0; i < N_OPS; i++)
        if (ran[i])
            printf("%-18s %6d %12.2e %9.2f%% %7.2fs\n", op_names[i], n_cases[i], worst[i], 100.0 * worst[i] / TOL,
                   secs[i]);
    printf("total %.2fs (tolerance: rel L2 <= %.0e against float64 PyTorch)\n", now_s() - t0, TOL);
    return t_finish("test_cpu_ops");
}
