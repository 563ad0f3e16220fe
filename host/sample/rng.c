/* rng.c — generator kinds, loom_rng and the per-job noise helper
 * (addons.md §7.1, §7.5). The generators themselves live in rng_mt.c and
 * rng_philox.c. */
#include <stdlib.h>

#include "rng_impl.h"

/* ---- names: one table feeds CLI, logs and infotext (style.md item 11) ---- */

static const struct {
    const char *name;   /* CLI */
    const char *a1111;  /* A1111 randn_source, written as "RNG: …" in infotext */
    const char *alias;  /* another accepted spelling */
} kind_names[] = {
    [LOOM_RNG_CPU] = {"cpu", "CPU", NULL},
    /* A1111's default "GPU" is torch CUDA, which NV equals for latent sizes (§7.3) */
    [LOOM_RNG_CUDA] = {"cuda", "NV", "GPU"},
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == LOOM_RNG_KIND_COUNT, "kind_names covers every kind");

static const char *const cpu_math_names[] = {
    [LOOM_RNG_CPU_MATH_AVX2] = "avx2",
    [LOOM_RNG_CPU_MATH_LIBM] = "libm",
};
_Static_assert(sizeof cpu_math_names / sizeof cpu_math_names[0] == LOOM_RNG_CPU_MATH_COUNT,
               "cpu_math_names covers every variant");

const char *loom_rng_kind_name(loom_rng_kind kind)
{
    return (unsigned)kind < LOOM_RNG_KIND_COUNT ? kind_names[kind].name : "?";
}

const char *loom_rng_kind_a1111_name(loom_rng_kind kind)
{
    return (unsigned)kind < LOOM_RNG_KIND_COUNT ? kind_names[kind].a1111 : "?";
}

const char *loom_rng_cpu_math_name(loom_rng_cpu_math m)
{
    return (unsigned)m < LOOM_RNG_CPU_MATH_COUNT ? cpu_math_names[m] : "?";
}

static int ascii_case_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char cb = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (ca != cb) return 0;
        if (!ca) return 1;
    }
}

loom_status loom_rng_kind_parse(const char *name, loom_rng_kind *out)
{
    for (int k = 0; name && k < LOOM_RNG_KIND_COUNT; k++) {
        if (ascii_case_eq(name, kind_names[k].name) || ascii_case_eq(name, kind_names[k].a1111) ||
            (kind_names[k].alias && ascii_case_eq(name, kind_names[k].alias))) {
            *out = (loom_rng_kind)k;
            return LOOM_OK;
        }
    }
    return loom_fail(LOOM_E_INVALID, "unknown RNG '%s' (choose cuda or cpu)", name ? name : "(null)");
}

/* ---- one generator ---- */

struct loom_rng {
    loom_rng_kind kind;
    union {
        loom_torch_cpu cpu;
        loom_philox philox;
    } u;
};

void loom_rng_reseed(loom_rng *r, uint64_t seed)
{
    if (r->kind == LOOM_RNG_CPU)
        loom_torch_cpu_seed(&r->u.cpu, seed);
    else
        loom_philox_seed(&r->u.philox, seed);
}

loom_rng *loom_rng_new(loom_rng_kind kind, uint64_t seed)
{
    if ((unsigned)kind >= LOOM_RNG_KIND_COUNT) {
        loom_fail(LOOM_E_INVALID, "RNG kind %d does not exist", (int)kind);
        return NULL;
    }
    loom_rng *r = calloc(1, sizeof *r);
    if (!r) {
        loom_fail(LOOM_E_NOMEM, "out of memory for an RNG");
        return NULL;
    }
    r->kind = kind;
    if (kind == LOOM_RNG_CPU) r->u.cpu.math = LOOM_RNG_CPU_MATH_AVX2;
    else r->u.philox.threads = 0;
    loom_rng_reseed(r, seed);
    return r;
}

void loom_rng_free(loom_rng *r) { free(r); }

loom_rng_kind loom_rng_get_kind(const loom_rng *r) { return r->kind; }

loom_status loom_rng_set_cpu_math(loom_rng *r, loom_rng_cpu_math m)
{
    if (r->kind != LOOM_RNG_CPU) return loom_fail(LOOM_E_INVALID, "the CPU math variant applies to the cpu RNG only");
    if ((unsigned)m >= LOOM_RNG_CPU_MATH_COUNT) return loom_fail(LOOM_E_INVALID, "CPU math variant %d does not exist", (int)m);
    r->u.cpu.math = m;
    return LOOM_OK;
}

loom_status loom_rng_set_cuda_threads(loom_rng *r, int64_t threads)
{
    if (r->kind != LOOM_RNG_CUDA) return loom_fail(LOOM_E_INVALID, "a thread capacity applies to the cuda RNG only");
    /* S is a whole number of 256-thread blocks (§7.2 step 1); 2^32 keeps the
     * subsequence inside what any GPU runs */
    if (threads < 0 || threads % 256 != 0 || threads > (INT64_C(1) << 32))
        return loom_fail(LOOM_E_INVALID, "CUDA thread capacity %lld is not a multiple of 256 in [0, 2^32]",
                         (long long)threads);
    r->u.philox.threads = threads;
    return LOOM_OK;
}

