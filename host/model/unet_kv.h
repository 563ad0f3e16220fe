/* unet_kv.h — cross-attention K and V computed once per request (issue 5 item 4).
 *
 * attn2's keys and values are to_k(context) and to_v(context): they depend on the text context
 * and on the live adapters of to_k/to_v, not on the latent or the timestep, so every step of a
 * request recomputes the same 2·(cross-attention layers) small GEMMs. The cache keeps them,
 * persistent (outside the activation arena), keyed by everything they depend on: the op table,
 * the adapter plans (by serial, adapters/plan.h, so freed-and-rebuilt plans at the same address
 * never match), the device plans, each sample's adapter set, and the context's shape and bytes
 * (compared in full: a prompt edit at step N, A1111's [from:to:N], is a different key).
 * A few keys are kept (LRU), so cond and uncond of different lengths, which ride in separate
 * UNet calls (pipeline.c), both hit.
 *
 * Layers are cached in the order the forward pass meets them; a call that fails drops its
 * slot. Host-side bookkeeping only; the tensors live on ops's device in its dtype. */
#ifndef LOOM_UNET_KV_H
#define LOOM_UNET_KV_H

#include "model_ad.h"
#include "ops.h"

#define LOOM_UNET_KV_SLOTS 4

typedef struct loom_unet_kv loom_unet_kv;

loom_status loom_unet_kv_create(loom_unet_kv **out);
void loom_unet_kv_free(loom_unet_kv *kv); /* NULL is fine */

/* Starts a forward call: picks the slot whose key matches, or empties the least recently used
 * one for this key. host_context is the call's context as host f32 [B, S, C]. */
loom_status loom_unet_kv_begin(loom_unet_kv *kv, const loom_ops *ops, const loom_model_ad *ad,
                               const loom_tensor *host_context);
/* 1 when the call's slot is complete: every layer's K and V are cached (the context is not read). */
int loom_unet_kv_hit(const loom_unet_kv *kv);
/* The next cross-attention layer: *k, *v ([b, sk, c], ops's device and dtype) hold its keys and
 * values when *hit, else they are freshly allocated (persistent) for the caller to fill. */
loom_status loom_unet_kv_next(loom_unet_kv *kv, const loom_ops *ops, int64_t b, int64_t sk, int64_t c,
                              loom_tensor **k, loom_tensor **v, int *hit);
/* Ends the call: on success the slot is complete and serves later calls; on failure it is dropped. */
void loom_unet_kv_end(loom_unet_kv *kv, loom_status s);

typedef struct loom_unet_kv_stats {
    size_t bytes;  /* held by every slot */
    int hits, misses; /* forward calls served from / filling a slot */
} loom_unet_kv_stats;
void loom_unet_kv_get_stats(const loom_unet_kv *kv, loom_unet_kv_stats *st);

#endif
