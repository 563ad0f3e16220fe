/* weights.h — binding model modules to checkpoint tensors by key.
 *
 * Model code names every weight by its original (LDM/SGM) checkpoint key
 * (style.md: "Name modules by checkpoint key"), e.g.
 *   "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight".
 * A loom_weights source resolves such a key in one or more open tensor files
 * (a single-file checkpoint, a separate VAE, or diffusers component files
 * whose keys are renamed to LDM ones by a key map) and returns the tensor
 * converted for the backend: contiguous f32 on the host for the CPU backend,
 * f16 on the GPU for CUDA (uploaded once, converted on the device); conv
 * weights are permuted OIHW → OHWI (ops.h layout).
 * Errors name the file and the key: "model.safetensors: missing tensor
 * 'model.diffusion_model.out.2.weight'" or "...: 'x' is [320, 4, 3, 3], expected [320, 4, 3, 3]". */
#ifndef LOOM_WEIGHTS_H
#define LOOM_WEIGHTS_H

#include "backend.h"
#include "tensor_file.h"

#define LOOM_WEIGHTS_MAX_SOURCES 8

/* A key map: returns the name to look up in the file for an LDM key, or NULL
 * when this source does not hold that key. NULL map = identity. */
typedef const char *(*loom_key_map_fn)(void *ctx, const char *ldm_key, char *buf, size_t buf_len);

typedef struct loom_weight_source {
    const loom_tfile *tf;
    loom_key_map_fn map;
    void *map_ctx;
} loom_weight_source;

/* A ready-made map for files holding one component without its prefix (a
 * separate VAE "decoder.conv_in.weight" for "first_stage_model.decoder.…"):
 * ctx is the prefix (const char *) to strip; keys without it are not held. */
const char *loom_key_map_strip(void *ctx, const char *ldm_key, char *buf, size_t buf_len);

typedef struct loom_weights {
    loom_backend backend;
    loom_dtype dtype;                 /* device storage (CUDA: f16 or bf16); f32 on the CPU */
    int n_sources;
    loom_weight_source sources[LOOM_WEIGHTS_MAX_SOURCES];
    uint64_t bytes_loaded; /* converted bytes handed out, for reports */
    const struct loom_keymap_table *modules; /* optional: the model's adapter key table, so loaders
                                                can tag modules with their slot (model_ad.h) */
} loom_weights;

typedef enum loom_weight_kind {
    LOOM_W_ANY = 0,   /* as stored (any rank), converted to f32 */
    LOOM_W_CONV,      /* [O, I, kh, kw] in the file → [O, kh, kw, I] */
    LOOM_W_HOST,      /* as LOOM_W_ANY, but host f32 on every backend (tables host code reads) */
} loom_weight_kind;

void loom_weights_init(loom_weights *w, loom_backend backend);
/* CUDA storage type for the weights uploaded after this (f16 by default, or bf16). */
loom_status loom_weights_set_dtype(loom_weights *w, loom_dtype dtype);
/* Sources are searched in the order added: add an override (a --vae file) first. */
loom_status loom_weights_add(loom_weights *w, const loom_tfile *tf, loom_key_map_fn map, void *map_ctx);

/* 1 when some source holds `key`. */
int loom_weights_has(const loom_weights *w, const char *key);
/* The path of the file that holds `key` (the first source's when none does),
 * for messages about a tensor that loaded but does not fit the model. */
const char *loom_weights_path(const loom_weights *w, const char *key);
/* The stored shape of `key` (file order, before any permutation). */
loom_status loom_weights_shape(const loom_weights *w, const char *key, int *ndim, int64_t shape[LOOM_MAX_DIMS]);

/* Load `key`, check its stored shape against `want` (ndim entries; a -1 entry
 * matches anything; want == NULL skips the check), convert, and return an
 * owning tensor (free with loom_tensor_free). */
loom_status loom_weights_get(loom_weights *w, const char *key, loom_weight_kind kind, int ndim,
                             const int64_t *want, loom_tensor *out);

#endif
