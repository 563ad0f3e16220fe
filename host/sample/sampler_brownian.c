/* sampler_brownian.c — numpy's SeedSequence and torchsde's halfway Brownian
 * tree, as A1111 uses them for DPM++ 2M SDE (see sampler_brownian.h). */
#include "sampler_brownian.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- numpy.random.SeedSequence (numpy/random/bit_generator.pyx) ---------- */

#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_L 0xca01f9ddu
#define SS_MIX_R 0x4973f715u
#define SS_MAX_POOL 64
#define SS_MAX_KEY 8

static uint32_t ss_hashmix(uint32_t v, uint32_t *hc)
{
    v ^= *hc;
    *hc *= SS_MULT_A;
    v *= *hc;
    return v ^ (v >> 16);
}

static uint32_t ss_mix(uint32_t x, uint32_t y)
{
    uint32_t r = SS_MIX_L * x - SS_MIX_R * y;
    return r ^ (r >> 16);
}

/* _int_to_uint32_array: little-endian 32-bit words, [0] for zero */
static int ss_words(uint64_t v, uint32_t *w)
{
    int k = 0;
    if (v == 0) w[k++] = 0;
    while (v) {
        w[k++] = (uint32_t)v;
        v >>= 32;
    }
    return k;
}

void loom_seedseq_state(uint64_t entropy, const uint64_t *key, int n_key, int pool_size, uint32_t *out,
                        int n_words)
{
    if (pool_size < 1 || pool_size > SS_MAX_POOL) pool_size = pool_size < 1 ? 1 : SS_MAX_POOL;
    if (n_key < 0 || n_key > SS_MAX_KEY) n_key = n_key < 0 ? 0 : SS_MAX_KEY;
    uint32_t ent[SS_MAX_POOL + 2 * SS_MAX_KEY + 2] = {0}; /* GCC 13 cannot see that i < ne bounds the reads */
    int ne = ss_words(entropy, ent);
    /* get_assembled_entropy: with a spawn key, pad the run entropy to the pool size */
    if (n_key > 0 && ne < pool_size) {
        while (ne < pool_size) ent[ne++] = 0;
    }
    for (int i = 0; i < n_key; i++) ne += ss_words(key[i], ent + ne);

    uint32_t pool[SS_MAX_POOL], hc = SS_INIT_A;
    for (int i = 0; i < pool_size; i++) pool[i] = ss_hashmix(i < ne ? ent[i] : 0, &hc);
    for (int s = 0; s < pool_size; s++)
        for (int d = 0; d < pool_size; d++)
            if (s != d) pool[d] = ss_mix(pool[d], ss_hashmix(pool[s], &hc));
    for (int s = pool_size; s < ne; s++)
        for (int d = 0; d < pool_size; d++) pool[d] = ss_mix(pool[d], ss_hashmix(ent[s], &hc));

    uint32_t h = SS_INIT_B;
    for (int i = 0; i < n_words; i++) {
        uint32_t v = pool[i % pool_size];
        v ^= h;
        h *= SS_MULT_B;
        v *= h;
        out[i] = v ^ (v >> 16);
    }
}

/* ---- torchsde BrownianInterval (halfway tree, tol 1e-6, pool 24) ---------- */

#define BT_POOL 24
#define BT_MAX_DEPTH 64 /* a 1e-6 grid over sigma <= 1e12 needs < 60 levels */

struct loom_brownian {
    double start, end; /* rounded */
    uint64_t entropy;
    int64_t n;
    loom_randn_seeded_fn randn;
    void *ctx;
    float *root_w;               /* increment over [start, end] */
    float *noise;                /* one draw */
    float *level[BT_MAX_DEPTH];  /* per depth: left and right child increments (2n) */
    int have_out;                /* accumulator state of the current query */
};

/* torchsde _round with tol 1e-6: Python round(x, 6), i.e. correctly rounded
 * to 6 decimals and back (glibc printf rounds exactly, like CPython's dtoa) */
static double round6(double x)
{
    char buf[400];
    snprintf(buf, sizeof buf, "%.6f", x);
    return strtod(buf, NULL);
}

