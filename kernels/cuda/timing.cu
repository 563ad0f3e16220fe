/* timing.cu — loom_device_time_ms (backend.h): per-repetition CUDA events
 * on the default stream, median of the repetitions (METHOD: warm up first so
 * handle creation, plan caches and lazy module loading stay out of the
 * numbers; the median resists one-off stalls). */
#include <algorithm>
#include <vector>

#include <cuda_runtime.h>

extern "C" {
#include "backend.h"
#include "cuda_check.h"
}

namespace {
/* Owns the events so every early return destroys them. */
struct event_pair {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~event_pair()
    {
        if (start) (void)cudaEventDestroy(start);
        if (stop) (void)cudaEventDestroy(stop);
    }
};
} // namespace

extern "C" loom_status loom_device_time_ms(loom_status (*fn)(void *ctx), void *ctx, int warmup, int reps,
                                           double *median_ms)
{
    *median_ms = 0;
    if (reps < 1 || warmup < 0 || reps > 100000)
        return loom_fail(LOOM_E_INVALID, "device_time_ms: %d warm-up, %d repetitions", warmup, reps);
    for (int i = 0; i < warmup; i++) LOOM_TRY(fn(ctx));
    event_pair ev;
    CUDA_CHECK(cudaEventCreate(&ev.start));
    CUDA_CHECK(cudaEventCreate(&ev.stop));
    std::vector<float> ms((size_t)reps);
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK(cudaEventRecord(ev.start, 0));
        LOOM_TRY(fn(ctx));
        CUDA_CHECK(cudaEventRecord(ev.stop, 0));
        CUDA_CHECK(cudaEventSynchronize(ev.stop));
        CUDA_CHECK(cudaEventElapsedTime(&ms[(size_t)i], ev.start, ev.stop));
    }
    std::sort(ms.begin(), ms.end());
    *median_ms = reps % 2 ? ms[(size_t)reps / 2] : 0.5 * ((double)ms[(size_t)reps / 2 - 1] + ms[(size_t)reps / 2]);
    return LOOM_OK;
}
