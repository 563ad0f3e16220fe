/* model_io.h — where a model's tensors live: activations on the op table's
 * device in its storage type (ops.h: f32 on the host for the CPU backend,
 * f16 on the GPU for CUDA), and the host-f32 boundary every model entry
 * point (UNet, CLIP, VAE) keeps for its callers, so the pipeline, samplers
 * and tests are the same on every backend.
 *
 * Correctness-first runtime (issue 5): the CUDA path uploads a model call's
 * inputs and downloads its output at that boundary (a few hundred KB per
 * UNet step); keeping latents on the GPU across the step loop comes with the
 * performance work. */
#ifndef LOOM_MODEL_IO_H
#define LOOM_MODEL_IO_H

#include "ops.h"

struct loom_device_arena;
/* A model call's scope in its planned activation arena (device_arena.h): on a device, begin
 * before the call's first activation and end after its last (end also on the error path:
 * it returns `s` when that already failed). No-ops on the host. */
loom_status loom_model_scope_begin(const loom_ops *ops, struct loom_device_arena *arena);
loom_status loom_model_scope_end(const loom_ops *ops, struct loom_device_arena *arena, loom_status s);
/* The arena a model keeps for its calls ("unet", "vae decode"). */
loom_status loom_model_arena_create(const char *name, struct loom_device_arena **out);

/* An activation for ops: contiguous, ops->dtype on ops->device, uninitialised. */
loom_status loom_model_alloc(const loom_ops *ops, int ndim, const int64_t *shape, loom_tensor *out);
/* 1 when tensors must cross to/from ops's device (not host f32). */
int loom_model_on_device(const loom_ops *ops);
/* A new tensor on ops's device holding the host f32 tensor `host` as `dtype`
 * (f16 or f32). */
loom_status loom_model_upload(const loom_ops *ops, const loom_tensor *host, loom_dtype dtype, loom_tensor *out);
/* The device tensor `dev` (f16 or f32) into the host f32 tensor `host` of the same shape. */
loom_status loom_model_download(const loom_tensor *dev, loom_tensor *host);

#endif
