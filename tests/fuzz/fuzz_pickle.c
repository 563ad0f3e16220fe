/* fuzz_pickle.c — libFuzzer target for the restricted unpickler alone
 * (host/io/pickle.c, pickle_reduce.c) on raw bytes, seeded with
 * tests/fixtures/loader/pk_*.pkl (scripts/fuzz.sh).
 *
 * On success the whole value tree is walked (bounded: trees may share and
 * even contain themselves) and every string byte read, so a length that
 * outruns its buffer shows up under ASan. */
#include <stdint.h>
#include <string.h>

#include "pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t budget;

static uint8_t walk(const loom_pickle_value *v, int depth)
{
    if (!v || depth > 64 || !budget) return 0;
    budget--;
    uint8_t x = (uint8_t)v->kind;
    switch (v->kind) {
    case LOOM_PV_STR: case LOOM_PV_BYTES: case LOOM_PV_BIGINT:
        for (size_t i = 0; i <= v->u.str.len; i++) x ^= (uint8_t)v->u.str.data[i]; /* incl. the NUL */
        break;
    case LOOM_PV_TUPLE: case LOOM_PV_LIST:
        for (size_t i = 0; i < v->u.seq.n; i++) x ^= walk(v->u.seq.items[i], depth + 1);
        break;
    case LOOM_PV_DICT:
        for (size_t i = 0; i < v->u.dict.n; i++)
            x ^= walk(v->u.dict.keys[i], depth + 1) ^ walk(v->u.dict.vals[i], depth + 1);
        break;
    case LOOM_PV_GLOBAL: x ^= (uint8_t)(strlen(v->u.global.module) + strlen(v->u.global.name)); break;
    case LOOM_PV_STORAGE: x ^= (uint8_t)strlen(v->u.storage.key); break;
    case LOOM_PV_TENSOR:
        for (int d = 0; d < v->u.tensor.ndim; d++) x ^= (uint8_t)(v->u.tensor.shape[d] ^ v->u.tensor.stride[d]);
        x ^= walk(v->u.tensor.storage, depth + 1);
        break;
    case LOOM_PV_OBJECT:
        x ^= walk(v->u.object.cls, depth + 1) ^ walk(v->u.object.args, depth + 1) ^ walk(v->u.object.state, depth + 1);
        x ^= walk(v->u.object.items, depth + 1) ^ walk(v->u.object.list, depth + 1);
        break;
    default: break;
    }
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_arena arena;
    loom_arena_init(&arena, 0);
    loom_pickle_result res;
    if (loom_pickle_load(data, size, &arena, "fuzz.pkl", &res) == LOOM_OK) {
        budget = 100000;
        volatile uint8_t sink = walk(res.root, 0);
        for (const loom_pickle_value *t = res.tensors; t; t = t->u.tensor.next_tensor)
            if (t->kind != LOOM_PV_TENSOR || t->u.tensor.storage->kind != LOOM_PV_STORAGE) __builtin_trap();
        (void)sink;
    } else if (strchr(loom_last_error(), '\n')) {
        __builtin_trap();
    }
    loom_arena_free(&arena);
    return 0;
}
