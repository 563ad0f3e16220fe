/* adapter_detect.h — say what an adapter file is from its key names and
 * shapes alone: which algorithm each module uses (A1111's order, adapters.md
 * §1.3), DoRA / Tucker / k×k-conv modules, UNet vs text-encoder modules,
 * ranks and alphas (§3.1), unmatched keys, bundled embeddings (§2.12), and
 * the model family the factors were trained for.
 *
 * The family is inferred from keys and shapes, never from metadata (§1.5):
 * SDXL when there are lora_te1_/lora_te2_ (text_encoder_2.) modules, UNet
 * stems only SDXL has (SGM input_blocks/middle_block/output_blocks names,
 * transformer_blocks beyond 0, label_emb / add_embedding) or a cross-attention
 * context of 2048; SD2.x for context or text-encoder width 1024; SD1.x for 768.
 *
 * The caller owns the tensors; this layer never sees a file (it knows nothing of
 * host/), so scalar values (alpha, on_input) arrive already read. */
#ifndef LOOM_ADAPTER_DETECT_H
#define LOOM_ADAPTER_DETECT_H

#include <stdint.h>

#include "adapter_keys.h"
#include "adapter_kind.h"
#include "loom_base.h"
#include "sd_family.h"

#define LOOM_ADAPTER_MAX_DIMS 8

typedef struct loom_adapter_tensor {
    const char *name;
    int ndim;              /* 0..LOOM_ADAPTER_MAX_DIMS */
    const int64_t *shape;  /* ndim entries */
    int has_value;         /* 1 when the tensor holds one number (alpha, scale, on_input) */
    double value;
} loom_adapter_tensor;

typedef struct loom_adapter_info {
    int n_keys;
    int n_modules;                          /* module groups with a recognised algorithm */
    int n_by_part[LOOM_AP_COUNT];           /* of those, per component (embeddings not counted) */
    int n_by_kind[LOOM_ADAPTER_KIND_COUNT];
    int n_dora;                             /* with dora_scale / lora_magnitude_vector (§2.9) */
    int n_tucker;                           /* with lora_mid / hada_t1 / lokr_t2 */
    int n_conv;                             /* whose factors show a k×k (k > 1) kernel: LoCon */
    int n_diffusers_keys, n_kohya_keys;     /* which grammar the keys follow */

    int n_ranked, rank_min, rank_max, rank_common; /* A1111's rank per module (§3.1) */
    int n_alpha;
    double alpha_min, alpha_max, alpha_common;

    int n_unmatched;                        /* keys in no recognised module, or with an unknown suffix */
    const char *unmatched_example;          /* points into the caller's names */
    int n_bundled_embeddings;               /* distinct bundle_emb.<name> */

    loom_sd_family family;
    const char *family_reason;              /* static text: "lora_te1_/lora_te2_ modules", … */
    int64_t context_dim;                    /* cross-attention K/V input width seen, 0 if none */
    int64_t te_width, te2_width;            /* text-encoder hidden width seen, 0 if none */
} loom_adapter_info;

/* Classifies n tensors. Fails only when out of memory (the message names no
 * file; the caller wraps it). A file with no recognised module gives
 * n_modules == 0: the caller decides it is not an adapter. */
loom_status loom_adapter_detect(const loom_adapter_tensor *t, int n, loom_adapter_info *out);

#endif
