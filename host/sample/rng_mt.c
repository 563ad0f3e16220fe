/* rng_mt.c — torch.randn on the CPU, bit for bit (addons.md §7.4).
 *
 * torch.manual_seed(s) seeds an mt19937 with the low 32 bits of s. A float32
 * randn of n elements then takes one of two paths (torch's cpu
 * DistributionTemplates.h normal_kernel):
 *
 *   n >= 16 (contiguous): n 24-bit uniforms, then Box–Muller on blocks of 16
 *       (pairs j, j+8), then — if n is not a multiple of 16 — 16 NEW uniforms
 *       for the last window [n-16, n) (the tail recompute);
 *   n <  16: a double-precision Box–Muller per element from 53-bit uniforms,
 *       whose second output is cached in the generator and returned by the
 *       next scalar draw, even one in a later call.
 *
 * Float arithmetic here is written one operation per statement so that no
 * compiler contracts a multiply and an add into an FMA: torch's scalar code
 * has no such pair except its explicit fma(x, std = 1, mean = 0), which is
 * exact. (The AVX2 kernel's fused steps are in rng_cpu_math.c.) */
#include <float.h>
#include <math.h>

#include "rng_impl.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "rng_mt.c needs float arithmetic without excess precision (FLT_EVAL_METHOD == 0)"
#endif

/* c10::pi<double> */
static const double loom_pi = 3.14159265358979323846;

/* ---- mt19937 (the standard generator; torch's at::mt19937 is the same) ---- */

void loom_mt_seed(loom_mt19937 *mt, uint32_t seed)
{
    mt->s[0] = seed;
    for (uint32_t j = 1; j < LOOM_MT_N; j++) {
        uint32_t p = mt->s[j - 1];
        mt->s[j] = 1812433253u * (p ^ (p >> 30)) + j;
    }
    mt->idx = LOOM_MT_N; /* the first draw twists the whole state */
}

static void mt_twist(loom_mt19937 *mt)
{
    enum { M = 397 };
    for (int i = 0; i < LOOM_MT_N; i++) {
        uint32_t y = (mt->s[i] & 0x80000000u) | (mt->s[(i + 1) % LOOM_MT_N] & 0x7FFFFFFFu);
        uint32_t v = mt->s[(i + M) % LOOM_MT_N] ^ (y >> 1);
        if (y & 1u) v ^= 0x9908B0DFu;
        mt->s[i] = v;
    }
    mt->idx = 0;
}

uint32_t loom_mt_next(loom_mt19937 *mt)
{
    if (mt->idx >= LOOM_MT_N) mt_twist(mt);
    uint32_t y = mt->s[mt->idx++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

/* ---- torch's generator state ---- */

void loom_torch_cpu_seed(loom_torch_cpu *g, uint64_t seed)
{
    /* CPUGeneratorImpl::set_current_seed: mt19937(seed) keeps the low 32 bits
     * (§7.4), and the cached normal is dropped. */
    loom_mt_seed(&g->mt, (uint32_t)seed);
    g->has_cached = 0;
    g->cached = 0.0;
}

/* uniform_real_distribution<float>(0, 1): 24 random bits · 2^-24, exact. */
static float uniform24(loom_torch_cpu *g)
{
    uint32_t r = loom_mt_next(&g->mt) & 0xFFFFFFu;
    return (float)r * (1.0f / 16777216.0f);
}

/* uniform_real_distribution<double>(0, 1): random64() = (first << 32) | second,
 * 53 bits · 2^-53, exact. */
static double uniform53(loom_torch_cpu *g)
{
    uint64_t hi = loom_mt_next(&g->mt);
    uint64_t lo = loom_mt_next(&g->mt);
    uint64_t r = ((hi << 32) | lo) & ((UINT64_C(1) << 53) - 1);
    return (double)r * (1.0 / 9007199254740992.0);
}

/* normal_distribution<double>(0, 1) with the generator's one-value cache.
 * transformation::normal(v, mean 0, std 1) = v·1 + 0, which turns −0 into +0. */
static float normal_scalar(loom_torch_cpu *g)
{
    double v;
    if (g->has_cached) {
        g->has_cached = 0;
        v = g->cached;
    } else {
        double u1 = uniform53(g);
        double u2 = uniform53(g);
        double l = log1p(-u2);
        double r = sqrt(-2.0 * l);
        double two_pi = 2.0 * loom_pi;
        double theta = two_pi * u1;
        double sn = sin(theta);
        g->cached = r * sn;
        g->has_cached = 1;
        double cs = cos(theta);
        v = r * cs;
    }
    v = v + 0.0;
    return (float)v;
}

/* NormalFill16, avx_mathfun flavour (torch built for AVX2; AVX-512 CPUs use
 * the AVX2 kernel too): theta = float(2π)·u2 in float. */
static void fill16_avx2(float *d)
{
    const float two_pi = (float)(2.0 * loom_pi);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
        float l = loom_cephes_logf(u1);
        float t = -2.0f * l;
        float radius = sqrtf(t);
        float theta = two_pi * u2;
        float s, c;
        loom_cephes_sincosf(theta, &s, &c);
        float n1 = radius * c;
        float n2 = radius * s;
        /* _mm256_fmadd_ps(n, std = 1, mean = 0): exact, −0 becomes +0 */
        d[j] = n1 + 0.0f;
        d[j + 8] = n2 + 0.0f;
    }
}

/* NormalFill16, portable flavour: theta is computed in double (2.0f·π as a
 * double times u2) and rounded to float; log/cos/sin are the C library's. */
static void fill16_libm(float *d)
{
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
        float l = logf(u1);
        float t = -2.0f * l;
        float radius = sqrtf(t);
        double th = (2.0 * loom_pi) * (double)u2;
        float theta = (float)th;
        float n1 = radius * cosf(theta);
        float n2 = radius * sinf(theta);
        d[j] = n1 + 0.0f;
        d[j + 8] = n2 + 0.0f;
    }
}

static void fill16(const loom_torch_cpu *g, float *d)
{
    if (g->math == LOOM_RNG_CPU_MATH_LIBM)
        fill16_libm(d);
    else
        fill16_avx2(d);
}

void loom_torch_cpu_randn(loom_torch_cpu *g, float *out, int64_t n)
{
    /* §7.4: the threshold is the element count of the whole call, not of a
     * dimension; 16 elements or more take the block path. */
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) out[i] = normal_scalar(g);
        return;
    }
    for (int64_t i = 0; i < n; i++) out[i] = uniform24(g);
    for (int64_t b = 0; b + 16 <= n; b += 16) fill16(g, out + b);
    if (n % 16 != 0) {
        /* tail recompute: 16 fresh uniforms overwrite [n-16, n), including
         * outputs of the last full block */
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform24(g);
        fill16(g, tail);
    }
}
