/* test_rng.c — seed-compatible noise, bit for bit (addons.md §7).
 *
 * Expected values: tests/fixtures/rng/rng_cases.json from
 * scripts/gen_fixtures_rng.py — real torch for the cpu generator (both of
 * torch's float kernels), an independent numpy re-implementation of A1111's
 * NV generator and of torch's CUDA launch layout for the cuda generator, the
 * A1111/ComfyUI per-job semantics, and the published values of §7.7.
 * Every comparison is of uint32 bit patterns: at every element for draws of up
 * to 64, and for larger draws a checksum of all bits plus ~56 sampled
 * positions (including the whole tail window).
 *
 * Not covered here (needs a GPU, label gpu, later): torch.randn(device='cuda')
 * itself. Plan: on the GPU machine dump torch CUDA randn for n = 16384, 65536
 * and one size above that GPU's S, compare (1) the element → Philox-counter
 * layout with loom_rng_set_cuda_threads(S) and (2) the values, expected to
 * differ from NV by the GPU's float __sincosf rounding only (§7.2 step 6). */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "testlib.h"

/* ---- fixture helpers ---- */

/* SplitMix64's output function; the checksum is Σ mix64((i << 32) | bits[i]). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t bits_hash(const float *v, int64_t n)
{
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], sizeof b);
        h += mix64(((uint64_t)i << 32) | b);
    }
    return h;
}

static uint64_t json_seed(const json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "seed"));
    return s ? strtoull(s, NULL, 10) : 0;
}

/* Compares one draw with its record; returns 1 when every stored bit matches. */
static int check_record(const char *name, int draw, const json_t *rec, const float *got, int64_t n)
{
    int64_t want_n = json_integer_value(json_object_get(rec, "n"));
    if (want_n != n) {
        T_CHECK(0, "%s draw %d: fixture has %" PRId64 " elements, test drew %" PRId64, name, draw, want_n, n);
        return 0;
    }
    const json_t *bits = json_object_get(rec, "bits");
    const json_t *idx = json_object_get(rec, "idx");
    const char *hash = json_string_value(json_object_get(rec, "hash"));
    size_t count = json_array_size(bits);
    T_CHECK(count > 0 && (idx ? json_array_size(idx) == count && hash : (int64_t)count == n),
            "%s draw %d: malformed record", name, draw);
    int64_t bad = 0, first = -1;
    for (size_t k = 0; k < count; k++) {
        int64_t i = idx ? json_integer_value(json_array_get(idx, k)) : (int64_t)k;
        uint32_t want = (uint32_t)json_integer_value(json_array_get(bits, k)), b;
        if (i < 0 || i >= n) { bad++; continue; }
        memcpy(&b, &got[i], sizeof b);
        if (b != want) {
            if (first < 0) first = i;
            bad++;
        }
    }
    T_CHECK(bad == 0, "%s draw %d: %" PRId64 " of %zu stored elements differ, first at %" PRId64, name, draw, bad,
            count, first);
    if (hash) {
        char buf[17];
        snprintf(buf, sizeof buf, "%016" PRIx64, bits_hash(got, n));
        T_CHECK(!strcmp(buf, hash), "%s draw %d: checksum of all %" PRId64 " elements %s, want %s", name, draw, n,
                buf, hash);
        if (strcmp(buf, hash)) bad++;
    }
    return bad == 0;
}

static loom_rng *case_rng(const json_t *c)
{
    loom_rng_kind kind;
    if (loom_rng_kind_parse(json_string_value(json_object_get(c, "kind")), &kind)) return NULL;
    loom_rng *r = loom_rng_new(kind, json_seed(c));
    if (!r) return NULL;
    const char *math = json_string_value(json_object_get(c, "math"));
    if (math && !strcmp(math, "libm")) T_OK(loom_rng_set_cpu_math(r, LOOM_RNG_CPU_MATH_LIBM));
    json_int_t threads = json_integer_value(json_object_get(c, "threads"));
    if (threads) T_OK(loom_rng_set_cuda_threads(r, threads));
    return r;
}

