/* attention_stats.h — which path the vendor attention baseline took
 * (attention_cudnn.cu): cuDNN's fused attention, or the cuBLAS path for the
 * shapes cuDNN refuses. A fallback is silent per call (the op still
 * succeeds) but counted here, so a run that never reached cuDNN cannot pass
 * as "cuDNN fused attention verified": the backend-ops test checks these,
 * and host code can report them (the kernels layer has no logger).
 * Plain C, no CUDA headers; only in builds with LOOM_HAVE_CUDA. */
#ifndef LOOM_CUDA_VENDOR_ATTENTION_STATS_H
#define LOOM_CUDA_VENDOR_ATTENTION_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loom_vendor_attn_path {
    LOOM_VENDOR_ATTN_NONE = 0,       /* no call yet (or the last one had nothing to compute) */
    LOOM_VENDOR_ATTN_CUDNN_SDPA,     /* cuDNN's SDPA operation (one fused node) */
    LOOM_VENDOR_ATTN_CUDNN_GRAPH,    /* cuDNN's flash-attention pattern: matmul, scale, mask, softmax, matmul */
    LOOM_VENDOR_ATTN_CUBLAS          /* the fallback: cuBLAS GEMMs + loom's softmax kernel */
} loom_vendor_attn_path;

typedef struct loom_vendor_attn_stats {
    int64_t cudnn_calls;    /* calls that ran cuDNN's fused attention */
    int64_t fallback_calls; /* calls that ran the cuBLAS path instead */
    int64_t plans_built;    /* shapes cuDNN built an execution plan for */
    int64_t plans_refused;  /* shapes cuDNN refused (cached: they fall back without asking again) */
    int last_path;          /* a loom_vendor_attn_path: the most recent call's */
    char last_refusal[512]; /* why the most recent fallback happened, one line; "" if none yet */
    /* the most recent plan built on a second choice: why the first graph (the
     * SDPA operation) was refused before the composite graph took the shape */
    char last_build_note[512];
} loom_vendor_attn_stats;

/* A snapshot of the counters (process-wide; one host thread drives the GPU). */
void loom_vendor_attention_stats(loom_vendor_attn_stats *out);
/* "cudnn-sdpa", "cudnn-graph", "cublas", "none". */
const char *loom_vendor_attn_path_name(int path);

#ifdef __cplusplus
}
#endif

#endif
