/* op_profile.cu — per-op GPU time inside a real forward pass (backend.h: loom_ops_profiled,
 * loom_op_profile_take), for `loom bench --ops`: where a UNet step's milliseconds go, op by op,
 * own kernels against vendor ones (issue 5 item 6: "UNet step and per-op times, own vs vendor").
 *
 * The profiled table's entries record a CUDA event before and after the base table's entry on
 * the default stream; take() waits once and sums the intervals per op. Nothing synchronises
 * between ops, so the step runs as it would, plus two event records per op (a few µs of host
 * time each; the GPU sees back-to-back work as before unless the host falls behind).
 * One profiled table at a time, one host thread (DESIGN.md). */
#include <cuda_runtime.h>

#include <vector>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
}

namespace {

enum op_id {
    OP_LINEAR, OP_CONV2D, OP_GROUP_NORM, OP_LAYER_NORM, OP_ATTENTION, OP_GEGLU, OP_UNARY, OP_ADD, OP_MUL,
    OP_CONCAT, OP_UPSAMPLE2X, OP_TIMESTEP_EMBEDDING, OP_SOFTMAX, OP_ATTENTION_CAUSAL, OP_LINEAR_ADAPTED,
    OP_CONV2D_ADAPTED, OP_COUNT
};

const char *const op_names[OP_COUNT] = {"linear",     "conv2d",     "group_norm",         "layer_norm",
                                        "attention",  "geglu",      "unary",              "add",
                                        "mul",        "concat",     "upsample2x",         "timestep_embedding",
                                        "softmax",    "attention_causal", "linear_adapted", "conv2d_adapted"};

struct pending {
    int op;
    size_t ev; /* events ev (start) and ev + 1 (stop) */
};

const loom_ops *g_base;
loom_ops g_table;
std::vector<cudaEvent_t> g_events;
std::vector<pending> g_pending;
size_t g_used;

/* A start/stop pair from the pool (grown on demand; events are reused after each take). */
loom_status begin_op(size_t *ev)
{
    if (g_used + 2 > g_events.size()) {
        cudaEvent_t e;
        for (int i = 0; i < 2; i++) {
            CUDA_CHECK(cudaEventCreate(&e));
            g_events.push_back(e);
        }
    }
    *ev = g_used;
    g_used += 2;
    CUDA_CHECK(cudaEventRecord(g_events[*ev], 0));
    return LOOM_OK;
}

loom_status end_op(int op, size_t ev, loom_status s)
{
    if (s != LOOM_OK) return s;
    CUDA_CHECK(cudaEventRecord(g_events[ev + 1], 0));
    g_pending.push_back({op, ev});
    return LOOM_OK;
}

#define WRAP(OP, field, params, args)                                                                                  \
    loom_status field##_profiled params                                                                                \
    {                                                                                                                  \
        size_t ev;                                                                                                     \
        LOOM_TRY(begin_op(&ev));                                                                                       \
        return end_op(OP, ev, g_base->field args);                                                                     \
    }

typedef const loom_tensor ct;
WRAP(OP_LINEAR, linear, (ct *x, ct *w, ct *b, ct *r, loom_tensor *y), (x, w, b, r, y))
WRAP(OP_CONV2D, conv2d, (ct *x, ct *w, ct *b, ct *r, loom_tensor *y, const loom_conv2d_params *p), (x, w, b, r, y, p))
WRAP(OP_GROUP_NORM, group_norm, (ct *x, ct *g, ct *b, loom_tensor *y, int groups, float eps, int silu),
     (x, g, b, y, groups, eps, silu))
WRAP(OP_LAYER_NORM, layer_norm, (ct *x, ct *g, ct *b, loom_tensor *y, float eps), (x, g, b, y, eps))
WRAP(OP_ATTENTION, attention, (ct *q, ct *k, ct *v, loom_tensor *o, int heads, float scale), (q, k, v, o, heads, scale))
WRAP(OP_GEGLU, geglu, (ct *x, loom_tensor *y), (x, y))
WRAP(OP_UNARY, unary, (ct *x, loom_tensor *y, loom_act act), (x, y, act))
WRAP(OP_ADD, add, (ct *a, ct *b, loom_tensor *y), (a, b, y))
WRAP(OP_MUL, mul, (ct *a, ct *b, loom_tensor *y), (a, b, y))
WRAP(OP_CONCAT, concat, (ct *a, ct *b, loom_tensor *y), (a, b, y))
WRAP(OP_UPSAMPLE2X, upsample2x, (ct *x, loom_tensor *y), (x, y))
WRAP(OP_TIMESTEP_EMBEDDING, timestep_embedding, (ct *t, loom_tensor *y, const loom_timestep_params *p), (t, y, p))
WRAP(OP_SOFTMAX, softmax, (ct *x, loom_tensor *y, float scale), (x, y, scale))
WRAP(OP_ATTENTION_CAUSAL, attention_causal, (ct *q, ct *k, ct *v, loom_tensor *o, int heads, float scale),
     (q, k, v, o, heads, scale))
WRAP(OP_LINEAR_ADAPTED, linear_adapted, (ct *x, ct *w, ct *b, ct *r, loom_tensor *y, const loom_ad_plan *plan),
     (x, w, b, r, y, plan))
WRAP(OP_CONV2D_ADAPTED, conv2d_adapted,
     (ct *x, ct *w, ct *b, ct *r, loom_tensor *y, const loom_conv2d_params *p, const loom_ad_plan *plan),
     (x, w, b, r, y, p, plan))
#undef WRAP

} // namespace

extern "C" const loom_ops *loom_ops_profiled(const loom_ops *base)
{
    g_base = base;
    g_table = *base;
    g_pending.clear();
    g_used = 0;
#define SET(field)                                                                                                     \
    g_table.field = base->field ? field##_profiled : nullptr /* a missing op stays missing (loom_op_missing) */
    SET(linear), SET(conv2d), SET(group_norm), SET(layer_norm), SET(attention), SET(geglu), SET(unary), SET(add);
    SET(mul), SET(concat), SET(upsample2x), SET(timestep_embedding), SET(softmax), SET(attention_causal);
    SET(linear_adapted), SET(conv2d_adapted);
#undef SET
    return &g_table;
}

extern "C" loom_status loom_op_profile_take(loom_op_time *out, int max, int *n)
{
    *n = 0;
    double ms[OP_COUNT] = {0};
    int calls[OP_COUNT] = {0};
    if (!g_pending.empty()) CUDA_CHECK(cudaEventSynchronize(g_events[g_pending.back().ev + 1]));
    for (const pending &p : g_pending) {
        float t = 0;
        CUDA_CHECK(cudaEventElapsedTime(&t, g_events[p.ev], g_events[p.ev + 1]));
        ms[p.op] += t, calls[p.op]++;
    }
    g_pending.clear();
    g_used = 0;
    for (int i = 0; i < OP_COUNT && *n < max; i++)
        if (calls[i]) out[(*n)++] = loom_op_time{op_names[i], calls[i], ms[i]};
    return LOOM_OK;
}
