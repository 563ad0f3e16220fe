/* keymap.h — which checkpoint weight an adapter module targets (adapters.md §4, §8 step 4).
 *
 * One generated table per model family (keymap_<family>.c, from shared/specs/keymaps/<family>_modules.tsv by
 * scripts/gen_keymap_tables.py), sorted by kohya stem. A module stem in any accepted spelling —
 * kohya `lora_unet_…` / `lora_te_…`, diffusers / PEFT `unet.…` / `text_encoder.…`, or a bare
 * diffusers path — resolves to the row of its target. */
#ifndef LOOM_KEYMAP_H
#define LOOM_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"
#include "sd_family.h"

typedef enum loom_keymap_layer {
    LOOM_KM_LINEAR = 0, /* weight [O, I] */
    LOOM_KM_CONV,       /* weight [O, I, kh, kw] (1×1 or 3×3) */
} loom_keymap_layer;

typedef struct loom_keymap_row {
    const char *kohya;      /* lora_unet_down_blocks_0_… */
    const char *diffusers;  /* unet.down_blocks.0.… (with the component prefix) */
    const char *weight;     /* checkpoint tensor: model.diffusion_model.input_blocks.1.1.… .weight */
    int64_t shape[4];       /* the module's weight shape (the slice's, for a fused weight); unused dims 1 */
    int ndim;               /* 2 for Linear, 4 for conv */
    loom_keymap_layer layer;
    int stride;             /* conv stride (2 for the downsamplers) */
    int64_t row_begin, row_end; /* rows of `weight` this module owns (§4.5 fused q/k/v); 0, 0 = all */
} loom_keymap_row;

typedef struct loom_keymap_table {
    loom_sd_family family;
    const loom_keymap_row *rows;
    int n_rows;
} loom_keymap_table;

extern const loom_keymap_table loom_keymap_sd15;

/* The table of a family, NULL when loom has none yet (SD2, SDXL are a data change: add them to
 * scripts/gen_keymap_tables.py). */
const loom_keymap_table *loom_keymap_for(loom_sd_family family);

/* The row of the module `stem` (stem_len bytes, need not be terminated), or NULL. */
const loom_keymap_row *loom_keymap_resolve(const loom_keymap_table *t, const char *stem, size_t stem_len);

/* The loaded model's shape of checkpoint tensor `weight` in PyTorch order ([O, I] or
 * [O, I, kh, kw]): returns 1 and fills shape/ndim, or 0 when the model has no such tensor. */
typedef int (*loom_keymap_shape_fn)(void *user, const char *weight, int64_t shape[4], int *ndim);

/* The family table `base` fitted to one loaded model (a tiny or pruned model has other widths
 * than SD1.5): rows whose weight the model lacks are dropped, so adapter modules for them count
 * as unmatched; shapes are the model's (a row owning a slice of a fused weight keeps its row
 * range and takes the slice's height). Row strings still point into `base`. Free with
 * loom_keymap_table_free. */
loom_status loom_keymap_for_model(const loom_keymap_table *base, loom_keymap_shape_fn fn, void *user,
                                  loom_keymap_table *out);
void loom_keymap_table_free(loom_keymap_table *t);

/* Input width of a row's weight times its kernel: the columns of the flattened [O, I·kh·kw]. */
int64_t loom_keymap_cols(const loom_keymap_row *r);

#endif
