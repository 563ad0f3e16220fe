/* test_base.c — status messages, arena, tensor views, dtype tables, logging
 * levels: the plumbing everything else relies on. (fp16/bf16 rounding is
 * checked bit for bit against torch in tests/ops.) */
#include <string.h>

#include "arena.h"
#include "backend.h"
#include "log.h"
#include "testlib.h"

static loom_status inner(void) { return loom_fail(LOOM_E_FORMAT, "key 'x': shape mismatch"); }

static loom_status outer(void)
{
    loom_status s = inner();
    if (s) return loom_fail_wrap(s, "lora.safetensors");
    return LOOM_OK;
}

static void test_status(void)
{
    T_CHECK(outer() == LOOM_E_FORMAT, "code propagates");
    T_CHECK(!strcmp(loom_last_error(), "lora.safetensors: key 'x': shape mismatch"), "got '%s'", loom_last_error());
    loom_clear_error();
    loom_fail_wrap(LOOM_E_IO, "f");
    T_CHECK(!strcmp(loom_last_error(), "f: i/o error"), "wrap with no message: '%s'", loom_last_error());
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    loom_fail(LOOM_E_INVALID, "%s", big);
    loom_fail_wrap(LOOM_E_INVALID, "%s", big);
    T_CHECK(strlen(loom_last_error()) < 1024, "long messages are truncated, not overflowed");
    for (int i = 0; i < LOOM_STATUS_COUNT; i++) T_CHECK(loom_status_name((loom_status)i)[0], "status %d named", i);
}

static void test_arena(void)
{
    loom_arena a;
    loom_arena_init(&a, 64);
    char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = loom_arena_alloc(&a, (size_t)(i * 7 + 1));
        T_CHECK(p[i] && ((uintptr_t)p[i] % 16) == 0, "alloc %d aligned", i);
        if (p[i]) memset(p[i], i, (size_t)(i * 7 + 1));
    }
    for (int i = 0; i < 100; i++) T_CHECK(p[i][i * 7] == (char)i, "alloc %d kept its bytes", i);
    char *s = loom_arena_strndup(&a, "hello world", 5);
    T_CHECK(s && !strcmp(s, "hello"), "strndup");
    T_CHECK(loom_arena_alloc(&a, SIZE_MAX) == NULL, "absurd size refused");
    loom_arena_free(&a);
    T_CHECK(a.head == NULL, "freed");
}

static void test_tensor(void)
{
    float buf[24];
    int64_t shape[3] = {2, 3, 4};
    loom_tensor t = loom_tensor_view(buf, LOOM_F32, 3, shape);
    T_CHECK(t.stride[0] == 12 && t.stride[1] == 4 && t.stride[2] == 1, "row-major strides");
    T_CHECK(loom_tensor_numel(&t) == 24 && loom_tensor_nbytes(&t) == 96, "numel/nbytes");
    T_CHECK(loom_tensor_is_contiguous(&t), "contiguous");
    for (int i = 0; i < 24; i++) buf[i] = (float)i;
    /* transpose the last two dims as a view: element (0, 1, 2) is buf[2*4+1] */
    loom_tensor tr = t;
    tr.shape[1] = 4; tr.shape[2] = 3; tr.stride[1] = 1; tr.stride[2] = 4;
    T_CHECK(!loom_tensor_is_contiguous(&tr), "transposed view is not contiguous");
    T_CHECK(loom_tensor_get(&tr, 0 * 12 + 1 * 3 + 2) == 9.0, "strided get");
    float out[24];
    T_OK(loom_tensor_to_f32(&tr, out));
    T_CHECK(out[1] == 4.0f && out[3] == 1.0f, "strided gather");
    char sb[64];
    T_CHECK(!strcmp(loom_shape_str(&t, sb, sizeof sb), "[2, 3, 4]"), "shape string %s", sb);
}

static void test_tables(void)
{
    for (int i = 0; i < LOOM_DTYPE_COUNT; i++) {
        loom_dtype d;
        T_CHECK(loom_dtype_from_st_name(loom_dtype_st_name((loom_dtype)i), &d) == 0 && d == (loom_dtype)i,
                "dtype %d round-trips through its safetensors name", i);
        T_CHECK(loom_dtype_size((loom_dtype)i) > 0, "dtype %d has a size", i);
    }
    loom_dtype d;
    T_CHECK(loom_dtype_from_st_name("F4", &d) != 0, "unknown dtype refused");
    loom_backend b;
    T_CHECK(loom_backend_from_name("cuda", &b) == 0 && b == LOOM_BACKEND_CUDA, "backend name");
    T_CHECK(loom_backend_from_name("metal", &b) != 0, "unknown backend refused");
    T_CHECK(loom_op_missing(&loom_ops_cuda, "conv2d") == LOOM_E_UNSUPPORTED &&
                strstr(loom_last_error(), "conv2d") && strstr(loom_last_error(), "cuda"),
            "missing op message: %s", loom_last_error());
}

int main(void)
{
    loom_log_set_level(LOOM_LOG_ERROR);
    test_status();
    test_arena();
    test_tensor();
    test_tables();
    return t_finish("test_base");
}
