/* unet_kv.c — see unet_kv.h. */
#include "unet_kv.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "tensor_alloc.h"

typedef struct kv_layer {
    loom_tensor k, v;
} kv_layer;

typedef struct kv_slot {
    int used, complete;
    uint64_t last_use;
    /* key */
    const loom_ops *ops;
    uint64_t plans_serial;
    const void *dplans;
    int batch;
    int *set_of;      /* [batch] */
    int ndim;
    int64_t shape[3];
    float *ctx;       /* host copy of the context */
    /* value */
    kv_layer *layers;
    int n_layers, cap_layers;
    size_t bytes;
} kv_slot;

struct loom_unet_kv {
    kv_slot slot[LOOM_UNET_KV_SLOTS];
    kv_slot *cur;     /* the call's slot */
    int cursor;       /* its next layer */
    uint64_t clock;
    int hits, misses;
};

loom_status loom_unet_kv_create(loom_unet_kv **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "unet K/V cache: out of memory");
}

static void drop(kv_slot *s)
{
    for (int i = 0; i < s->n_layers; i++) loom_tensor_free(&s->layers[i].k), loom_tensor_free(&s->layers[i].v);
    free(s->layers), free(s->set_of), free(s->ctx);
    memset(s, 0, sizeof *s);
}

void loom_unet_kv_free(loom_unet_kv *kv)
{
    if (!kv) return;
    for (int i = 0; i < LOOM_UNET_KV_SLOTS; i++) drop(&kv->slot[i]);
    free(kv);
}

static int matches(const kv_slot *s, const loom_ops *ops, const loom_model_ad *ad, const loom_tensor *c)
{
    const int batch = ad && ad->plans ? ad->batch : 0;
    if (!s->used || !s->complete || s->ops != ops || s->batch != batch || s->ndim != c->ndim) return 0;
    if (s->plans_serial != (batch ? loom_adapter_plans_serial(ad->plans) : 0)) return 0;
    if (s->dplans != (batch ? (const void *)ad->dplans : NULL)) return 0;
    if (batch && memcmp(s->set_of, ad->set_of, (size_t)batch * sizeof *s->set_of) != 0) return 0;
    for (int d = 0; d < c->ndim; d++)
        if (s->shape[d] != c->shape[d]) return 0;
    return memcmp(s->ctx, c->data, (size_t)loom_tensor_numel(c) * sizeof(float)) == 0;
}

loom_status loom_unet_kv_begin(loom_unet_kv *kv, const loom_ops *ops, const loom_model_ad *ad,
                               const loom_tensor *c)
{
    kv->cur = NULL, kv->cursor = 0;
    if (c->device != LOOM_HOST || c->dtype != LOOM_F32 || !loom_tensor_is_contiguous(c) || c->ndim != 3)
        return loom_fail(LOOM_E_INVALID, "unet K/V cache: the context must be contiguous host f32 [B, S, C]");
    kv->clock++;
    kv_slot *lru = &kv->slot[0];
    for (int i = 0; i < LOOM_UNET_KV_SLOTS; i++) {
        kv_slot *s = &kv->slot[i];
        if (matches(s, ops, ad, c)) {
            s->last_use = kv->clock, kv->cur = s, kv->hits++;
            return LOOM_OK;
        }
        if (!s->used || (lru->used && s->last_use < lru->last_use)) lru = s;
    }
    drop(lru);
    const int batch = ad && ad->plans ? ad->batch : 0;
    const size_t n = (size_t)loom_tensor_numel(c);
    lru->ctx = malloc(n ? n * sizeof(float) : 1);
    lru->set_of = malloc(batch ? (size_t)batch * sizeof *lru->set_of : 1);
    if (!lru->ctx || !lru->set_of) {
        drop(lru);
        return loom_fail(LOOM_E_NOMEM, "unet K/V cache: out of memory for the key");
    }
    memcpy(lru->ctx, c->data, n * sizeof(float));
    if (batch) memcpy(lru->set_of, ad->set_of, (size_t)batch * sizeof *lru->set_of);
    lru->used = 1, lru->complete = 0, lru->last_use = kv->clock, lru->ops = ops, lru->batch = batch;
    lru->plans_serial = batch ? loom_adapter_plans_serial(ad->plans) : 0;
    lru->dplans = batch ? (const void *)ad->dplans : NULL;
    lru->ndim = c->ndim;
    for (int d = 0; d < c->ndim; d++) lru->shape[d] = c->shape[d];
    kv->cur = lru, kv->misses++;
    return LOOM_OK;
}

