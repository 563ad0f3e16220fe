/* infotext.h — A1111's "parameters" text (PNG Info / Civitai), addons.md §6.1.
 *
 *   <prompt>
 *   Negative prompt: <negative>            (omitted when empty)
 *   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.0, Seed: 1, Size: 512x512, …
 *
 * Field order, omission rules and value quoting follow A1111's create_infotext
 * so that A1111's PNG Info and Civitai parse what loom writes. */
#ifndef LOOM_INFOTEXT_H
#define LOOM_INFOTEXT_H

#include <stdint.h>

#include "loom_base.h"

#define LOOM_INFOTEXT_MAX_EXTRA 16

typedef struct loom_infotext_pair {
    const char *key, *value; /* value already formatted; quoted here if it needs it */
} loom_infotext_pair;

typedef struct loom_infotext {
    const char *prompt;            /* as typed, extra-network tags included */
    const char *negative_prompt;   /* NULL or "" omits the line */
    int steps;
    const char *sampler;           /* A1111 label: "Euler a", "DPM++ 2M" */
    const char *schedule_type;     /* A1111 label ("Karras"), NULL omits */
    double cfg_scale;
    int64_t seed;
    int width, height;
    const char *model_hash;        /* 10 hex (AutoV2), NULL omits */
    const char *model;             /* checkpoint file stem, NULL omits */
    const char *vae_hash, *vae;    /* NULL omits */
    double denoising_strength;     /* < 0 omits (txt2img) */
    int clip_skip;                 /* written only when > 1 */
    const char *rng;               /* NULL for A1111's default "GPU"; "CPU" or "NV" */
    int n_extra;                   /* extra_generation_params, in order: "Lora hashes", "TI hashes", … */
    loom_infotext_pair extra[LOOM_INFOTEXT_MAX_EXTRA];
    const char *version;           /* "loom 0.1.0"; NULL omits */
} loom_infotext;

/* malloc'd UTF-8 string, or NULL with an error set. */
char *loom_infotext_format(const loom_infotext *p);

/* Python's repr() of a float ("7.0", "0.1", "1e-05", "1e+16"): A1111 writes
 * values with str(). buf ≥ 32 bytes. */
const char *loom_py_float_repr(double v, char *buf, size_t n);

#endif
