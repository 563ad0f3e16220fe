/* cuda_absent.c — linked instead of kernels/cuda/ when built with LOOM_CUDA=OFF
 * (the sanitizer and fuzz builds): the CUDA table exists but is empty, and
 * probing says plainly why. */
#include "backend.h"

const loom_ops loom_ops_cuda = {.name = "cuda"};

const char *loom_cuda_built_archs(void) { return "none (built with LOOM_CUDA=OFF)"; }

loom_status loom_cuda_probe(int device, char *desc, size_t desc_len)
{
    (void)device;
    if (desc && desc_len) desc[0] = 0;
    return loom_fail(LOOM_E_DEVICE, "this loom was built without CUDA (LOOM_CUDA=OFF); rebuild with -DLOOM_CUDA=ON");
}
