/* pipeline_cond.h — a prompt's conditioning as A1111 computes it
 * (addons.md §4.1, §4.7–4.10): the schedule variants of one prompt are encoded
 * together, chunk index by chunk index (shorter variants padded with empty
 * chunks), with "Original" emphasis over each such batch; a variant's context
 * is its chunks' hidden states concatenated: [77·chunks, width]. */
#ifndef LOOM_PIPELINE_COND_H
#define LOOM_PIPELINE_COND_H

#include "clip.h"
#include "prompt.h"
#include "tokenizer.h"

typedef struct loom_cond {
    loom_prompt_schedule *sched;
    int n_variants;
    int n_chunks;          /* the same for every variant */
    loom_tensor *ctx;      /* [n_variants] of [77·n_chunks, width] f32 host */
} loom_cond;

loom_status loom_cond_encode(const loom_clip *clip, const loom_ops *ops, const loom_tokenizer *tok, const char *text,
                             int steps, int clip_skip, loom_cond *out);
/* The same through text-encoder adapters: every row uses set `set` of ad->plans (ad->batch and
 * ad->set_of are filled here; ad may be NULL). */
loom_status loom_cond_encode_ad(const loom_clip *clip, const loom_ops *ops, const loom_model_ad *ad, int set,
                                const loom_tokenizer *tok, const char *text, int steps, int clip_skip, loom_cond *out);
void loom_cond_free(loom_cond *c);
/* The context for denoiser call k (A1111's CFGDenoiser.step). */
const loom_tensor *loom_cond_at(const loom_cond *c, int k);

#endif
