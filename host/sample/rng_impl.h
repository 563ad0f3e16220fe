/* rng_impl.h — the generators behind rng.h (not a public interface).
 *
 *   rng_mt.c        mt19937 and torch's CPU normal sampling (§7.4)
 *   rng_cpu_math.c  scalar re-implementation of avx_mathfun's log/sincos
 *   rng_philox.c    Philox4x32-10, A1111 NV and torch's CUDA layout (§7.2, §7.3)
 *   rng.c           kinds table, loom_rng, loom_noise */
#ifndef LOOM_RNG_IMPL_H
#define LOOM_RNG_IMPL_H

#include <stdint.h>

#include "rng.h"

/* ---- torch CPU ---- */

enum { LOOM_MT_N = 624 };

typedef struct loom_mt19937 {
    uint32_t s[LOOM_MT_N];
    int idx; /* next word to temper; LOOM_MT_N = twist first */
} loom_mt19937;

void loom_mt_seed(loom_mt19937 *mt, uint32_t seed);
uint32_t loom_mt_next(loom_mt19937 *mt);

/* torch's CPUGeneratorImpl: the engine plus its cached second normal
 * (next_double_normal_sample), which the scalar path leaves between calls. */
typedef struct loom_torch_cpu {
    loom_mt19937 mt;
    int has_cached;
    double cached;
    loom_rng_cpu_math math;
} loom_torch_cpu;

void loom_torch_cpu_seed(loom_torch_cpu *g, uint64_t seed);
void loom_torch_cpu_randn(loom_torch_cpu *g, float *out, int64_t n);

/* avx_mathfun's log256_ps / sincos256_ps (Cephes polynomials), one lane at a
 * time, with the same float operations in the same order. */
float loom_cephes_logf(float x);
void loom_cephes_sincosf(float x, float *s, float *c);

/* ---- Philox ---- */

typedef struct loom_philox {
    uint64_t seed;
    uint64_t offset;  /* torch's philox offset, a multiple of 4 (NV: 4 · calls) */
    int64_t threads;  /* S; 0 = unlimited (A1111 NV) */
} loom_philox;

/* One Philox4x32-10 block: out = Philox(ctr, key). */
void loom_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* CURAND's Box–Muller on one word pair (§7.2 step 6), evaluated in double as
 * A1111's numpy code does (§7.3): *s = r·sin v, *c = r·cos v, rounded to float. */
void loom_philox_box_muller(uint32_t x, uint32_t y, float *s, float *c);
void loom_philox_seed(loom_philox *g, uint64_t seed);
void loom_philox_randn(loom_philox *g, float *out, int64_t n);

#endif
