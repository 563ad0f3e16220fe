/* adapter_check.h — per-algorithm factor shape rules (adapters.md §2): do a module's factors
 * rebuild a ΔW of exactly its target's shape, with consistent ranks? Internal to adapters/. */
#ifndef LOOM_ADAPTER_CHECK_H
#define LOOM_ADAPTER_CHECK_H

#include "adapter.h"

/* Validates m's factors against m->target and sets m->rank (A1111's, §3.1). `key` names the
 * module in the one-line error. */
loom_status loom_adapter_check_shapes(const char *path, const char *key, loom_adapter_module *m);

/* LoKr's second factor as a [b, dk] matrix (dk = d·kh·kw) and its rank (0 when stored whole). */
typedef struct loom_lokr_dims {
    int64_t a, c;     /* W1 [a, c] */
    int64_t b, dk;    /* W2 [b, d·kh·kw] */
} loom_lokr_dims;
void loom_adapter_lokr_dims(const loom_adapter_module *m, loom_lokr_dims *d);

#endif
