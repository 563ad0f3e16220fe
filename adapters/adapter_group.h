/* adapter_group.h — group an adapter file's keys into modules (adapters.md §1.2–1.4, §8 step 3)
 * and pick each module's algorithm in A1111's order (§1.3). Shared by `loom inspect`'s
 * classification (adapter_detect.c) and the adapter parser (adapter.c), so both see the
 * same modules. Works on names only: the caller owns the tensors. */
#ifndef LOOM_ADAPTER_GROUP_H
#define LOOM_ADAPTER_GROUP_H

#include <stddef.h>

#include "adapter_keys.h"
#include "adapter_kind.h"
#include "loom_base.h"

typedef struct loom_adapter_group {
    const char *stem;         /* points into the caller's name; stem_len bytes, not terminated */
    size_t stem_len;
    loom_adapter_part part;
    int diffusers;            /* the keys follow the diffusers / PEFT grammar */
    int idx[LOOM_AR_COUNT];   /* index of the tensor playing each role, -1 when absent */
    int n_keys;
    int n_odd;                /* keys with an unknown suffix, or a role seen twice */
    int odd;                  /* index of the first such key, -1 when none */
} loom_adapter_group;

/* Groups n keys by module stem. *out (free() it) gets the groups in stem order.
 * Fails only when out of memory. */
loom_status loom_adapter_group_keys(const char *const *names, int n, loom_adapter_group **out, int *n_out);

/* The algorithm of a group by A1111's first-match order (§1.3), or -1 when none accepts it. */
int loom_adapter_group_kind(const loom_adapter_group *g);

#endif
