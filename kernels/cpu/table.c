/* table.c — the CPU backend's op table: every op of ops.h, one file each
 * (tests/ops/test_cpu_table.c checks that no entry is NULL). */
#include "cpu_ops.h"

const loom_ops loom_ops_cpu = {
    .name = "cpu",
    .device = LOOM_HOST,
    .dtype = LOOM_F32,
    .linear = loom_cpu_linear,
    .conv2d = loom_cpu_conv2d,
    .group_norm = loom_cpu_group_norm,
    .layer_norm = loom_cpu_layer_norm,
    .attention = loom_cpu_attention,
    .geglu = loom_cpu_geglu,
    .unary = loom_cpu_unary,
    .add = loom_cpu_add,
    .mul = loom_cpu_mul,
    .concat = loom_cpu_concat,
    .upsample2x = loom_cpu_upsample2x,
    .timestep_embedding = loom_cpu_timestep_embedding,
    .softmax = loom_cpu_softmax,
    .attention_causal = loom_cpu_attention_causal,
    .linear_adapted = loom_cpu_linear_adapted,
    .conv2d_adapted = loom_cpu_conv2d_adapted,
};
