/* mul.cu — y = a·b, b broadcast to a's shape (ops.h; the CPU op is
 * kernels/cpu/binary.c): gates, per-channel and per-sample scales. The
 * kernel and the checks are binary_bcast.cuh's (shared with add.cu). */
#include "binary_bcast.cuh"
#include "nvtx.h"

extern "C" loom_status loom_cuda_mul(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/mul");
    return loom_misc::binary_op<loom_misc::BIN_MUL>("mul", a, b, y);
}
