/* add.cu — y = a + b, b broadcast to a's shape (ops.h; the CPU op is
 * kernels/cpu/binary.c): residual adds on NHWC maps and tokens, the time
 * embedding [N, 1, 1, C] onto [N, H, W, C], biases [C]. The kernel and the
 * checks are binary_bcast.cuh's (shared with mul.cu). */
#include "binary_bcast.cuh"
#include "nvtx.h"

extern "C" loom_status loom_cuda_add(const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    LOOM_NVTX_RANGE("cuda/add");
    return loom_misc::binary_op<loom_misc::BIN_ADD>("add", a, b, y);
}
