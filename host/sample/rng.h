/* rng.h — seed-compatible Gaussian noise (addons.md §7).
 *
 * Two generators, both reproducing another tool's bits:
 *
 *   cpu   torch's CPU generator: torch.manual_seed(seed); torch.randn(n)
 *         (mt19937 + torch's two normal-sampling paths, §7.4). A1111's
 *         "CPU" option, ComfyUI's and diffusers' initial noise.
 *   cuda  A1111's "NV" generator (modules/rng_philox.py, §7.3): Philox4x32-10
 *         evaluated on the CPU. It is torch.randn(n, device='cuda') for
 *         n <= S (the GPU's thread capacity, §7.2 item 8) up to the GPU's
 *         float Box–Muller rounding; loom_rng_set_cuda_threads() switches to
 *         torch's grid-stride layout for n > S.
 *
 * A loom_rng is one generator: consecutive loom_rng_randn calls continue its
 * stream exactly as consecutive torch.randn calls on one torch.Generator do.
 * loom_noise (below) is the per-job helper with A1111's and ComfyUI's seed
 * semantics (§7.1, §7.5). */
#ifndef LOOM_RNG_H
#define LOOM_RNG_H

#include <stdint.h>

#include "loom_base.h"

typedef enum loom_rng_kind {
    LOOM_RNG_CPU,
    LOOM_RNG_CUDA,
    LOOM_RNG_KIND_COUNT
} loom_rng_kind;

/* "cpu" / "cuda" (the CLI and log spelling). */
const char *loom_rng_kind_name(loom_rng_kind kind);
/* A1111's randn_source spelling for infotext ("CPU" / "NV"). */
const char *loom_rng_kind_a1111_name(loom_rng_kind kind);
/* Accepts the canonical name or A1111's ("CPU", "NV", and "GPU" for cuda),
 * case-insensitively; LOOM_E_INVALID naming the choices otherwise. */
loom_status loom_rng_kind_parse(const char *name, loom_rng_kind *out);

typedef struct loom_rng loom_rng;

/* A generator seeded as torch.manual_seed(seed) / rng_philox.Generator(seed).
 * NULL (message in loom_last_error) on a bad kind or out of memory. */
loom_rng *loom_rng_new(loom_rng_kind kind, uint64_t seed);
void loom_rng_free(loom_rng *r);
/* Re-seeds in place: the state a fresh loom_rng_new(kind, seed) has. */
void loom_rng_reseed(loom_rng *r, uint64_t seed);
loom_rng_kind loom_rng_get_kind(const loom_rng *r);

/* One torch.randn(n) (float32, contiguous) from this generator: out[0..n).
 * The shape does not matter, only n. LOOM_E_INVALID for n < 0, or for
 * n > 2^32 with the cuda kind (the element index is a 32-bit counter word). */
loom_status loom_rng_randn(loom_rng *r, float *out, int64_t n);

/* Which math torch's 16-wide Box–Muller uses (§7.4 step 2). x86-64 builds of
 * torch on AVX2 or AVX-512 CPUs use avx_mathfun's float log/sincos (the
 * default here); builds without AVX2 (ATEN_CPU_CAPABILITY=default) use the
 * C library's logf/cosf/sinf, which loom reproduces only with the same libm
 * (glibc on x86-64 was checked). */
typedef enum loom_rng_cpu_math {
    LOOM_RNG_CPU_MATH_AVX2,
    LOOM_RNG_CPU_MATH_LIBM,
    LOOM_RNG_CPU_MATH_COUNT
} loom_rng_cpu_math;
const char *loom_rng_cpu_math_name(loom_rng_cpu_math m); /* "avx2" / "libm" */
/* LOOM_E_INVALID unless r is a cpu generator and m a valid value. */
loom_status loom_rng_set_cpu_math(loom_rng *r, loom_rng_cpu_math m);

/* cuda kind only: the GPU's thread capacity S = 256 · SMs · floor(maxThreads
 * PerSM / 256) (§7.2 step 1). 0 (the default) = unlimited, which is exactly
 * A1111's NV layout. With S > 0 draws of n > S elements follow torch's
 * grid-stride mapping and offset increments (§7.2 steps 2–4). */
loom_status loom_rng_set_cuda_threads(loom_rng *r, int64_t threads);

/* ---- per-job noise: A1111 and ComfyUI seed semantics ---- */

typedef enum loom_noise_mode {
    /* A1111 (§7.1): image i has its own generator seeded seed+i; each draw is
     * one randn(numel) per image, continuing that image's stream. */
    LOOM_NOISE_A1111,
    /* ComfyUI (§7.5): the initial noise is ONE cpu randn(batch·numel) seeded
     * seed; step noise is one randn(batch·numel) per call from a second
     * generator: cpu seeded seed+1, or cuda seeded seed (its GPU path). */
    LOOM_NOISE_COMFY,
    LOOM_NOISE_MODE_COUNT
} loom_noise_mode;

typedef struct loom_noise_cfg {
    loom_rng_kind kind;   /* A1111: every generator; ComfyUI: the step-noise generator */
    loom_noise_mode mode;
    uint64_t seed;        /* image 0's seed (A1111: image i uses seed + i) */
    int batch;            /* images drawn together, >= 1 */
    int64_t numel;        /* elements per image: C·(H/8)·(W/8) */
    int64_t ensd;         /* A1111 eta_noise_seed_delta; 0 = off (A1111 mode only) */
    int64_t cuda_threads; /* loom_rng_set_cuda_threads for every cuda generator; 0 = NV */
} loom_noise_cfg;

typedef struct loom_noise loom_noise;

loom_status loom_noise_new(const loom_noise_cfg *cfg, loom_noise **out);
void loom_noise_free(loom_noise *nz);
/* A1111's ImageRNG.next(): the first call gives the initial latent noise,
 * every later call the noise one ancestral/SDE step draws. out: [batch, numel]. */
loom_status loom_noise_next(loom_noise *nz, float *out);

#endif
