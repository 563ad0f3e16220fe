/* backend.c — backend names and tables. */
#include "backend.h"

#include <string.h>

static const char *const backend_names[] = {"cpu", "cuda"};
_Static_assert(sizeof backend_names / sizeof backend_names[0] == LOOM_BACKEND_COUNT, "backend table");

static const char *const act_names[] = {"none", "silu", "gelu", "gelu_tanh", "quick_gelu"};
_Static_assert(sizeof act_names / sizeof act_names[0] == LOOM_ACT_COUNT, "activation table");

const char *loom_backend_name(loom_backend b) { return (unsigned)b < LOOM_BACKEND_COUNT ? backend_names[b] : "?"; }
const char *loom_act_name(loom_act a) { return (unsigned)a < LOOM_ACT_COUNT ? act_names[a] : "?"; }

int loom_backend_from_name(const char *s, loom_backend *out)
{
    for (int i = 0; i < LOOM_BACKEND_COUNT; i++)
        if (strcmp(s, backend_names[i]) == 0) {
            *out = (loom_backend)i;
            return 0;
        }
    return -1;
}

const loom_ops *loom_backend_ops(loom_backend b)
{
    return b == LOOM_BACKEND_CUDA ? &loom_ops_cuda : &loom_ops_cpu;
}

loom_status loom_op_missing(const loom_ops *ops, const char *op)
{
    return loom_fail(LOOM_E_UNSUPPORTED, "%s: not implemented on the %s backend yet", op, ops->name);
}