/* ---- the fixture cases: one generator, one or more draws ---- */

static void test_cases(const json_t *cases)
{
    int passed = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        loom_rng *r = case_rng(c);
        T_CHECK(r != NULL, "%s: %s", name, loom_last_error());
        if (!r) continue;
        int ok = 1;
        size_t d;
        json_t *rec;
        json_array_foreach(json_object_get(c, "draws"), d, rec) {
            int64_t n = json_integer_value(json_object_get(rec, "n"));
            float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
            T_OK(loom_rng_randn(r, buf, n));
            ok &= check_record(name, (int)d, rec, buf, n);
            free(buf);
        }
        passed += ok;
        loom_rng_free(r);
    }
    printf("fixture cases: %d of %zu bit-exact\n", passed, json_array_size(cases));
    T_CHECK(json_array_size(cases) >= 300, "fixture has %zu cases", json_array_size(cases));
}

/* ---- per-job semantics: A1111 seed+i / ENSD, ComfyUI batch draw ---- */

static void test_noise(const json_t *noise)
{
    size_t i;
    json_t *c;
    json_array_foreach(noise, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        loom_noise_cfg cfg = {0};
        T_OK(loom_rng_kind_parse(json_string_value(json_object_get(c, "kind")), &cfg.kind));
        cfg.mode = strcmp(json_string_value(json_object_get(c, "mode")), "comfy") ? LOOM_NOISE_A1111
                                                                                  : LOOM_NOISE_COMFY;
        cfg.seed = json_seed(c);
        cfg.batch = (int)json_integer_value(json_object_get(c, "batch"));
        cfg.numel = json_integer_value(json_object_get(c, "numel"));
        cfg.ensd = json_integer_value(json_object_get(c, "ensd"));
        loom_noise *nz = NULL;
        T_OK(loom_noise_new(&cfg, &nz));
        if (!nz) continue;
        int64_t n = cfg.numel * cfg.batch;
        float *buf = malloc((size_t)n * sizeof *buf);
        size_t k;
        json_t *rec;
        json_array_foreach(json_object_get(c, "calls"), k, rec) {
            T_OK(loom_noise_next(nz, buf));
            check_record(name, (int)k, rec, buf, n);
        }
        T_CHECK(json_array_size(json_object_get(c, "calls")) == 3, "%s: three calls", name);
        free(buf);
        loom_noise_free(nz);
    }
    T_CHECK(json_array_size(noise) >= 8, "fixture has %zu noise cases", json_array_size(noise));
}

/* ---- published values (§7.7), carried through the fixture script ---- */

static void test_spec(const json_t *spec)
{
    size_t i;
    json_t *c;
    json_array_foreach(spec, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *vals = json_object_get(c, "values");
        double tol = json_real_value(json_object_get(c, "tol"));
        int64_t n = (int64_t)json_array_size(vals);
        loom_rng *r = case_rng(c);
        T_CHECK(r && n > 0 && n <= 32 && tol > 0, "%s: usable", name);
        if (!r || n <= 0 || n > 32) { loom_rng_free(r); continue; }
        float got[32];
        T_OK(loom_rng_randn(r, got, n));
        for (int64_t k = 0; k < n; k++) {
            double want = json_number_value(json_array_get(vals, (size_t)k));
            T_CHECK(got[k] - want <= tol && want - got[k] <= tol, "%s [%" PRId64 "]: %.7f, published %.6f", name,
                    k, got[k], want);
        }
        loom_rng_free(r);
    }
    T_CHECK(json_array_size(spec) == 6, "six spec vectors, got %zu", json_array_size(spec));
}

/* ---- determinism, re-seeding, seed+i ---- */

