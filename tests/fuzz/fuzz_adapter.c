/* fuzz_adapter.c — libFuzzer target for the adapter parser and the plan builder, seeded with
 * every fixture (the adapter files of tests/fixtures/inspect and adapters_live among them).
 *
 * The bytes are opened as a tensor file, parsed against the SD1.5 key table (the key grammar,
 * factor shapes, ranks, alphas: adapters.md §1–§4), and a parsed adapter is built into plans at
 * multiplier 0.7 (Tucker folds, Khatri–Rao and Kronecker factors, IA³ vectors, §6). Refusals are
 * fine; their message must be one line. DoRA modules need the base weight, which the fuzzer
 * does not have: the builder must refuse those cleanly too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "plan.h"
#include "tensor_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loom_status no_base(void *user, int row, loom_tensor *w)
{
    (void)user, (void)row, (void)w;
    return loom_fail(LOOM_E_UNSUPPORTED, "fuzz: no base weights");
}

static void one_line(void)
{
    if (strchr(loom_last_error(), '\n')) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_tfile *tf = NULL;
    if (loom_tfile_open_memory("fuzz.safetensors", data, size, &tf) != LOOM_OK) {
        one_line();
        return 0;
    }
    loom_adapter_src *src = calloc((size_t)tf->n_tensors + 1, sizeof *src);
    int n = 0;
    for (int i = 0; src && i < tf->n_tensors; i++)
        if (loom_tfile_tensor(tf, &tf->tensors[i], &src[n].t) == LOOM_OK) src[n++].name = tf->tensors[i].name;
    loom_adapter a;
    if (src && loom_adapter_parse("fuzz.safetensors", src, n, &loom_keymap_sd15, 0, &a) == LOOM_OK) {
        const loom_adapter_use use = {&a, 0.7f, 0.7f};
        const loom_adapter_set set = {1, &use};
        loom_adapter_plans *p = NULL;
        if (loom_adapter_plans_build(&loom_keymap_sd15, &set, 1, no_base, NULL, &p) == LOOM_OK)
            loom_adapter_plans_free(p);
        else
            one_line();
        loom_adapter_free(&a);
    } else {
        one_line();
    }
    free(src);
    loom_tfile_close(tf);
    return 0;
}
