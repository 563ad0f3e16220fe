/* sd1_random.c — random weights for an SD1.x layout, written as fp16
 * safetensors (sd1_layout.h).
 *
 * The generator is counter-based (SplitMix64's finaliser over seed, a hash of
 * the tensor name and the element index), so any chunk of any tensor can be
 * made on its own and the file is the same however the writer chunks it.
 * Scales follow PyTorch's default init (sd1_layout.c), which keeps
 * activations O(1) through the network: the model runs, and renders noise. */
#include "sd1_layout.h"

#include <stdlib.h>
#include <string.h>

#include "safetensors_write.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t name_key(const char *name, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return mix64(h ^ mix64(seed));
}

/* 24 random bits of counter k → uniform in (−1, 1), symmetric about 0. */
static float uniform(uint64_t key, uint64_t k)
{
    const uint64_t r = mix64(key + k * 0x9e3779b97f4a7c15ull);
    return (float)(r >> 40) * (1.0f / 8388608.0f) - 1.0f + (1.0f / 16777216.0f);
}

void loom_sd1_fill(const loom_sd1_tensor *t, uint64_t seed, uint64_t first, uint64_t count, void *out)
{
    const uint64_t key = name_key(t->name, seed);
    if (t->init == LOOM_SD1_INIT_UNIFORM && t->dtype == LOOM_F16 && t->scale <= 1.0f) {
        /* The bulk of a checkpoint, so the conversion is part of the generator
         * rather than loom_f32_to_f16 (which rounds to nearest and handles
         * every input, at twice the cost): the mantissa is truncated and values
         * below fp16's smallest normal (2^-14) become ±0. Random weights need
         * neither rounding nor subnormals, and |v| ≤ 1 cannot overflow. */
        uint16_t *o = out;
        for (uint64_t i = 0; i < count; i++) {
            const float v = uniform(key, first + i) * t->scale;
            uint32_t u;
            memcpy(&u, &v, sizeof u);
            const uint32_t a = u & 0x7fffffffu, sign = (u >> 16) & 0x8000u;
            o[i] = (uint16_t)(a < 0x38800000u ? sign : sign | ((a - 0x38000000u) >> 13));
        }
        return;
    }
    for (uint64_t i = 0; i < count; i++) {
        const uint64_t k = first + i;
        float v = 0.0f;
        if (t->init == LOOM_SD1_INIT_UNIFORM) {
            v = uniform(key, k) * t->scale;
        } else if (t->init == LOOM_SD1_INIT_ONES) {
            v = 1.0f;
        } else if (t->init == LOOM_SD1_INIT_ARANGE) {
            v = (float)k;
        }
        switch (t->dtype) {
        case LOOM_F16: ((uint16_t *)out)[i] = loom_f32_to_f16(v); break;
        case LOOM_F32: ((float *)out)[i] = v; break;
        case LOOM_I64: ((int64_t *)out)[i] = t->init == LOOM_SD1_INIT_ARANGE ? (int64_t)k : (int64_t)v; break;
        default: memset((uint8_t *)out + i * loom_dtype_size(t->dtype), 0, loom_dtype_size(t->dtype)); break;
        }
    }
}

typedef struct fill_ctx {
    const loom_sd1_layout *l;
    uint64_t seed;
} fill_ctx;

static loom_status fill(void *ctx, int index, uint64_t offset, void *buf, size_t len)
{
    const fill_ctx *f = ctx;
    const loom_sd1_tensor *t = &f->l->t[index];
    const size_t es = loom_dtype_size(t->dtype);
    loom_sd1_fill(t, f->seed, offset / es, len / es, buf);
    return LOOM_OK;
}

loom_status loom_sd1_write_random(const char *path, const loom_sd1_layout *l, uint64_t seed, const loom_tf_meta *meta,
                                  int n_meta)
{
    for (int i = 0; i < l->n; i++) {
        const loom_dtype d = l->t[i].dtype;
        if (d != LOOM_F16 && d != LOOM_F32 && d != LOOM_I64)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: '%s': random %s tensors are not supported", path, l->t[i].name,
                             loom_dtype_name(d));
    }
    loom_st_decl *decl = calloc((size_t)l->n + 1, sizeof *decl);
    if (!decl) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < l->n; i++) {
        decl[i].name = l->t[i].name;
        decl[i].dtype = l->t[i].dtype;
        decl[i].ndim = l->t[i].ndim;
        for (int d = 0; d < l->t[i].ndim; d++) decl[i].shape[d] = l->t[i].shape[d];
    }
    fill_ctx ctx = {l, seed};
    loom_status s = loom_safetensors_write(path, decl, l->n, meta, n_meta, fill, &ctx);
    free(decl);
    return s;
}
