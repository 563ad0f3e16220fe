/* table.c — the CPU backend's op table. Entries are filled as ops land;
 * a NULL entry is reported by loom_op_missing(). */
#include "cpu_ops.h"

const loom_ops loom_ops_cpu = {
    .name = "cpu",
};
