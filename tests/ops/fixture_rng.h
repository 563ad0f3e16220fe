/* fixture_rng.h — the op fixtures' counter-based PRNG, bit-identical to
 * scripts/fixture_rng.py: large fixture inputs are stored as (seed, scale)
 * and regenerated here, element by element.
 *
 *   u(seed, i) = (k − 2^23)·2^−23, k = top 24 bits of splitmix64(seed·2^32 + i),
 *   a float in [−1, 1) that f32 represents exactly; value = u·scale in f32. */
#ifndef LOOM_FIXTURE_RNG_H
#define LOOM_FIXTURE_RNG_H

#include <stdint.h>

/* SplitMix64's output for state x: the mix of x + 0x9E3779B97F4A7C15. */
uint64_t fixture_rng_splitmix64(uint64_t x);
float fixture_rng_uniform(uint32_t seed, uint64_t i);
/* out[i] = u(seed, i)·scale for i < n (n ≤ 2^32). */
void fixture_rng_fill(float *out, int64_t n, uint32_t seed, float scale);

#endif
