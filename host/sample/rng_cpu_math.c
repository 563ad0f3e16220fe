/* rng_cpu_math.c — the float log and sincos torch's AVX2 normal kernel uses.
 *
 * torch on x86-64 with AVX2 (and on AVX-512 CPUs, which dispatch this kernel
 * to the AVX2 build) computes randn's Box–Muller with avx_mathfun's
 * log256_ps and sincos256_ps: Cephes' single-precision polynomials
 * (S. L. Moshier) as vectorised by J. Pommier. Their results differ from the C
 * library's in the last bits, so reproducing torch means evaluating the same
 * algorithm: the same constants (each a double literal rounded to float), the
 * same float operations in the same order, and the same bit tricks.
 *
 * FMA: torch's Linux wheels are compiled by GCC, whose default
 * -ffp-contract=fast fuses every multiply whose only use is an add or
 * subtract into one fma. That changes about 1% of randn's outputs, so those
 * steps are written as explicit fmaf() here (bit for bit against torch 2.x:
 * 2^20 consecutive outputs while developing, the committed fixture in
 * tests/rng). Builds by other compilers (MSVC on Windows, clang on macOS) may
 * not contract; no fixture from such a build exists yet.
 * Written lane by lane from the algorithm description; addons.md §7.4 step 2. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rng_impl.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "rng_cpu_math.c needs float arithmetic without excess precision (FLT_EVAL_METHOD == 0)"
#endif

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- log ---- */

/* ln x = ln m + e·ln 2, m in [sqrt(1/2), sqrt(2)); ln(1 + x) for the reduced x
 * is x − x²/2 + x³·P(x) with an 8th-degree P; ln 2 is split in q2 + q1 so
 * e·ln 2 adds without rounding loss. */
float loom_cephes_logf(float x)
{
    const float log_p[9] = {
        (float)7.0376836292E-2,  (float)-1.1514610310E-1, (float)1.1676998740E-1,
        (float)-1.2420140846E-1, (float)1.4249322787E-1,  (float)-1.6668057665E-1,
        (float)2.0000714765E-1,  (float)-2.4999993993E-1, (float)3.3333331174E-1,
    };
    const float q1 = (float)-2.12194440e-4;
    const float q2 = (float)0.693359375;
    const float sqrthf = (float)0.707106781186547524;

    int invalid = x <= 0.0f;             /* NaN out, as the vector code's mask (torch never passes one) */
    if (x < FLT_MIN) x = FLT_MIN;        /* max(x, smallest normal): no denormals */

    uint32_t bits = f2u(x);
    int32_t ei = (int32_t)(bits >> 23) - 0x7f;
    /* mantissa with exponent of 0.5: m in [0.5, 1) */
    float m = u2f((bits & ~0x7f800000u) | f2u(0.5f));
    float e = (float)ei;
    e = e + 1.0f;

    /* if m < sqrt(1/2): e -= 1, x = 2m − 1; else x = m − 1 (as masked adds) */
    int below = m < sqrthf;
    float tmp = below ? m : 0.0f;
    float one_masked = below ? 1.0f : 0.0f;
    float r = m - 1.0f;
    e = e - one_masked;
    r = r + tmp;

    float z = r * r;
    float y = log_p[0];
    for (int i = 1; i < 9; i++) y = fmaf(y, r, log_p[i]);
    y = y * r;
    /* y·z + e·q1: GCC fuses the first product, e·q1 stays a rounded product */
    tmp = e * q1;
    y = fmaf(y, z, tmp);
    y = fmaf(-z, 0.5f, y); /* − z/2 */
    r = r + y;
    r = fmaf(e, q2, r); /* + e·q2 */
    if (invalid) return u2f(0xFFFFFFFFu); /* result | all-ones mask: a NaN */
    return r;
}

/* ---- sincos ---- */

/* Octant reduction: j = (int)(|x|·4/π) rounded up to even, |x| − j·π/4 in three
 * steps (DP1 + DP2 + DP3 = π/4, DP1 and DP2 exact in few bits), then the sin
 * and cos polynomials on [−π/4, π/4], swapped and sign-fixed by the octant. */
void loom_cephes_sincosf(float x, float *s, float *c)
{
    const float minus_dp1 = (float)-0.78515625;
    const float minus_dp2 = (float)-2.4187564849853515625e-4;
    const float minus_dp3 = (float)-3.77489497744594108e-8;
    const float sincof_p0 = (float)-1.9515295891E-4;
    const float sincof_p1 = (float)8.3321608736E-3;
    const float sincof_p2 = (float)-1.6666654611E-1;
    const float coscof_p0 = (float)2.443315711809948E-005;
    const float coscof_p1 = (float)-1.388731625493765E-003;
    const float coscof_p2 = (float)4.166664568298827E-002;
    const float fopi = (float)1.27323954473516; /* 4/π */

    uint32_t sign_sin = f2u(x) & 0x80000000u;
    float ax = u2f(f2u(x) & 0x7FFFFFFFu);

    float y = ax * fopi;
    /* truncating conversion; out-of-range inputs give INT32_MIN as cvttps does */
    int32_t j = (y < 2147483648.0f) ? (int32_t)y : INT32_MIN;
    j = (int32_t)(((uint32_t)j + 1u) & ~1u);
    y = (float)j;

    uint32_t swap_sign_sin = ((uint32_t)j & 4u) << 29;
    int poly_sin = ((uint32_t)j & 2u) == 0; /* the mask selecting which polynomial gives sin */

    ax = fmaf(y, minus_dp1, ax);
    ax = fmaf(y, minus_dp2, ax);
    ax = fmaf(y, minus_dp3, ax);

    uint32_t sign_cos = (~((uint32_t)j - 2u) & 4u) << 29;
    sign_sin ^= swap_sign_sin;

    float z = ax * ax;
    /* cos polynomial: 1 − z/2 + z²·Q(z) */
    float yc = fmaf(coscof_p0, z, coscof_p1);
    yc = fmaf(yc, z, coscof_p2);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f));
    yc = yc + 1.0f;

    /* sin polynomial: x + x·z·P(z) */
    float ys = fmaf(sincof_p0, z, sincof_p1);
    ys = fmaf(ys, z, sincof_p2);
    ys = ys * z;
    ys = fmaf(ys, ax, ax);

    /* select with masks and subtractions exactly as the vector code does, so
     * signed zeros come out the same */
    float ysin2 = poly_sin ? ys : 0.0f;
    float ysin1 = poly_sin ? 0.0f : yc;
    ys = ys - ysin2;
    yc = yc - ysin1;
    float sv = ysin1 + ysin2;
    float cv = yc + ys;

    *s = u2f(f2u(sv) ^ sign_sin);
    *c = u2f(f2u(cv) ^ sign_cos);
}
