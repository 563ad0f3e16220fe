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

const loom_ops *loom_backend_ops_dtype(loom_backend b, int vendor, loom_dtype dtype)
{
    if (b != LOOM_BACKEND_CUDA || (!vendor && dtype != LOOM_BF16)) return loom_backend_ops(b);
    /* [vendor][bf16], built once; one host thread drives loom (DESIGN.md). The CUDA ops dispatch
     * on their tensors' dtype, so a bf16 table is the same entries with bf16 activations. */
    static loom_ops tables[2][2];
    static const char *const names[2][2] = {{"cuda", "cuda (bf16)"},
                                            {"cuda (vendor kernels)", "cuda (vendor kernels, bf16)"}};
    const int v = vendor != 0, h = dtype == LOOM_BF16;
    loom_ops *t = &tables[v][h];
    if (!t->name) {
        const loom_ops *own = &loom_ops_cuda, *ven = &loom_ops_cuda_vendor;
        *t = *own;
        if (v) {
#define TAKE(e) t->e = ven->e ? ven->e : own->e
            TAKE(linear), TAKE(conv2d), TAKE(group_norm), TAKE(layer_norm), TAKE(attention), TAKE(geglu);
            TAKE(unary), TAKE(add), TAKE(mul), TAKE(concat), TAKE(upsample2x), TAKE(timestep_embedding);
            TAKE(softmax), TAKE(attention_causal), TAKE(linear_adapted), TAKE(conv2d_adapted);
#undef TAKE
        }
        t->dtype = h ? LOOM_BF16 : LOOM_F16;
        t->name = names[v][h];
    }
    return t;
}

loom_status loom_op_missing(const loom_ops *ops, const char *op)
{
    return loom_fail(LOOM_E_UNSUPPORTED, "%s: not implemented on the %s backend yet", op, ops->name);
}
