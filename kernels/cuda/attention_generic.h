/* attention_generic.h — attention for any head dim up to 512, on already
 * checked arguments (attention.cu checks and dispatches: the tensor-core
 * kernel for the head dims it instantiates, this for the rest). f16 or bf16
 * q/k/v/o (one dtype) in the ops.h layout, fp32 online softmax, one rounding of o. */
#ifndef LOOM_CUDA_ATTENTION_GENERIC_H
#define LOOM_CUDA_ATTENTION_GENERIC_H

#include "loom_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_ATTENTION_GENERIC_MAX_D 512

typedef struct loom_attention_dims {
    const void *q, *k, *v; /* [batch, sq|sk, heads·d] */
    void *o;               /* [batch, sq, heads·d] */
    int64_t batch, sq, sk, heads, d;
    loom_dtype dtype;      /* LOOM_F16 or LOOM_BF16: q, k, v and o */
} loom_attention_dims;

/* scale: the softmax scale (already resolved: > 0); causal: query i sees keys j ≤ i. */
loom_status loom_cuda_attention_generic(const loom_attention_dims *a, float scale, int causal);

#ifdef __cplusplus
}
#endif

#endif