static void test_determinism(void)
{
    enum { N = 4 * 64 * 64 + 5 };
    static float a[N], b[N], c[N];
    for (int kind = 0; kind < LOOM_RNG_KIND_COUNT; kind++) {
        loom_rng *r1 = loom_rng_new((loom_rng_kind)kind, 1234), *r2 = loom_rng_new((loom_rng_kind)kind, 1234);
        T_CHECK(r1 && r2, "new: %s", loom_last_error());
        if (!r1 || !r2) { loom_rng_free(r1); loom_rng_free(r2); continue; }
        for (int round = 0; round < 3; round++) {
            T_OK(loom_rng_randn(r1, a, N - round));
            T_OK(loom_rng_randn(r2, b, N - round));
            T_CHECK(!memcmp(a, b, (size_t)(N - round) * sizeof *a), "%s: two generators, same seed, draw %d",
                    loom_rng_kind_name((loom_rng_kind)kind), round);
        }
        /* a draw continues the stream: the second draw differs from the first */
        T_OK(loom_rng_randn(r1, c, N));
        loom_rng_reseed(r1, 1234);
        T_OK(loom_rng_randn(r1, a, N));
        loom_rng *fresh = loom_rng_new((loom_rng_kind)kind, 1234);
        T_OK(loom_rng_randn(fresh, b, N));
        T_CHECK(!memcmp(a, b, sizeof a), "%s: reseed == new", loom_rng_kind_name((loom_rng_kind)kind));
        T_CHECK(memcmp(a, c, sizeof a) != 0, "%s: the stream moves on", loom_rng_kind_name((loom_rng_kind)kind));
        /* A1111: image i is an independent generator at seed + i (§7.1) */
        loom_noise_cfg cfg = {(loom_rng_kind)kind, LOOM_NOISE_A1111, 1234, 3, 256, 0, 0};
        loom_noise *nz = NULL;
        T_OK(loom_noise_new(&cfg, &nz));
        if (nz) {
            T_OK(loom_noise_next(nz, c)); /* [3, 256] */
            for (int img = 0; img < 3; img++) {
                loom_rng_reseed(fresh, 1234 + (uint64_t)img);
                T_OK(loom_rng_randn(fresh, b, 256));
                T_CHECK(!memcmp(c + img * 256, b, 256 * sizeof *b), "%s: image %d uses seed+%d",
                        loom_rng_kind_name((loom_rng_kind)kind), img, img);
            }
            loom_noise_free(nz);
        }
        loom_rng_free(fresh);
        loom_rng_free(r1);
        loom_rng_free(r2);
    }
}

/* ---- names and bad arguments ---- */

