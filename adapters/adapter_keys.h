/* adapter_keys.h — the key grammar of adapter files (adapters.md §1.2–1.4):
 * which module a key belongs to, which component (UNet, text encoders), and
 * what role the tensor plays in its module (down/up factor, alpha, …).
 *
 * kohya / LyCORIS keys are "<stem>.<suffix>" split at the FIRST '.' (A1111's
 * key.partition('.')); diffusers / PEFT keys ("unet.", "text_encoder.",
 * "text_encoder_2." prefixes) end in one of the suffix variants of §1.4, and
 * the stem is what precedes it. */
#ifndef LOOM_ADAPTER_KEYS_H
#define LOOM_ADAPTER_KEYS_H

#include <stddef.h>

typedef enum loom_adapter_role {
    LOOM_AR_UNKNOWN = 0,
    LOOM_AR_DOWN,      /* lora_down.weight, lora_A.weight, lora.down.weight, … */
    LOOM_AR_UP,
    LOOM_AR_MID,       /* lora_mid.weight (Tucker core) */
    LOOM_AR_ALPHA,
    LOOM_AR_SCALE,
    LOOM_AR_DORA,      /* dora_scale, lora_magnitude_vector */
    LOOM_AR_HADA_W1_A, LOOM_AR_HADA_W1_B, LOOM_AR_HADA_W2_A, LOOM_AR_HADA_W2_B,
    LOOM_AR_HADA_T1, LOOM_AR_HADA_T2,
    LOOM_AR_LOKR_W1, LOOM_AR_LOKR_W1_A, LOOM_AR_LOKR_W1_B,
    LOOM_AR_LOKR_W2, LOOM_AR_LOKR_W2_A, LOOM_AR_LOKR_W2_B,
    LOOM_AR_LOKR_T1, LOOM_AR_LOKR_T2,
    LOOM_AR_IA3_WEIGHT, LOOM_AR_ON_INPUT,
    LOOM_AR_DIFF, LOOM_AR_DIFF_B,
    LOOM_AR_W_NORM, LOOM_AR_B_NORM,
    LOOM_AR_GLORA_A1, LOOM_AR_GLORA_A2, LOOM_AR_GLORA_B1, LOOM_AR_GLORA_B2, LOOM_AR_GLORA_BM,
    LOOM_AR_OFT_BLOCKS, LOOM_AR_OFT_DIAG, LOOM_AR_RESCALE,
    LOOM_AR_BIAS,      /* dense residual (A1111), PEFT lora_B.bias */
    LOOM_AR_LEGACY,    /* bias_indices/values/size, reshape_weight: read by nobody we follow (§2.11) */
    LOOM_AR_COUNT
} loom_adapter_role;

typedef enum loom_adapter_part {
    LOOM_AP_OTHER = 0, /* lycoris_, lora_transformer_, or no known prefix */
    LOOM_AP_UNET,      /* lora_unet_, oft_unet_, unet. */
    LOOM_AP_TE,        /* lora_te_, text_encoder. */
    LOOM_AP_TE1,       /* lora_te1_ (SDXL CLIP-L) */
    LOOM_AP_TE2,       /* lora_te2_, text_encoder_2. (SDXL OpenCLIP-G) */
    LOOM_AP_EMBEDDING, /* bundle_emb.<name>.… (§2.12) */
    LOOM_AP_COUNT
} loom_adapter_part;

typedef struct loom_adapter_key_parts {
    size_t stem_len;        /* the module is key[0 .. stem_len) */
    loom_adapter_role role;
    loom_adapter_part part;
    int diffusers;          /* 1 for diffusers / PEFT names, 0 for kohya / LyCORIS */
} loom_adapter_key_parts;

void loom_adapter_key_split(const char *key, loom_adapter_key_parts *out);

/* "unknown", "down", … for messages. */
const char *loom_adapter_role_name(loom_adapter_role r);

#endif
