/* backend_cases.h — the backend-ops test's cases: SD1.x's real op shapes
 * (style.md §3), how to lay out their operands and how to call a table's op
 * on them. Used by test_backend_ops.c. */
#ifndef LOOM_BACKEND_CASES_H
#define LOOM_BACKEND_CASES_H

#include "ops.h"

typedef enum bo_kind { BO_LINEAR, BO_CONV2D, BO_ATTENTION, BO_ATTENTION_CAUSAL, BO_KIND_COUNT } bo_kind;

/* Operand slots: linear/conv2d use x, w, bias, residual; attention q, k, v. */
#define BO_SLOTS 4

typedef struct bo_case {
    bo_kind kind;
    const char *where; /* the SD1.x layer it stands for */
    /* linear: B, S, K, N · conv2d: N, H, W, C, O, kernel · attention: B, Sq, Sk, heads, D */
    int64_t p[6];
    int stride, pad;    /* conv2d */
    int bias, residual; /* linear, conv2d: optional operands present */
    int quick;          /* in the short list (--quick, used under compute-sanitizer) */
} bo_case;

extern const bo_case bo_cases[];
extern const int bo_case_count;

const char *bo_kind_op(bo_kind k); /* the loom_ops entry name: "linear", ... */
int bo_table_has(const loom_ops *t, bo_kind k);

/* Shapes of the operands (ndim 0 where a slot is unused), the output's
 * shape, and the uniform scale of each operand's random values. */
void bo_case_shapes(const bo_case *c, loom_tensor in[BO_SLOTS], float scale[BO_SLOTS], loom_tensor *out);
/* Multiply-adds ×2 (the causal op counted as full attention). */
double bo_case_flops(const bo_case *c);
/* "[1, 4096, 320]·[320, 320]ᵀ +b +r" */
const char *bo_case_label(const bo_case *c, char *buf, size_t n);
/* Calls table t's op; in[i] NULL where a slot is unused. */
loom_status bo_case_call(const loom_ops *t, const bo_case *c, const loom_tensor *const in[BO_SLOTS], loom_tensor *out);

#endif
