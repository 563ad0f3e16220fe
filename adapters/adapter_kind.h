/* adapter_kind.h — the adapter algorithms loom knows, one table for CLI, JSON and logs.
 * Formats and math: ../shared/specs/adapters.md §1.3 and §2. */
#ifndef LOOM_ADAPTER_KIND_H
#define LOOM_ADAPTER_KIND_H

#include "loom_base.h"

typedef enum loom_adapter_kind {
    LOOM_ADAPTER_LORA = 0, /* lora_down/lora_up (kohya), lora_A/lora_B (PEFT); LoCon when on convs */
    LOOM_ADAPTER_LOHA,     /* hada_w1_a … hada_w2_b (+ hada_t1/t2) */
    LOOM_ADAPTER_LOKR,     /* lokr_w1 | lokr_w1_a·b, lokr_w2 | lokr_w2_a·b (+ lokr_t2) */
    LOOM_ADAPTER_IA3,      /* weight (+ on_input) */
    LOOM_ADAPTER_FULL,     /* diff (+ diff_b) */
    LOOM_ADAPTER_NORM,     /* w_norm, b_norm */
    LOOM_ADAPTER_GLORA,    /* a1, a2, b1, b2 */
    LOOM_ADAPTER_OFT,      /* oft_blocks | oft_diag */
    LOOM_ADAPTER_KIND_COUNT
} loom_adapter_kind;

const char *loom_adapter_kind_name(loom_adapter_kind k);

#endif
