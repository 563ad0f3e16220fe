/* adapter_plan.h — live adapters on one linear or conv module, in the form the ops apply them:
 * on top of the base op, without ever forming W + ΔW (DESIGN.md "Adapters without merging",
 * adapters.md §6). Backend-neutral data: every tensor lives on the op's device, f32 on the CPU.
 *
 * A plan is built per request by adapters/plan.h from parsed adapter files (scales, multipliers,
 * Tucker folds, DoRA norms and A1111's stacking order all resolved there); the ops only run it.
 *
 * Semantics. For the module y = W ⊛ x + b (⊛ a matmul or a conv, W in the backend's layout) and a
 * sample whose adapter set is group g:
 *
 *     y = out_scale ⊙ (W ⊛ (in_scale ⊙ x))
 *       + Σ_terms  scale · t.out_scale ⊙ (ΔW_t ⊛ (t.in_scale ⊙ x))
 *       + b + bias_add
 *     (+ the op's residual)
 *
 * where an empty vector means all ones (or zeros for bias_add). This one form is exact for any
 * stack of additive adapters (LoRA, LoCon, LoHa, LoKr, full) mixed with per-channel transforms
 * (IA³ in/out, DoRA in/out) in A1111's order (adapters.md §6.11): an output transform at position
 * k scales the base and the terms before k, an input transform at position k feeds the base and
 * the terms before k; the builder folds those products into each term's vectors.
 *
 * Per-sample sets: the op's batch is split by `group_of`: sample i uses groups[group_of[i]], or
 * runs the plain op when group_of[i] < 0. A batch mixing adapter sets thus gives every image
 * what it gets alone (issue 4 item 5).
 *
 * Factor layouts (backend layout of the target: linear W [O, I]; conv W OHWI [O, kh, kw, I]):
 *   LOWRANK  down [r, I] (linear) or [r, kh, kw, I] (conv: a conv with the module's kernel,
 *            stride and padding); up [O, r] (a 1×1 conv after it).  ΔW = up · down.
 *            LoRA, LoCon (Tucker core folded into down, §6.3).
 *   HADA     two LOWRANK pairs: ΔW = (up · down) ⊙ (up2 · down2), elementwise over the target's
 *            shape. LoHa (Tucker cores folded into the downs, §6.4). Backends may build ΔW per
 *            call into scratch or use the Khatri–Rao rank-r² form.
 *   KRON     down = W1 [a, c]; up = W2 [b, d] (linear) or [b, kh, kw, d] (conv), O = a·b,
 *            I = c·d: ΔW[o1·b + o2, p, q, i1·d + i2] = W1[o1, i1] · W2[o2, p, q, i2]. LoKr
 *            (decomposed / Tucker factors multiplied out by the builder, §6.5).
 *   DENSE    down = ΔW itself, in the target's layout. full / diff (§6.9).
 *
 * Precomputed ΔW (`dense`, HADA and KRON only, optional). A LoHa/LoKr ΔW depends only on its
 * factors, so a backend may build it once per request instead of once per op call (issue 5
 * item 2: "built once per request into scratch and applied as an extra GEMM, never written into
 * the base weights"). When `dense.data` is set it holds exactly the ΔW the factors define, f32
 * [O, kh·kw·I] (the target's layout flattened, row-major, contiguous) on the op's device; the
 * factors stay in the term (checks, messages) and the op uses `dense` instead of building ΔW.
 * adapters/plan_device.h fills it on the CUDA device (kernels/adapter_dense.h builds it); host
 * plans (adapters/plan.h) leave it empty and the CPU ops ignore it. Any other kind must leave it
 * empty (the CUDA ops refuse it).
 */
#ifndef LOOM_ADAPTER_PLAN_H
#define LOOM_ADAPTER_PLAN_H

#include "loom_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loom_ad_kind {
    LOOM_AD_LOWRANK = 0,
    LOOM_AD_HADA,
    LOOM_AD_KRON,
    LOOM_AD_DENSE,
    LOOM_AD_KIND_COUNT
} loom_ad_kind;

const char *loom_ad_kind_name(loom_ad_kind k);

typedef struct loom_ad_term {
    loom_ad_kind kind;
    loom_tensor down, up;      /* see the layouts above */
    loom_tensor down2, up2;    /* HADA's second pair; empty otherwise */
    float scale;               /* s·m, or s for DoRA terms whose m sits in out_scale */
    loom_tensor in_scale;      /* [I] or empty (data NULL) */
    loom_tensor out_scale;     /* [O] or empty */
    loom_tensor dense;         /* HADA/KRON: ΔW f32 [O, kh·kw·I] built once per request, or empty
                                  (data NULL): the op builds it per call. See "Precomputed ΔW". */
} loom_ad_term;

typedef struct loom_ad_group {  /* one adapter set on one module */
    loom_tensor in_scale;       /* [I] or empty: the base op sees in_scale ⊙ x */
    loom_tensor out_scale;      /* [O] or empty: scales W ⊛ x before the bias */
    loom_tensor bias_add;       /* [O] or empty: m·diff_b (full), added to the bias */
    int n_terms;
    const loom_ad_term *terms;
} loom_ad_group;

typedef struct loom_ad_plan {   /* one module, one op call */
    int batch;                  /* samples in the op's input: its leading dim */
    const int *group_of;        /* [batch]: index into groups, < 0 = the plain op */
    int n_groups;
    const loom_ad_group *groups;
} loom_ad_plan;

/* 1 when the plan changes nothing for any sample (NULL, no groups used, or only empty groups):
 * the caller may run the plain op. */
int loom_ad_plan_is_empty(const loom_ad_plan *p);

#ifdef __cplusplus
}
#endif
#endif
