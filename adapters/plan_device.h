/* plan_device.h — adapter plans on the CUDA device (issue 5 item 2): the host plans of plan.h
 * (f32 host tensors) copied once per request into device memory, in the dtypes the CUDA
 * backend's linear_adapted / conv2d_adapted take (kernels/cuda/cuda_ops.h):
 *   - factors down, up, down2, up2: f16, or bf16 with the _dtype builders (the activations'
 *     dtype: the ops take factors in x's), same shapes and layouts (adapter_plan.h);
 *   - vectors in_scale, out_scale, bias_add: f32 — DoRA's ratios ρ = g/‖V‖ sit close to 1 and
 *     their deviation from 1 is the whole effect, more than f16's 11 bits keep (adapters.md §6.7);
 *   - every LoHa/LoKr (HADA/KRON) term's ΔW, `dense` f32 [O, kh·kw·I] (adapter_plan.h
 *     "Precomputed ΔW"), built once here on the device from the uploaded 16-bit factors
 *     (kernels/adapter_dense.h) so that the ops apply it as one extra GEMM per call instead of
 *     rebuilding it every sampling step. Cost: 4·O·kh·kw·I bytes per term, twice the f16 base
 *     weight it adapts; terms of one row with the same factors (one LoHa in several sets) share
 *     one. When the GPU cannot hold them all (out of memory), every `dense` stays empty and the
 *     ops build ΔW per call as before. A host plan's `dense` is ignored.
 * Kinds, scales and n_terms are copied as they are; the ops check the rest.
 *
 * The groups and terms themselves are host structs (an op reads them on the host); only their
 * tensors' data points into one device arena, uploaded in one copy (the f16 / bf16 conversion is
 * done on the host with loom_f32_to_f16 / loom_f32_to_bf16, round to nearest even, the same as
 * torch's casts). A factor
 * that several sets share on one row (plan.c builds a module's factors once per row) is stored
 * once; the ΔWs live in a second allocation. Nothing here touches the base weights.
 *
 * With LOOM_CUDA=OFF, or without a GPU, building fails with LOOM_E_DEVICE and the device
 * layer's message (LOOM_E_NOMEM when the GPU is full, naming what did not fit); host tensors
 * that are not f32, host, contiguous fail first with LOOM_E_INVALID naming the row, group, term
 * and tensor, LoHa/LoKr factors whose shapes disagree with LOOM_E_INVALID naming the row, group
 * and term. Every failure frees what was made. */
#ifndef LOOM_PLAN_DEVICE_H
#define LOOM_PLAN_DEVICE_H

#include "plan.h"

typedef struct loom_adapter_plans_device loom_adapter_plans_device;

/* Every row of `host` (rows 0 .. n_rows−1: the key table's row count, map->n_rows of the
 * loom_adapter_plans_build call) on the device. Rows no set touches stay NULL. */
loom_status loom_adapter_plans_device_build(const loom_adapter_plans *host, int n_rows,
                                            loom_adapter_plans_device **out);
/* The same with the factors in `dtype`, LOOM_F16 (what the call above does) or LOOM_BF16 (for
 * `--dtype bf16`); the vectors and ΔWs stay f32. Another dtype is LOOM_E_INVALID. */
loom_status loom_adapter_plans_device_build_dtype(const loom_adapter_plans *host, int n_rows, loom_dtype dtype,
                                                  loom_adapter_plans_device **out);

/* One array of n host groups (e.g. one row's groups, or a hand-made plan) on the device, as
 * row 0 of the result, n "sets" wide; factors f16, or `dtype` with the _dtype variant. */
loom_status loom_ad_groups_to_device(const loom_ad_group *host, int n, loom_adapter_plans_device **out);
loom_status loom_ad_groups_to_device_dtype(const loom_ad_group *host, int n, loom_dtype dtype,
                                           loom_adapter_plans_device **out);

/* Waits for queued device work, then frees the arena and the host structs. NULL is fine. */
void loom_adapter_plans_device_free(loom_adapter_plans_device *p);

int loom_adapter_plans_device_n_sets(const loom_adapter_plans_device *p);
/* The device groups of row `row`, one per set (index them like loom_adapter_plans_row's), or
 * NULL when no set touches the row or row is out of range. */
const loom_ad_group *loom_adapter_plans_device_row(const loom_adapter_plans_device *p, int row);
/* Device bytes held (the factor/vector arena and the ΔWs), for memory reports. */
size_t loom_adapter_plans_device_bytes(const loom_adapter_plans_device *p);

#endif
