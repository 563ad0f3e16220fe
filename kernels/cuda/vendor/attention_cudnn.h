/* attention_cudnn.h — private to attention_cudnn.cu (plan cache, dispatch)
 * and attention_cudnn_graph.cu (the cuDNN graphs and their execution
 * plans). C++ only. */
#ifndef LOOM_CUDA_VENDOR_ATTENTION_CUDNN_H
#define LOOM_CUDA_VENDOR_ATTENTION_CUDNN_H

#include "attention_stats.h"
#include "vendor.h"

/* The graphs' non-virtual tensors: the variant pack's unique ids. The two
 * scalars are passed by value (host floats read when the plan executes). */
enum : int64_t {
    LOOM_SDPA_UID_Q = 1,
    LOOM_SDPA_UID_K = 2,
    LOOM_SDPA_UID_V = 3,
    LOOM_SDPA_UID_O = 4,
    LOOM_SDPA_UID_SCALE = 5,   /* softmax scale, f32 */
    LOOM_SDPA_UID_NEG_INF = 6, /* the causal mask's fill value, f32; causal graphs only */
};

/* One plan per call shape. Compared with memcmp: build it zeroed. */
struct loom_sdpa_key {
    int64_t b, heads, sq, sk, d, dv;
    int32_t causal;
    uint32_t scale_bits; /* the effective scale's bits */
    int32_t bf16;        /* q, k, v, o (and the graph's P) are bf16, else f16 */
};

/* Descriptors one graph and its plan need, with room to spare (the causal
 * composite graph holds 45). */
constexpr int kLoomSdpaKeep = 64;

struct loom_sdpa_plan {
    loom_sdpa_key key;
    int used;         /* holds a key: a built plan (ready) or a refusal (reason) */
    int ready;        /* plan can execute */
    int path;         /* LOOM_VENDOR_ATTN_CUDNN_SDPA or _GRAPH */
    int64_t ws_bytes; /* the plan's workspace */
    cudnnBackendDescriptor_t plan;
    cudnnBackendDescriptor_t keep[kLoomSdpaKeep]; /* everything the plan was built from, kept alive with it */
    int nkeep;
    char reason[512]; /* why cuDNN refused the shape (when !ready) */
};

/* Builds p->plan for p->key with graph `path` (LOOM_VENDOR_ATTN_CUDNN_SDPA:
 * the fused SDPA operation, non-causal only; LOOM_VENDOR_ATTN_CUDNN_GRAPH:
 * the matmul/softmax/matmul pattern). On failure the loom message says
 * what cuDNN refused; p's descriptors are left for loom_sdpa_clear. */
loom_status loom_sdpa_build(cudnnHandle_t h, int path, loom_sdpa_plan *p);
/* Destroys p's descriptors (p->plan and keep[]); key, used and reason stay.
 * The caller makes sure no queued work still uses the plan. */
void loom_sdpa_clear(loom_sdpa_plan *p);

#endif