loom_status loom_rng_randn(loom_rng *r, float *out, int64_t n)
{
    if (n < 0) return loom_fail(LOOM_E_INVALID, "randn of %lld elements", (long long)n);
    if (n > 0 && !out) return loom_fail(LOOM_E_INVALID, "randn into a NULL buffer");
    if (r->kind == LOOM_RNG_CPU) {
        loom_torch_cpu_randn(&r->u.cpu, out, n);
        return LOOM_OK;
    }
    /* NV puts the element index in one 32-bit counter word (§7.3) */
    if (n > (INT64_C(1) << 32))
        return loom_fail(LOOM_E_INVALID, "cuda RNG: %lld elements in one draw (at most 2^32)", (long long)n);
    loom_philox_randn(&r->u.philox, out, n);
    return LOOM_OK;
}

/* ---- per-job noise ---- */

struct loom_noise {
    loom_noise_cfg cfg;
    int calls;       /* loom_noise_next calls so far */
    loom_rng **gens; /* A1111: one per image; ComfyUI: [0] initial (cpu), [1] steps */
    int ngens;
};

void loom_noise_free(loom_noise *nz)
{
    if (!nz) return;
    for (int i = 0; i < nz->ngens; i++) loom_rng_free(nz->gens[i]);
    free(nz->gens);
    free(nz);
}

loom_status loom_noise_new(const loom_noise_cfg *cfg, loom_noise **out)
{
    *out = NULL;
    if ((unsigned)cfg->kind >= LOOM_RNG_KIND_COUNT || (unsigned)cfg->mode >= LOOM_NOISE_MODE_COUNT)
        return loom_fail(LOOM_E_INVALID, "noise: bad RNG kind %d or mode %d", (int)cfg->kind, (int)cfg->mode);
    if (cfg->batch < 1 || cfg->numel < 1 || cfg->numel > INT64_MAX / cfg->batch)
        return loom_fail(LOOM_E_INVALID, "noise: batch %d of %lld elements", cfg->batch, (long long)cfg->numel);
    if (cfg->mode == LOOM_NOISE_COMFY && cfg->ensd != 0)
        return loom_fail(LOOM_E_INVALID, "noise: eta noise seed delta is an A1111 setting, not ComfyUI's");
    /* the cuda generator's per-draw limit, checked once here rather than mid-job */
    int64_t per_draw = cfg->mode == LOOM_NOISE_A1111 ? cfg->numel : cfg->numel * cfg->batch;
    if (cfg->kind == LOOM_RNG_CUDA && per_draw > (INT64_C(1) << 32))
        return loom_fail(LOOM_E_INVALID, "noise: %lld elements per draw exceed the cuda RNG's 2^32", (long long)per_draw);

    loom_noise *nz = calloc(1, sizeof *nz);
    int ngens = cfg->mode == LOOM_NOISE_A1111 ? cfg->batch : 2;
    if (nz) nz->gens = calloc((size_t)ngens, sizeof *nz->gens);
    if (!nz || !nz->gens) {
        free(nz);
        return loom_fail(LOOM_E_NOMEM, "noise: out of memory for %d generators", ngens);
    }
    nz->cfg = *cfg;
    nz->ngens = ngens;
    for (int i = 0; i < ngens; i++) {
        loom_rng_kind kind = cfg->kind;
        uint64_t seed = cfg->seed + (uint64_t)i; /* A1111: image i uses seed + i (§7.1) */
        if (cfg->mode == LOOM_NOISE_COMFY) {
            /* §7.5: prepare_noise seeds the global CPU generator with seed;
             * default_noise_sampler seeds a generator on the latent's device
             * with seed, or seed + 1 when that device is the CPU */
            kind = i == 0 ? LOOM_RNG_CPU : cfg->kind;
            seed = cfg->seed + (i == 1 && kind == LOOM_RNG_CPU ? 1u : 0u);
        }
        nz->gens[i] = loom_rng_new(kind, seed);
        loom_status s = nz->gens[i] ? LOOM_OK : LOOM_E_NOMEM;
        if (!s && kind == LOOM_RNG_CUDA) s = loom_rng_set_cuda_threads(nz->gens[i], cfg->cuda_threads);
        if (s) {
            loom_noise_free(nz);
            return s;
        }
    }
    *out = nz;
    return LOOM_OK;
}

loom_status loom_noise_next(loom_noise *nz, float *out)
{
    const loom_noise_cfg *c = &nz->cfg;
    int first = nz->calls++ == 0;
    if (c->mode == LOOM_NOISE_COMFY) return loom_rng_randn(nz->gens[first ? 0 : 1], out, c->numel * c->batch);

    for (int i = 0; i < c->batch; i++) LOOM_TRY(loom_rng_randn(nz->gens[i], out + (int64_t)i * c->numel, c->numel));
    /* A1111 ImageRNG.first(): with ENSD the generators restart at seed + i + ENSD
     * right after the initial noise (§7.1) */
    if (first && c->ensd != 0)
        for (int i = 0; i < c->batch; i++) loom_rng_reseed(nz->gens[i], c->seed + (uint64_t)i + (uint64_t)c->ensd);
    return LOOM_OK;
}
