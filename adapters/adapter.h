/* adapter.h — one adapter file (LoRA / LyCORIS family) parsed into modules mapped to a
 * checkpoint's weights (adapters.md §1–§4, §8 steps 1–6). Nothing is merged: the engine applies
 * adapters in the forward pass; loom_adapter_module_delta is a CPU reference for tests.
 *
 * This layer never opens a file (it knows nothing of host/): the caller hands it each tensor's
 * name and a loom_tensor view, plus the path for messages. Factors are copied to owned f32
 * buffers in the order they are stored (PyTorch layout: Linear [O, I], conv [O, I, kh, kw];
 * a 1×1 conv factor may arrive 2-D or 4-D, §7 item 16). */
#ifndef LOOM_ADAPTER_H
#define LOOM_ADAPTER_H

#include <stdint.h>

#include "adapter_keys.h"
#include "adapter_kind.h"
#include "keymap.h"
#include "loom_base.h"

#define LOOM_ADAPTER_UNMATCHED_KEEP 4

typedef struct loom_adapter_factor {
    float *data;      /* NULL when the module has no tensor in this role */
    int ndim;         /* 0..4 */
    int64_t shape[4];
    int64_t numel;
} loom_adapter_factor;

typedef struct loom_adapter_module {
    const loom_keymap_row *target;
    loom_adapter_kind kind;     /* LoRA covers LoCon; `tucker` marks lora_mid / hada_t* / lokr_t2 */
    loom_adapter_part part;     /* UNet or text encoder: which multiplier applies (§3.3) */
    int tucker;
    int64_t rank;               /* A1111's rank (§3.1), 0 when the algorithm has none */
    int has_alpha;
    float alpha;
    float scale;                /* s of §3.1: scale key, else alpha/rank, else 1 */
    int on_input;               /* IA³: the vector scales input columns (§2.4) */
    loom_adapter_factor f[LOOM_AR_COUNT]; /* indexed by role; scalars (alpha, scale, on_input) are not kept */
} loom_adapter_module;

typedef struct loom_adapter {
    loom_sd_family family;
    int n_modules;
    loom_adapter_module *modules;  /* in module-stem order */
    int n_unmatched;               /* modules whose stem is in no row of the table */
    char *unmatched[LOOM_ADAPTER_UNMATCHED_KEEP]; /* the first few of those stems */
    int n_embeddings;              /* bundle_emb.<name> groups, skipped here (§2.12) */
} loom_adapter;

/* One named tensor of the file. */
typedef struct loom_adapter_src {
    const char *name;
    loom_tensor t;
} loom_adapter_src;

/* Parses n tensors of the file `path` against the key map `map`. Fails with one line naming the
 * path and the key: a module missing a factor, factors of different ranks, factor shapes that
 * do not fit the target, a non-finite alpha or scale, an unknown suffix, an algorithm loom does
 * not handle (GLoRA, OFT), or a file made for another family. Module stems found in no row are
 * counted; with `strict` they are an error. On failure *out is left empty. */
loom_status loom_adapter_parse(const char *path, const loom_adapter_src *src, int n, const loom_keymap_table *map,
                               int strict, loom_adapter *out);
void loom_adapter_free(loom_adapter *a);

/* Elements of the module's ΔW: the target's O·I·kh·kw (the slice's, for a fused weight). */
int64_t loom_adapter_module_numel(const loom_adapter_module *m);

/* s·ΔW (§2, scale of §3.1, no multiplier, no DoRA) as dense f32 in the target's PyTorch shape,
 * for LoRA/LoCon, LoHa, LoKr and full. IA³ and norm deltas depend on the base weight or are
 * vectors: they fail with LOOM_E_UNSUPPORTED. Test reference only — the engine never merges. */
loom_status loom_adapter_module_delta(const loom_adapter_module *m, float *out);

#endif
