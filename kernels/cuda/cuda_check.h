/* cuda_check.h — every CUDA, cuBLAS and cuDNN call goes through one of these.
 * On failure they set loom's error message to the failing statement, the
 * library's own error string, file and line, and return LOOM_E_DEVICE from
 * the enclosing function (which must return loom_status).
 *
 * LOOM_CUDA_SYNC_CHECK=1 in the environment makes LOOM_LAUNCH_CHECK also
 * synchronise, so an asynchronous fault is reported at the launch that
 * caused it (debug switch; costs a sync per launch). */
#ifndef LOOM_CUDA_CHECK_H
#define LOOM_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "loom_base.h"

#define CUDA_CHECK(stmt)                                                                   \
    do {                                                                                   \
        cudaError_t loom_e_ = (stmt);                                                      \
        if (loom_e_ != cudaSuccess)                                                        \
            return loom_fail(LOOM_E_DEVICE, "%s failed: %s (%s) at %s:%d", #stmt,           \
                             cudaGetErrorString(loom_e_), cudaGetErrorName(loom_e_),       \
                             __FILE__, __LINE__);                                          \
    } while (0)

#define CUBLAS_CHECK(stmt)                                                                 \
    do {                                                                                   \
        cublasStatus_t loom_e_ = (stmt);                                                   \
        if (loom_e_ != CUBLAS_STATUS_SUCCESS)                                              \
            return loom_fail(LOOM_E_DEVICE, "%s failed: %s at %s:%d", #stmt,                \
                             cublasGetStatusString(loom_e_), __FILE__, __LINE__);          \
    } while (0)

#define CUDNN_CHECK(stmt)                                                                  \
    do {                                                                                   \
        cudnnStatus_t loom_e_ = (stmt);                                                    \
        if (loom_e_ != CUDNN_STATUS_SUCCESS)                                               \
            return loom_fail(LOOM_E_DEVICE, "%s failed: %s at %s:%d", #stmt,                \
                             cudnnGetErrorString(loom_e_), __FILE__, __LINE__);            \
    } while (0)

int loom_cuda_sync_check_enabled(void);

/* After every kernel launch: the launch error, and (debug switch) the
 * execution error; `kernel` names the launch in the message. */
#define LOOM_LAUNCH_CHECK(kernel)                                                          \
    do {                                                                                   \
        cudaError_t loom_e_ = cudaGetLastError();                                          \
        if (loom_e_ == cudaSuccess && loom_cuda_sync_check_enabled())                      \
            loom_e_ = cudaDeviceSynchronize();                                             \
        if (loom_e_ != cudaSuccess)                                                        \
            return loom_fail(LOOM_E_DEVICE, "launch of %s failed: %s (%s) at %s:%d", kernel, \
                             cudaGetErrorString(loom_e_), cudaGetErrorName(loom_e_),       \
                             __FILE__, __LINE__);                                          \
    } while (0)

#endif
