/* fixture_rng.c — see fixture_rng.h. */
#include "fixture_rng.h"

uint64_t fixture_rng_splitmix64(uint64_t x)
{
    uint64_t z = x + UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

float fixture_rng_uniform(uint32_t seed, uint64_t i)
{
    const int32_t k = (int32_t)(fixture_rng_splitmix64(((uint64_t)seed << 32) + i) >> 40); /* 0 .. 2^24−1 */
    return (float)(k - (1 << 23)) * 0x1p-23f; /* both steps exact */
}

void fixture_rng_fill(float *out, int64_t n, uint32_t seed, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        const float u = fixture_rng_uniform(seed, (uint64_t)i);
        out[i] = u * scale; /* one rounded f32 multiply, as numpy's float32 * float32 */
    }
}
