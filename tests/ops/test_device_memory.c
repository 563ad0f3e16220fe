/* test_device_memory.c — backend.h's device-memory API and
 * loom_tensor_alloc(LOOM_CUDA) behave on every build: without a usable GPU
 * (or with LOOM_CUDA=OFF) each call fails with LOOM_E_DEVICE/NOMEM and a
 * one-line message, never a crash, and leaves no dangling pointer; with a
 * GPU, bytes survive an upload/download round trip and zeros are zeros.
 * Runs on CPU-only machines too (label unit), so the failure paths that
 * users without a GPU hit are checked in CI. */
#include <string.h>

#include "backend.h"
#include "tensor_alloc.h"
#include "testlib.h"

static void without_gpu(void)
{
    void *p = (void *)&p;
    T_EXPECT_FAIL(loom_device_alloc(1024, &p), "CUDA");
    T_CHECK(p == NULL, "a failed device_alloc left a pointer");
    const int64_t shape[2] = {77, 768};
    loom_tensor t;
    loom_status s = loom_tensor_alloc(LOOM_CUDA, LOOM_F16, 2, shape, &t);
    T_EXPECT_FAILED(s, "tensor_alloc on the GPU", "[77, 768]", "f16");
    T_CHECK(t.data == NULL, "a failed tensor_alloc left data");
    loom_tensor_free(&t); /* harmless on a failed allocation */
    T_OK(loom_device_free(NULL));
    T_EXPECT_FAIL(loom_device_sync(), "CUDA");
}

static void with_gpu(void)
{
    unsigned char src[1000], back[1000];
    for (int i = 0; i < 1000; i++) src[i] = (unsigned char)(i * 37 + 11);
    void *p = NULL;
    T_OK(loom_device_alloc(sizeof src, &p));
    if (!p) return;
    T_OK(loom_device_upload(p, src, sizeof src));
    T_OK(loom_device_download(back, p, sizeof back));
    T_CHECK(memcmp(src, back, sizeof src) == 0, "upload/download round trip changed bytes");
    T_OK(loom_device_memset(p, 0x5A, sizeof src));
    T_OK(loom_device_download(back, p, sizeof back));
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= back[i] == 0x5A;
    T_CHECK(ok, "device_memset did not set every byte");
    T_OK(loom_device_free(p));
    const int64_t shape[3] = {2, 77, 768};
    loom_tensor t;
    T_OK(loom_tensor_zeros(LOOM_CUDA, LOOM_F32, 3, shape, &t));
    T_CHECK(t.device == LOOM_CUDA && t.dtype == LOOM_F32 && t.ndim == 3, "tensor fields");
    static float host[2 * 77 * 768];
    host[5] = 1.0f;
    T_OK(loom_device_download(host, t.data, sizeof host));
    int zeros = 1;
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) zeros &= host[i] == 0.0f;
    T_CHECK(zeros, "loom_tensor_zeros on the GPU is not all zeros");
    loom_tensor_free(&t);
    T_CHECK(t.data == NULL, "tensor_free left data");
    T_OK(loom_device_sync());
}

int main(void)
{
    char desc[160];
    if (loom_cuda_probe(0, desc, sizeof desc) == LOOM_OK) {
        printf("GPU: %s\n", desc);
        with_gpu();
    } else {
        printf("no GPU (%s): checking the failure paths\n", loom_last_error());
        without_gpu();
    }
    return t_finish("test_device_memory");
}