loom_status loom_brownian_create(double t0, double t1, uint64_t entropy, int64_t n, loom_randn_seeded_fn randn,
                                 void *ctx, loom_brownian **out)
{
    *out = NULL;
    if (!randn) return loom_fail(LOOM_E_INVALID, "brownian tree: no seeded randn callback");
    if (!(t0 <= t1) || !isfinite(t0) || !isfinite(t1))
        return loom_fail(LOOM_E_INVALID, "brownian tree: bad interval [%g, %g]", t0, t1);
    if (n <= 0 || (uint64_t)n > SIZE_MAX / sizeof(float) / 2)
        return loom_fail(LOOM_E_INVALID, "brownian tree: bad size %lld", (long long)n);
    loom_brownian *b = calloc(1, sizeof *b);
    if (!b) return loom_fail(LOOM_E_NOMEM, "brownian tree: out of memory");
    b->start = round6(t0);
    b->end = round6(t1);
    b->entropy = entropy;
    b->n = n;
    b->randn = randn;
    b->ctx = ctx;
    b->root_w = malloc((size_t)n * sizeof(float));
    b->noise = malloc((size_t)n * sizeof(float));
    if (!b->root_w || !b->noise) {
        loom_brownian_free(b);
        return loom_fail(LOOM_E_NOMEM, "brownian tree: out of memory");
    }
    /* BrownianInterval.__init__: SeedSequence(entropy, pool_size).generate_state(3);
     * W = randn(seed[0]) * sqrt(t1 - t0) with the unrounded ends */
    uint32_t st[3];
    loom_seedseq_state(entropy, NULL, 0, BT_POOL, st, 3);
    loom_status s = randn(ctx, st[0], b->root_w, n);
    if (s != LOOM_OK) {
        loom_brownian_free(b);
        return loom_fail_wrap(s, "brownian tree");
    }
    float scale = (float)sqrt(t1 - t0);
    for (int64_t k = 0; k < n; k++) b->root_w[k] *= scale;
    *out = b;
    return LOOM_OK;
}

void loom_brownian_free(loom_brownian *b)
{
    if (!b) return;
    for (int d = 0; d < BT_MAX_DEPTH; d++) free(b->level[d]);
    free(b->root_w);
    free(b->noise);
    free(b);
}

static void accumulate(loom_brownian *b, const float *w, float *out)
{
    /* torchsde: W = W_0, then W = W + W_i left to right */
    if (!b->have_out) memcpy(out, w, (size_t)b->n * sizeof(float));
    else
        for (int64_t k = 0; k < b->n; k++) out[k] = out[k] + w[k];
    b->have_out = 1;
}

/* The node [s, e] (spawn key `key`, `depth`) with increment w; add the pieces
 * of [ta, tb] (inside it) to out, left to right (torchsde _loc_inner). */
static loom_status visit(loom_brownian *b, double s, double e, uint64_t key, int depth, const float *w, double ta,
                         double tb, float *out)
{
    if (ta == s && tb == e) {
        accumulate(b, w, out);
        return LOOM_OK;
    }
    if (depth >= BT_MAX_DEPTH || depth >= 63)
        return loom_fail(LOOM_E_UNSUPPORTED, "brownian tree: query [%.9g, %.9g] deeper than %d levels", ta, tb,
                         BT_MAX_DEPTH);
    double m = round6(0.5 * (e + s));
    if (!(m > s && m < e)) /* cannot happen for ends on the 1e-6 grid */
        return loom_fail(LOOM_E_UNSUPPORTED, "brownian tree: interval [%.9g, %.9g] cannot be split", s, e);
    if (!b->level[depth]) {
        b->level[depth] = malloc((size_t)b->n * 2 * sizeof(float));
        if (!b->level[depth]) return loom_fail(LOOM_E_NOMEM, "brownian tree: out of memory");
    }
    float *left = b->level[depth], *right = left + b->n;

    /* _split_exact: seeds from SeedSequence(entropy, spawn_key=(key, depth), pool 24) */
    uint64_t sk[2] = {key, (uint64_t)depth};
    uint32_t st[4];
    loom_seedseq_state(b->entropy, sk, 2, BT_POOL, st, 4);
    LOOM_TRY(b->randn(b->ctx, st[0], b->noise, b->n));

    /* _increment_and_space_time_levy_area without H: float32 tensor ops with
     * Python-float scalars rounded to float32 first, evaluated left to right */
    double h_recip = 1.0 / (e - s), left_diff = m - s, right_diff = e - m;
    float f_left = (float)left_diff, f_h = (float)h_recip;
    float f_std = (float)sqrt(left_diff * right_diff * h_recip);
    for (int64_t k = 0; k < b->n; k++) {
        float mean = (f_left * w[k]) * f_h;
        float lw = mean + f_std * b->noise[k];
        left[k] = lw;
        right[k] = w[k] - lw;
    }
    if (tb <= m) return visit(b, s, m, 2 * key, depth + 1, left, ta, tb, out);
    if (ta >= m) return visit(b, m, e, 2 * key + 1, depth + 1, right, ta, tb, out);
    LOOM_TRY(visit(b, s, m, 2 * key, depth + 1, left, ta, m, out));
    return visit(b, m, e, 2 * key + 1, depth + 1, right, m, tb, out);
}

