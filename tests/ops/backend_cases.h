/* backend_cases.h — the backend-ops test's cases: SD1.x's real op shapes
 * (style.md §3), how to lay out their operands and how to call a table's op
 * on them. Used by test_backend_ops.c. */
#ifndef LOOM_BACKEND_CASES_H
#define LOOM_BACKEND_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

typedef enum bo_kind {
    BO_LINEAR, BO_CONV2D, BO_ATTENTION, BO_ATTENTION_CAUSAL, /* backend_cases.c */
    BO_GROUP_NORM, BO_LAYER_NORM, BO_GEGLU, BO_UNARY, BO_ADD, BO_MUL, BO_CONCAT, BO_UPSAMPLE2X,
    BO_TIMESTEP_EMBEDDING, BO_SOFTMAX, /* backend_cases_misc.c */
    BO_KIND_COUNT
} bo_kind;

/* add/mul: b's shape for a of shape p[0..ndim−1] (numpy broadcasting, ops.h). */
typedef enum bo_bshape {
    BO_B_SAME,    /* a's shape */
    BO_B_CHANNEL, /* [1, …, 1, C]: a per-channel bias */
    BO_B_SAMPLE,  /* [N, 1, …, 1, C]: the time embedding onto NHWC maps */
    BO_B_VECTOR,  /* [C]: fewer dims than a */
    BO_B_SCALAR   /* [1] */
} bo_bshape;

/* The other ops' parameters (backend_cases_misc.c); {0} for the GEMM-like kinds. */
typedef struct bo_misc {
    int ndim;        /* x's (a's) dims: p[0 .. ndim−1]; timestep_embedding: p = {N, dim} */
    int groups;      /* group_norm */
    int act;         /* group_norm: LOOM_ACT_SILU fused or LOOM_ACT_NONE; unary: the loom_act */
    int affine;      /* group_norm, layer_norm: γ and β present */
    int bshape;      /* add, mul: a bo_bshape */
    int64_t cb;      /* concat: b's last dim (a's is p[ndim−1]) */
    float scale;     /* softmax: the logit scale */
    float offset;    /* group/layer_norm: added to x's values (|mean| ≫ std) */
    int flip;        /* timestep_embedding: flip_sin_to_cos */
    float shift;     /* timestep_embedding: freq_shift */
} bo_misc;

/* Operand slots: linear/conv2d use x, w, bias, residual; attention q, k, v;
 * the norms x, γ, β; add/mul/concat a, b; the rest x (timesteps: t). */
#define BO_SLOTS 4

typedef struct bo_case {
    bo_kind kind;
    const char *where; /* the SD1.x layer it stands for */
    /* linear: B, S, K, N · conv2d: N, H, W, C, O, kernel · attention: B, Sq, Sk, heads, D */
    int64_t p[6];
    int stride, pad;    /* conv2d */
    int bias, residual; /* linear, conv2d: optional operands present */
    int quick;          /* in the short list (--quick, used under compute-sanitizer) */
    bo_misc m;          /* the other kinds' parameters */
} bo_case;

/* GEMM-like cases (backend_cases.c), then everything else (backend_cases_misc.c). */
extern const bo_case bo_cases[];
extern const int bo_case_count;
extern const bo_case bo_misc_cases[];
extern const int bo_misc_case_count;

const char *bo_kind_op(bo_kind k); /* the loom_ops entry name: "linear", ... */
int bo_table_has(const loom_ops *t, bo_kind k);

/* Shapes of the operands (ndim 0 where a slot is unused), the output's
 * shape, and the uniform scale of each operand's random values. */
void bo_case_shapes(const bo_case *c, loom_tensor in[BO_SLOTS], float scale[BO_SLOTS], loom_tensor *out);
/* Operand `slot`'s n values: uniform in [−scale, scale) from `seed` (the
 * test's fixture_rng), plus the case's offset for a norm's x; the fixed
 * timesteps (999, 1, …) for timestep_embedding's t. */
void bo_case_fill(const bo_case *c, int slot, float *v, int64_t n, uint32_t seed, float scale);
/* The device dtype of operand `slot`: LOOM_F16, except timestep_embedding's t (LOOM_F32). */
loom_dtype bo_case_dtype(const bo_case *c, int slot);
/* Multiply-adds ×2 (the causal op counted as full attention); 0 for the memory-bound ops. */
double bo_case_flops(const bo_case *c);
/* "[1, 4096, 320]·[320, 320]ᵀ +b +r" */
const char *bo_case_label(const bo_case *c, char *buf, size_t n);
/* Calls table t's op; in[i] NULL where a slot is unused. */
loom_status bo_case_call(const loom_ops *t, const bo_case *c, const loom_tensor *const in[BO_SLOTS], loom_tensor *out);

/* The same for the kinds from BO_GROUP_NORM on (backend_cases_misc.c); the
 * bo_case_* functions above hand those kinds to these. */
void bo_misc_shapes(const bo_case *c, loom_tensor in[BO_SLOTS], float scale[BO_SLOTS], loom_tensor *out);
const char *bo_misc_label(const bo_case *c, char *buf, size_t n);
loom_status bo_misc_call(const loom_ops *t, const bo_case *c, const loom_tensor *const in[BO_SLOTS], loom_tensor *out);

#endif