/* A persistent tensor: device memory straight from the pool, never from the call's arena. */
static loom_status alloc_persistent(const loom_ops *ops, int64_t b, int64_t sk, int64_t c, loom_tensor *t)
{
    const int64_t s[3] = {b, sk, c};
    if (ops->device == LOOM_HOST) return loom_tensor_alloc(LOOM_HOST, ops->dtype, 3, s, t);
    void *p = NULL;
    LOOM_TRY(loom_device_alloc((size_t)(b * sk * c) * loom_dtype_size(ops->dtype), &p));
    *t = loom_tensor_view(p, ops->dtype, 3, s);
    t->device = ops->device;
    return LOOM_OK;
}

int loom_unet_kv_hit(const loom_unet_kv *kv) { return kv->cur && kv->cur->complete; }

loom_status loom_unet_kv_next(loom_unet_kv *kv, const loom_ops *ops, int64_t b, int64_t sk, int64_t c,
                              loom_tensor **k, loom_tensor **v, int *hit)
{
    kv_slot *s = kv->cur;
    if (!s) return loom_fail(LOOM_E_INVALID, "unet K/V cache: next without begin");
    const int i = kv->cursor++;
    if (s->complete) {
        if (i >= s->n_layers || s->layers[i].k.shape[0] != b || s->layers[i].k.shape[1] != sk ||
            s->layers[i].k.shape[2] != c)
            return loom_fail(LOOM_E_INVALID, "unet K/V cache: layer %d is not the cached one", i);
        *k = &s->layers[i].k, *v = &s->layers[i].v, *hit = 1;
        return LOOM_OK;
    }
    if (i != s->n_layers) return loom_fail(LOOM_E_INVALID, "unet K/V cache: layer %d out of order", i);
    if (s->n_layers == s->cap_layers) {
        const int cap = s->cap_layers ? 2 * s->cap_layers : 32;
        kv_layer *l = realloc(s->layers, (size_t)cap * sizeof *l);
        if (!l) return loom_fail(LOOM_E_NOMEM, "unet K/V cache: out of memory");
        s->layers = l, s->cap_layers = cap;
    }
    kv_layer *l = &s->layers[s->n_layers];
    memset(l, 0, sizeof *l);
    LOOM_TRY(alloc_persistent(ops, b, sk, c, &l->k));
    loom_status st = alloc_persistent(ops, b, sk, c, &l->v);
    if (st != LOOM_OK) {
        loom_tensor_free(&l->k);
        return st;
    }
    s->n_layers++;
    s->bytes += loom_tensor_nbytes(&l->k) + loom_tensor_nbytes(&l->v);
    *k = &l->k, *v = &l->v, *hit = 0;
    return LOOM_OK;
}

void loom_unet_kv_end(loom_unet_kv *kv, loom_status s)
{
    kv_slot *cur = kv->cur;
    kv->cur = NULL;
    if (!cur) return;
    if (s != LOOM_OK || (cur->complete && kv->cursor != cur->n_layers)) drop(cur);
    else cur->complete = 1;
}

void loom_unet_kv_get_stats(const loom_unet_kv *kv, loom_unet_kv_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!kv) return;
    for (int i = 0; i < LOOM_UNET_KV_SLOTS; i++) st->bytes += kv->slot[i].bytes;
    st->hits = kv->hits, st->misses = kv->misses;
}