loom_status loom_brownian_increment(loom_brownian *b, double ta, double tb, float *w)
{
    /* BrownianInterval.__call__: clamp (unrounded) to the rounded ends */
    if (ta < b->start) ta = b->start;
    if (tb < b->start) tb = b->start;
    if (ta > b->end) ta = b->end;
    if (tb > b->end) tb = b->end;
    if (!(ta <= tb)) return loom_fail(LOOM_E_INVALID, "brownian tree: query times %g > %g", ta, tb);
    double ra = round6(ta), rb = round6(tb);
    if (ta == tb || ra == rb) {
        /* torchsde returns zeros for ta == tb; two times within one 1e-6 cell
         * meet in a zero-width node, whose increment is 0 as well */
        memset(w, 0, (size_t)b->n * sizeof(float));
        return LOOM_OK;
    }
    b->have_out = 0;
    return visit(b, b->start, b->end, 0, 0, b->root_w, ra, rb, w);
}

/* ---- k-diffusion BatchedBrownianTree + BrownianTreeNoiseSampler ---------- */

struct loom_bt_noise {
    int n_trees;
    int64_t per;
    float sign;
    loom_brownian **trees;
};

loom_status loom_bt_noise_create(double sigma_min, double sigma_max, const uint64_t *seeds, int n_seeds, int64_t n,
                                 loom_randn_seeded_fn randn, void *ctx, loom_bt_noise **out)
{
    *out = NULL;
    if (!seeds || n_seeds <= 0 || n <= 0 || n % n_seeds != 0)
        return loom_fail(LOOM_E_INVALID, "brownian noise: %lld floats do not split into %d images", (long long)n,
                         n_seeds);
    loom_bt_noise *s = calloc(1, sizeof *s);
    if (!s) return loom_fail(LOOM_E_NOMEM, "brownian noise: out of memory");
    s->trees = calloc((size_t)n_seeds, sizeof *s->trees);
    if (!s->trees) {
        free(s);
        return loom_fail(LOOM_E_NOMEM, "brownian noise: out of memory");
    }
    s->n_trees = n_seeds;
    s->per = n / n_seeds;
    /* BatchedBrownianTree.sort: the trees run from the smaller to the larger end */
    double t0 = sigma_min, t1 = sigma_max;
    s->sign = 1.0f;
    if (!(t0 < t1)) {
        t0 = sigma_max, t1 = sigma_min;
        s->sign = -1.0f;
    }
    for (int i = 0; i < n_seeds; i++) {
        loom_status st = loom_brownian_create(t0, t1, seeds[i], s->per, randn, ctx, &s->trees[i]);
        if (st != LOOM_OK) {
            loom_bt_noise_free(s);
            return st;
        }
    }
    *out = s;
    return LOOM_OK;
}

loom_status loom_bt_noise_sample(loom_bt_noise *s, double sigma, double sigma_next, float *out)
{
    /* A1111 queries with its float32 sigma tensors */
    float t0 = (float)sigma, t1 = (float)sigma_next;
    float lo = t0, hi = t1, sign = s->sign;
    if (!(t0 < t1)) lo = t1, hi = t0, sign = -sign;
    float r = sqrtf(fabsf(t1 - t0));
    for (int i = 0; i < s->n_trees; i++) {
        float *w = out + (int64_t)i * s->per;
        LOOM_TRY(loom_brownian_increment(s->trees[i], (double)lo, (double)hi, w));
        for (int64_t k = 0; k < s->per; k++) w[k] = (w[k] * sign) / r;
    }
    return LOOM_OK;
}

void loom_bt_noise_free(loom_bt_noise *s)
{
    if (!s) return;
    if (s->trees)
        for (int i = 0; i < s->n_trees; i++) loom_brownian_free(s->trees[i]);
    free(s->trees);
    free(s);
}
