/* adapter_cases.h — the live-adapter op fixture's cases (tests/fixtures/ops/adapter_ops.safetensors,
 * written by scripts/gen_fixtures_adapter_ops.py), loaded as host f32 tensors and a host plan.
 * Shared by test_adapter_ops.c (the CPU op) and test_adapter_ops_gpu.c (the CUDA op). */
#ifndef LOOM_TEST_ADAPTER_CASES_H
#define LOOM_TEST_ADAPTER_CASES_H

#include <jansson.h>

#include "ops.h"
#include "tensor_file.h"

#define FX_MAX_BATCH 8
#define FX_MAX_GROUPS 4 /* the fixture's groups, plus one empty group the tests add */
#define FX_MAX_TERMS 6
#define FX_MAX_OWNED 160

typedef struct fx_case {
    const char *name;
    int is_conv;
    loom_conv2d_params p;
    loom_tensor x, w, bias, residual, y_ref; /* bias, residual: data NULL when absent */
    int batch, n_groups;
    int group_of[FX_MAX_BATCH];
    loom_ad_group groups[FX_MAX_GROUPS];
    loom_ad_term terms[FX_MAX_GROUPS][FX_MAX_TERMS];
    float *owned[FX_MAX_OWNED];
    int n_owned;
    const loom_tfile *tf;
} fx_case;

/* The "cases" array of the fixture's metadata (owned by *root; json_decref it), or NULL. */
json_t *fx_cases(const loom_tfile *tf, json_t **root);

/* Case jc of the fixture into c (zeroed first); 1 when usable, 0 after a failed check. */
int fx_load_case(fx_case *c, const loom_tfile *tf, json_t *jc);
void fx_free_case(fx_case *c);

/* The case's plan over its own groups (no empty group appended). */
loom_ad_plan fx_plan_of(const fx_case *c);

/* Sample i of a host f32 batch tensor as a batch of one (the whole tensor when the batch is 1). */
loom_tensor fx_sample(const loom_tensor *t, int batch, int i);

#endif
