/* keymap.c — resolve adapter module stems to key-map rows (keymap.h). */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

#define STEM_MAX 256

const loom_keymap_table *loom_keymap_for(loom_sd_family family)
{
    return family == LOOM_FAMILY_SD1 ? &loom_keymap_sd15 : NULL;
}

int64_t loom_keymap_cols(const loom_keymap_row *r)
{
    return r->shape[1] * r->shape[2] * r->shape[3];
}

static const loom_keymap_row *find_kohya(const loom_keymap_table *t, const char *stem)
{
    int lo = 0, hi = t->n_rows - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(t->rows[mid].kohya, stem);
        if (!c) return &t->rows[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int has_prefix(const char *s, size_t n, const char *p)
{
    size_t l = strlen(p);
    return n >= l && !memcmp(s, p, l);
}

/* kohya stem = prefix + the module path with every '.' replaced by '_' (§4.1). diffusers'
 * old attention-processor names carry a ".processor" level that the module path lacks (§1.4). */
static int to_kohya(char *buf, const char *prefix, const char *path, size_t n)
{
    size_t o = strlen(prefix);
    memcpy(buf, prefix, o);
    for (size_t i = 0; i < n; i++) {
        if (n - i >= 10 && !memcmp(path + i, ".processor", 10) && (n - i == 10 || path[i + 10] == '.')) {
            i += 9;
            continue;
        }
        if (o + 1 >= STEM_MAX) return 0;
        buf[o++] = path[i] == '.' ? '_' : path[i];
    }
    buf[o] = 0;
    return 1;
}

static const loom_keymap_row *lookup(const loom_keymap_table *t, const char *prefix, const char *path, size_t n)
{
    char buf[STEM_MAX];
    if (!to_kohya(buf, prefix, path, n)) return NULL;
    const loom_keymap_row *r = find_kohya(t, buf);
    /* old diffusers checkpoints name to_out.0 plain "to_out" (§4.3, sd.cpp's mapping) */
    size_t l = strlen(buf);
    if (!r && l >= 7 && !strcmp(buf + l - 7, "_to_out") && l + 2 < STEM_MAX) {
        memcpy(buf + l, "_0", 3);
        r = find_kohya(t, buf);
    }
    return r;
}

const loom_keymap_row *loom_keymap_resolve(const loom_keymap_table *t, const char *stem, size_t n)
{
    static const struct {
        const char *from, *to;
    } prefixes[] = {
        {"lora_unet_", "lora_unet_"}, {"lora_te_", "lora_te_"},
        {"unet.", "lora_unet_"}, {"text_encoder.", "lora_te_"},
        {"base_model.model.", "lora_unet_"}, /* a raw peft save of a UNet */
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (has_prefix(stem, n, prefixes[i].from)) {
            size_t l = strlen(prefixes[i].from);
            return lookup(t, prefixes[i].to, stem + l, n - l);
        }
    /* diffusers' PEFT→kohya converter writes lora_te1_ even for SD1 files; A1111 falls back
     * from lora_te1_text_model to the single encoder (§4.4 step 4, §7 item 10). Only a
     * one-encoder family can take it. */
    if (t->family != LOOM_FAMILY_SDXL && has_prefix(stem, n, "lora_te1_"))
        return lookup(t, "lora_te_", stem + 9, n - 9);
    /* a bare diffusers module path: the text encoder's start with text_model. (§4.5) */
    if (has_prefix(stem, n, "text_model.")) return lookup(t, "lora_te_", stem, n);
    if (memchr(stem, '.', n)) return lookup(t, "lora_unet_", stem, n);
    return NULL;
}

loom_status loom_keymap_for_model(const loom_keymap_table *base, loom_keymap_shape_fn fn, void *user,
                                  loom_keymap_table *out)
{
    *out = (loom_keymap_table){base->family, NULL, 0};
    loom_keymap_row *rows = malloc((size_t)(base->n_rows ? base->n_rows : 1) * sizeof *rows);
    if (!rows) return loom_fail(LOOM_E_NOMEM, "out of memory for the adapter key table");
    int n = 0;
    for (int i = 0; i < base->n_rows; i++) {
        const loom_keymap_row *r = &base->rows[i];
        int64_t shape[4] = {1, 1, 1, 1};
        int ndim = 0;
        if (!fn(user, r->weight, shape, &ndim) || (ndim != 2 && ndim != 4)) continue;
        loom_keymap_row k = *r;
        for (int d = 0; d < 4; d++) k.shape[d] = d < ndim ? shape[d] : 1;
        k.ndim = ndim;
        if (r->row_end > r->row_begin) {
            if (r->row_end > shape[0]) continue; /* the model's fused weight is too small for the slice */
            k.shape[0] = r->row_end - r->row_begin;
        }
        rows[n++] = k; /* filtering keeps the kohya order the lookups rely on */
    }
    out->rows = rows;
    out->n_rows = n;
    return LOOM_OK;
}

void loom_keymap_table_free(loom_keymap_table *t)
{
    free((void *)t->rows);
    *t = (loom_keymap_table){0};
}
