/* rng_philox.c — Philox4x32-10 normals: A1111's "NV" generator and torch's
 * CUDA layout (addons.md §7.2, §7.3).
 *
 * Both draw normals from Philox blocks keyed by the seed; they differ only in
 * which counter feeds which element:
 *
 *   NV (threads = 0): element i of a call gets the sine output of block
 *       counter (call, 0, i, 0); every call advances the offset by one block.
 *   torch CUDA (threads = S): the kernel runs S' = min(S, 256·ceil(n/256))
 *       threads; thread t uses counters (off/4 + k, 0 | t) for k = 0, 1, … and
 *       writes its four normals to elements t + k·4S' + i·S'; the call
 *       advances the offset by 4·(⌊(n−1)/(4S')⌋ + 1) (§7.2 steps 1–4).
 *
 * For n ≤ S' the two coincide (§7.2 item 8): element e = thread e, k = 0,
 * component 0, and the offset moves by one block per call.
 *
 * Values: the Box–Muller is evaluated in double and rounded to float, as
 * A1111's numpy code does (§7.3). A GPU evaluates it in float with
 * __sincosf, so real torch CUDA output can differ in the last bits; bit-exact
 * GPU noise needs curand on the device (§7.2 item 7). */
#include <math.h>

#include "rng_impl.h"

/* Philox4x32 multipliers and Weyl key increments (§7.2 step 5). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void loom_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) { /* the key is bumped between rounds, not after the last */
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void loom_philox_box_muller(uint32_t x, uint32_t y, float *s, float *c)
{
    /* CURAND's constants are float: 2^-32 as the float nearest 2.3283064e-10,
     * and 2π·2^-32 as a float. A1111 builds both as float32 arrays from the
     * double values 2.3283064e-10 and 2.3283064e-10 · 6.2831855, then numpy
     * promotes the uint32 words to double: u = x·k + k/2 in double (two
     * roundings, no FMA), likewise v. */
    const double k = (double)(float)2.3283064e-10;
    const double k2pi = (double)(float)(2.3283064e-10 * 6.2831855);
    /* volatile: the products must be rounded before the adds, even where a
     * compiler would fuse them (GCC in GNU mode contracts across statements) */
    volatile double xu = (double)x * k;
    volatile double yv = (double)y * k2pi;
    double u = xu + k * 0.5;
    double v = yv + k2pi * 0.5;
    double l = log(u);
    double r = sqrt(-2.0 * l);
    double sv = sin(v);
    double cv = cos(v);
    *s = (float)(r * sv);
    if (c) *c = (float)(r * cv);
}

void loom_philox_seed(loom_philox *g, uint64_t seed)
{
    g->seed = seed;
    g->offset = 0;
}

void loom_philox_randn(loom_philox *g, float *out, int64_t n)
{
    const uint32_t key[2] = {(uint32_t)g->seed, (uint32_t)(g->seed >> 32)};
    int64_t threads; /* S': threads the kernel runs */
    uint64_t inc;    /* offset advance of this call, in 32-bit outputs */
    if (g->threads <= 0) {
        /* NV: one thread per element, one block per call, even for n = 0 */
        threads = n;
        inc = 4;
    } else {
        if (n == 0) return; /* torch launches nothing and keeps its offset */
        int64_t grid_threads = (n + 255) / 256 * 256;
        threads = grid_threads < g->threads ? grid_threads : g->threads;
        inc = (uint64_t)((n - 1) / (threads * 4) + 1) * 4;
    }
    uint64_t block0 = g->offset / 4; /* the offset is a multiple of 4 (§7.2 step 3) */
    g->offset += inc;

    int64_t active = threads < n ? threads : n; /* threads >= n write nothing */
    for (int64_t t = 0; t < active; t++) {
        for (int64_t k = 0;; k++) {
            int64_t e0 = t + k * 4 * threads;
            if (e0 >= n) break;
            uint64_t block = block0 + (uint64_t)k;
            /* counter.xy = block (64-bit), counter.zw = subsequence t */
            const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)t,
                                     (uint32_t)((uint64_t)t >> 32)};
            uint32_t w[4];
            loom_philox4x32_10(ctr, key, w);
            /* curand_normal4: (sin, cos) of words 0/1, then of words 2/3 */
            float nv[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            int need_more = e0 + threads < n;
            loom_philox_box_muller(w[0], w[1], &nv[0], need_more ? &nv[1] : NULL);
            if (e0 + 2 * threads < n) loom_philox_box_muller(w[2], w[3], &nv[2], &nv[3]);
            for (int i = 0; i < 4; i++) {
                int64_t e = e0 + i * threads;
                if (e < n) out[e] = nv[i];
            }
        }
    }
}
