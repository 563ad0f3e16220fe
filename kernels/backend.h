/* backend.h — picking and probing a backend. */
#ifndef LOOM_BACKEND_H
#define LOOM_BACKEND_H

#include "ops.h"

typedef enum loom_backend { LOOM_BACKEND_CPU = 0, LOOM_BACKEND_CUDA, LOOM_BACKEND_COUNT } loom_backend;

const char *loom_backend_name(loom_backend b);
int loom_backend_from_name(const char *s, loom_backend *out);
const loom_ops *loom_backend_ops(loom_backend b);

/* Threads the CPU backend may use (0: all cores; OpenBLAS does the GEMMs). */
void loom_cpu_set_threads(int n);

/* The CUDA architectures this binary was built for, e.g. "sm_80,sm_86,sm_89,sm_90",
 * or "none (built with LOOM_CUDA=OFF)". */
const char *loom_cuda_built_archs(void);

/* LOOM_OK when CUDA device `device` exists and this binary has code for it;
 * `desc` (may be NULL) receives e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
 * Otherwise LOOM_E_DEVICE with a message such as
 * "no CUDA device: cudaGetDeviceCount: no CUDA-capable device is detected" or
 * "this GPU is sm_75; loom was built for sm_80,sm_86,sm_89,sm_90". */
loom_status loom_cuda_probe(int device, char *desc, size_t desc_len);

#endif