static void test_names_and_errors(void)
{
    for (int k = 0; k < LOOM_RNG_KIND_COUNT; k++) {
        loom_rng_kind got;
        T_CHECK(loom_rng_kind_parse(loom_rng_kind_name((loom_rng_kind)k), &got) == LOOM_OK && got == (loom_rng_kind)k,
                "kind %d round-trips", k);
        T_CHECK(loom_rng_kind_parse(loom_rng_kind_a1111_name((loom_rng_kind)k), &got) == LOOM_OK &&
                    got == (loom_rng_kind)k, "A1111 name of kind %d", k);
    }
    loom_rng_kind got;
    T_CHECK(loom_rng_kind_parse("NV", &got) == LOOM_OK && got == LOOM_RNG_CUDA, "NV is cuda");
    T_CHECK(loom_rng_kind_parse("GPU", &got) == LOOM_OK && got == LOOM_RNG_CUDA, "GPU is cuda");
    T_CHECK(loom_rng_kind_parse("mt", &got) == LOOM_E_INVALID && strstr(loom_last_error(), "'mt'") &&
                !strchr(loom_last_error(), '\n'), "unknown kind: %s", loom_last_error());
    T_CHECK(loom_rng_kind_parse(NULL, &got) == LOOM_E_INVALID, "NULL name");
    T_CHECK(!strcmp(loom_rng_cpu_math_name(LOOM_RNG_CPU_MATH_LIBM), "libm"), "math names");
    T_CHECK(loom_rng_new((loom_rng_kind)7, 0) == NULL, "bad kind refused");

    loom_rng *cpu = loom_rng_new(LOOM_RNG_CPU, 0), *cuda = loom_rng_new(LOOM_RNG_CUDA, 0);
    float x[4];
    T_CHECK(loom_rng_randn(cpu, x, -1) == LOOM_E_INVALID, "negative n");
    T_CHECK(loom_rng_randn(cuda, NULL, 4) == LOOM_E_INVALID, "NULL buffer");
    T_CHECK(loom_rng_randn(cuda, x, (INT64_C(1) << 32) + 1) == LOOM_E_INVALID, "cuda draw over 2^32");
    T_OK(loom_rng_randn(cpu, NULL, 0));
    T_CHECK(loom_rng_set_cpu_math(cuda, LOOM_RNG_CPU_MATH_LIBM) == LOOM_E_INVALID, "cpu math on cuda");
    T_CHECK(loom_rng_set_cpu_math(cpu, LOOM_RNG_CPU_MATH_COUNT) == LOOM_E_INVALID, "bad cpu math");
    T_CHECK(loom_rng_set_cuda_threads(cpu, 256) == LOOM_E_INVALID, "threads on cpu");
    T_CHECK(loom_rng_set_cuda_threads(cuda, 300) == LOOM_E_INVALID, "threads not whole blocks");
    T_CHECK(loom_rng_set_cuda_threads(cuda, -256) == LOOM_E_INVALID, "negative threads");
    loom_rng_free(cpu);
    loom_rng_free(cuda);

    loom_noise *nz = (loom_noise *)1;
    loom_noise_cfg bad[] = {
        {LOOM_RNG_CPU, LOOM_NOISE_A1111, 1, 0, 16, 0, 0},
        {LOOM_RNG_CPU, LOOM_NOISE_A1111, 1, 1, 0, 0, 0},
        {LOOM_RNG_CPU, LOOM_NOISE_A1111, 1, 2, INT64_MAX / 2 + 1, 0, 0},
        {LOOM_RNG_CPU, LOOM_NOISE_COMFY, 1, 1, 16, 5, 0},
        {LOOM_RNG_CUDA, LOOM_NOISE_COMFY, 1, 2, INT64_C(1) << 31 | 1, 0, 0},
        {LOOM_RNG_KIND_COUNT, LOOM_NOISE_A1111, 1, 1, 16, 0, 0},
        {LOOM_RNG_CUDA, LOOM_NOISE_A1111, 1, 1, 16, 0, 100},
    };
    /* the thread capacity reaches every cuda generator of a job (§7.2 layout) */
    loom_noise_cfg lay = {LOOM_RNG_CUDA, LOOM_NOISE_A1111, 9, 2, 2000, 0, 256};
    T_OK(loom_noise_new(&lay, &nz));
    loom_rng *one = loom_rng_new(LOOM_RNG_CUDA, 10);
    T_OK(loom_rng_set_cuda_threads(one, 256));
    static float lay_got[2 * 2000], want[2000];
    for (int call = 0; call < 2; call++) {
        T_OK(loom_noise_next(nz, lay_got));
        T_OK(loom_rng_randn(one, want, 2000));
        T_CHECK(!memcmp(lay_got + 2000, want, sizeof want), "image 1, call %d: S=256 layout", call);
    }
    loom_noise_free(nz);
    loom_rng_free(one);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        T_CHECK(loom_noise_new(&bad[k], &nz) == LOOM_E_INVALID && nz == NULL, "bad noise config %zu", k);
        nz = (loom_noise *)1;
    }
}

int main(void)
{
    clock_t t0 = clock();
    json_error_t err;
    json_t *doc = json_load_file(t_fixture("rng/rng_cases.json"), 0, &err);
    T_CHECK(doc != NULL, "rng/rng_cases.json: %s (line %d)", err.text, err.line);
    if (doc) {
        test_cases(json_object_get(doc, "cases"));
        test_noise(json_object_get(doc, "noise"));
        test_spec(json_object_get(doc, "spec"));
        json_decref(doc);
    }
    test_determinism();
    test_names_and_errors();
    printf("cpu time %.2f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return t_finish("test_rng");
}
