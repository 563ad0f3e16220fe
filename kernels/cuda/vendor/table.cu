/* table.cu — loom_ops_cuda_vendor (ops.h): the vendor baselines on the op
 * layer's signatures. Ops without a vendor baseline stay NULL. */
#include "vendor.h"

extern "C" const loom_ops loom_ops_cuda_vendor = {
    "cuda_vendor",
    LOOM_CUDA,
    LOOM_F16,
    loom_vendor_linear,           /* cuBLAS GemmEx */
    loom_vendor_conv2d,           /* cuDNN convolution, NHWC */
    nullptr,                      /* group_norm */
    nullptr,                      /* layer_norm */
    loom_vendor_attention,        /* cuDNN fused attention; cuBLAS GEMMs + softmax where cuDNN refuses */
    nullptr,                      /* geglu */
    nullptr,                      /* unary */
    nullptr,                      /* add */
    nullptr,                      /* mul */
    nullptr,                      /* concat */
    nullptr,                      /* upsample2x */
    nullptr,                      /* timestep_embedding */
    nullptr,                      /* softmax */
    loom_vendor_attention_causal, /* same, causal mask */
    nullptr,                      /* linear_adapted */
    nullptr,                      /* conv2d_adapted */
};
