/* pipeline_cond.c — see pipeline_cond.h. */
#include "pipeline_cond.h"

#include <stdlib.h>
#include <string.h>

#include "tensor_alloc.h"

static loom_status tokenize_cb(void *user, const char *text, size_t len, int32_t **ids, int *n, int *cap)
{
    return loom_tokenize(user, text, len, ids, n, cap);
}

void loom_cond_free(loom_cond *c)
{
    if (c->ctx)
        for (int i = 0; i < c->n_variants; i++) loom_tensor_free(&c->ctx[i]);
    free(c->ctx);
    if (c->sched) loom_prompt_schedule_free(c->sched);
    memset(c, 0, sizeof *c);
}

const loom_tensor *loom_cond_at(const loom_cond *c, int k)
{
    return &c->ctx[loom_prompt_schedule_index(c->sched, k)];
}

loom_status loom_cond_encode(const loom_clip *clip, const loom_ops *ops, const loom_tokenizer *tok, const char *text,
                             int steps, int clip_skip, loom_cond *out)
{
    return loom_cond_encode_ad(clip, ops, NULL, -1, tok, text, steps, clip_skip, out);
}

loom_status loom_cond_encode_ad(const loom_clip *clip, const loom_ops *ops, const loom_model_ad *ad, int set,
                                const loom_tokenizer *tok, const char *text, int steps, int clip_skip, loom_cond *out)
{
    memset(out, 0, sizeof *out);
    loom_status s = loom_prompt_schedule_parse(text, strlen(text), steps, &out->sched);
    if (s != LOOM_OK) return s;
    int nv = out->n_variants = loom_prompt_schedule_count(out->sched);
    loom_prompt_chunks *chunks = calloc((size_t)nv, sizeof *chunks);
    out->ctx = calloc((size_t)nv, sizeof *out->ctx);
    int32_t *ids = NULL;
    int *set_of = NULL;
    float *w = NULL;
    loom_tensor z = {0};
    if (!chunks || !out->ctx) {
        s = loom_fail(LOOM_E_NOMEM, "out of memory encoding the prompt");
        goto done;
    }
    loom_prompt_chunk_opts opts = loom_prompt_chunk_defaults(tok);
    opts.tokenize = tokenize_cb;
    opts.tokenize_user = (void *)tok;
    int n_chunks = 1;
    for (int v = 0; v < nv; v++) {
        char *vt;
        size_t vl;
        if ((s = loom_prompt_schedule_text(out->sched, v, &vt, &vl)) != LOOM_OK) goto done;
        s = loom_prompt_to_chunks(vt, vl, &opts, &chunks[v]);
        free(vt);
        if (s != LOOM_OK) goto done;
        if (chunks[v].n > n_chunks) n_chunks = chunks[v].n;
    }
    for (int v = 0; v < nv; v++)
        if ((s = loom_prompt_chunks_pad(&chunks[v], n_chunks, opts.bos, opts.eos)) != LOOM_OK) goto done;
    out->n_chunks = n_chunks;
    int64_t width = clip->cfg.width;
    for (int v = 0; v < nv; v++) {
        int64_t shape[2] = {(int64_t)LOOM_CLIP_TOKENS * n_chunks, width};
        if ((s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 2, shape, &out->ctx[v])) != LOOM_OK) goto done;
    }
    ids = malloc((size_t)nv * LOOM_CLIP_TOKENS * sizeof *ids);
    w = malloc((size_t)nv * LOOM_CLIP_TOKENS * sizeof *w);
    /* every variant of the prompt runs the text encoder with the same adapter set */
    set_of = malloc((size_t)nv * sizeof *set_of);
    loom_model_ad cad = {0};
    if (ad && set_of) {
        for (int v = 0; v < nv; v++) set_of[v] = set;
        cad = (loom_model_ad){ad->map, ad->plans, nv, set_of, ad->dplans};
    }
    int64_t zshape[3] = {nv, LOOM_CLIP_TOKENS, width};
    if (!ids || !w || !set_of || (s = loom_tensor_alloc(LOOM_HOST, LOOM_F32, 3, zshape, &z)) != LOOM_OK) {
        if (s == LOOM_OK) s = loom_fail(LOOM_E_NOMEM, "out of memory encoding the prompt");
        goto done;
    }
    for (int c = 0; c < n_chunks; c++) {
        for (int v = 0; v < nv; v++)
            for (int t = 0; t < LOOM_CLIP_TOKENS; t++) {
                ids[v * LOOM_CLIP_TOKENS + t] = chunks[v].v[c].ids[t];
                w[v * LOOM_CLIP_TOKENS + t] = (float)chunks[v].v[c].weights[t];
            }
        /* [nv, 77] ids → z [nv, 77, width]; emphasis over the whole batch (A1111) */
        if ((s = loom_clip_encode_ad(clip, ops, ad ? &cad : NULL, ids, clip_skip, &z)) != LOOM_OK) goto done;
        if ((s = loom_clip_apply_emphasis(&z, w)) != LOOM_OK) goto done;
        size_t row = (size_t)LOOM_CLIP_TOKENS * (size_t)width;
        for (int v = 0; v < nv; v++)
            memcpy((float *)out->ctx[v].data + (size_t)c * row, (float *)z.data + (size_t)v * row, row * sizeof(float));
    }
done:
    loom_tensor_free(&z);
    free(ids);
    free(set_of);
    free(w);
    if (chunks) {
        for (int v = 0; v < nv; v++) loom_prompt_chunks_free(&chunks[v]);
        free(chunks);
    }
    if (s != LOOM_OK) loom_cond_free(out);
    return s;
}
