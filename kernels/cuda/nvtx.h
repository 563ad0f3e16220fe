/* nvtx.h — NVTX v3 ranges in the `loom` domain (style.md, "NVTX and
 * Nsight"): strings registered once per call site (a function-local static),
 * no formatting per range. Header-only NVTX; -DNVTX_DISABLE compiles the
 * ranges out. C++ (CUDA sources) only.
 *
 *   LOOM_NVTX_RANGE("vendor/conv2d");  // pushed here, popped at scope exit */
#ifndef LOOM_CUDA_NVTX_H
#define LOOM_CUDA_NVTX_H

#include <nvtx3/nvToolsExt.h>

inline nvtxDomainHandle_t loom_nvtx_domain()
{
    static const nvtxDomainHandle_t d = nvtxDomainCreateA("loom");
    return d;
}

struct loom_nvtx_scope {
    explicit loom_nvtx_scope(nvtxStringHandle_t name)
    {
        nvtxEventAttributes_t a = {};
        a.version = NVTX_VERSION;
        a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
        a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
        a.message.registered = name;
        nvtxDomainRangePushEx(loom_nvtx_domain(), &a);
    }
    ~loom_nvtx_scope() { nvtxDomainRangePop(loom_nvtx_domain()); }
    loom_nvtx_scope(const loom_nvtx_scope &) = delete;
    loom_nvtx_scope &operator=(const loom_nvtx_scope &) = delete;
};

#define LOOM_NVTX_CAT2(a, b) a##b
#define LOOM_NVTX_CAT(a, b) LOOM_NVTX_CAT2(a, b)
#define LOOM_NVTX_RANGE(name)                                                                                  \
    static const nvtxStringHandle_t LOOM_NVTX_CAT(loom_nvtx_str_, __LINE__) =                                  \
        nvtxDomainRegisterStringA(loom_nvtx_domain(), name);                                                   \
    loom_nvtx_scope LOOM_NVTX_CAT(loom_nvtx_scope_, __LINE__)(LOOM_NVTX_CAT(loom_nvtx_str_, __LINE__))

#endif
