/* fuzz_safetensors.c — libFuzzer target for the tensor-file loaders, seeded
 * with safetensors files (tests/fixtures/loader/st_*, tests/bad_inputs/st_*).
 *
 * The bytes are opened in place with loom_tfile_open_memory; container
 * detection runs first, so mutations that turn into zip files reach the
 * torch loader too. On success every tensor's first and last byte is read,
 * so a view reaching outside the input shows up under ASan. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tensor_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_tfile *tf = NULL;
    if (loom_tfile_open_memory("fuzz.safetensors", data, size, &tf) != LOOM_OK) {
        /* A refusal is fine; its message must still be one line. */
        if (strchr(loom_last_error(), '\n')) __builtin_trap();
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < tf->n_tensors; i++) {
        const loom_tf_entry *e = &tf->tensors[i];
        if (!e->numel) continue;
        uint64_t last = 0; /* element offset of [shape-1, ...]; strides are ≥ 0 */
        for (int d = 0; d < e->ndim; d++) last += (uint64_t)(e->shape[d] - 1) * (uint64_t)e->stride[d];
        sink ^= e->data[0];
        sink ^= e->data[(last + 1) * loom_dtype_size(e->dtype) - 1];
        if (loom_tfile_find(tf, e->name) != e) __builtin_trap(); /* the index must find every name */
    }
    for (int i = 0; i < tf->n_meta; i++) sink ^= (uint8_t)tf->meta[i].value[0];
    (void)sink;
    loom_tfile_close(tf);
    return 0;
}
