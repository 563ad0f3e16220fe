/* prompt_chunks.c — tokens and 75-token chunks as A1111's tokenize_line
 * (addons.md §4.6–4.7, §2.4 for embeddings).
 *
 * Each emphasis piece is tokenized on its own and its tokens are appended to
 * the current chunk with the piece's weight. Before a token that does not
 * fit (the chunk holds 75) the chunk is closed; if it is not a comma and the
 * chunk's last comma is at most `comma_backtrack` tokens from its end, the
 * tokens after that comma move to the next chunk instead. A comma records its
 * position even when it then starts a new chunk, where the record is reset
 * (so it is not seen there) — as A1111. A BREAK piece closes the chunk even
 * when empty. Closing pads to 75 with EOS and adds BOS/EOS (weights 1).
 * Embedding placeholders (id 0, the piece's weight) are never split across
 * chunks, and the comma move leaves their fixes in the chunk they were
 * recorded in (A1111's quirk, §2.4). */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_util.h"

typedef struct chunker {
    const loom_prompt_chunk_opts *o;
    loom_prompt_chunks *out;
    size_t cap;
    int32_t ids[LOOM_CHUNK_TOKENS]; /* the open chunk */
    double w[LOOM_CHUNK_TOKENS];
    int n;
    loom_prompt_fix *fixes;
    int n_fixes;
    size_t cap_fixes;
    int last_comma;
} chunker;

static loom_status close_chunk(chunker *c, int is_last)
{
    loom_prompt_chunks *out = c->out;
    if (out->n >= 0x7fffffff / LOOM_CHUNK_TOKENS)
        return loom_fail(LOOM_E_INVALID, "prompt: too many 75-token chunks");
    LOOM_TRY(loom_prompt_grow((void **)&out->v, &c->cap, (size_t)out->n + 1, sizeof *out->v));
    loom_prompt_chunk *k = &out->v[out->n++];
    out->token_count += is_last ? c->n : LOOM_CHUNK_TOKENS;
    k->ids[0] = c->o->bos;
    k->weights[0] = 1.0;
    for (int i = 0; i < LOOM_CHUNK_TOKENS; i++) {
        k->ids[1 + i] = i < c->n ? c->ids[i] : c->o->eos;
        k->weights[1 + i] = i < c->n ? c->w[i] : 1.0;
    }
    k->ids[LOOM_CHUNK_IDS - 1] = c->o->eos;
    k->weights[LOOM_CHUNK_IDS - 1] = 1.0;
    k->fixes = c->fixes;
    k->n_fixes = c->n_fixes;
    c->fixes = NULL;
    c->n_fixes = 0;
    c->cap_fixes = 0;
    c->n = 0;
    c->last_comma = -1;
    return LOOM_OK;
}

static loom_status add_embedding(chunker *c, const int32_t *ids, int n, int pos, double weight, int *used)
{
    int vectors = 0, handle = 0;
    int m = c->o->find_embedding(c->o->embedding_user, ids, (size_t)n, (size_t)pos, &vectors, &handle);
    *used = 0;
    if (m <= 0) return LOOM_OK;
    if (m > n - pos)
        return loom_fail(LOOM_E_INVALID, "prompt: embedding lookup matched %d tokens past the end", m);
    if (vectors < 1 || vectors > LOOM_CHUNK_TOKENS)
        return loom_fail(LOOM_E_UNSUPPORTED, "prompt: an embedding of %d vectors (1 to %d fit a chunk)",
                         vectors, LOOM_CHUNK_TOKENS);
    if (c->n + vectors > LOOM_CHUNK_TOKENS) LOOM_TRY(close_chunk(c, 0));
    LOOM_TRY(loom_prompt_grow((void **)&c->fixes, &c->cap_fixes, (size_t)c->n_fixes + 1, sizeof *c->fixes));
    c->fixes[c->n_fixes++] = (loom_prompt_fix){c->n, handle};
    for (int i = 0; i < vectors; i++) {
        c->ids[c->n] = 0;
        c->w[c->n++] = weight;
    }
    *used = m;
    return LOOM_OK;
}

static loom_status add_piece(chunker *c, const int32_t *ids, int n, double weight)
{
    const loom_prompt_chunk_opts *o = c->o;
    for (int pos = 0; pos < n;) {
        int32_t tok = ids[pos];
        if (tok == o->comma) {
            c->last_comma = c->n;
        } else if (o->comma_backtrack != 0 && c->n == LOOM_CHUNK_TOKENS && c->last_comma != -1 &&
                   LOOM_CHUNK_TOKENS - c->last_comma <= o->comma_backtrack) {
            int cut = c->last_comma + 1, moved = LOOM_CHUNK_TOKENS - cut;
            int32_t mi[LOOM_CHUNK_TOKENS];
            double mw[LOOM_CHUNK_TOKENS];
            memcpy(mi, c->ids + cut, (size_t)moved * sizeof *mi);
            memcpy(mw, c->w + cut, (size_t)moved * sizeof *mw);
            c->n = cut;
            LOOM_TRY(close_chunk(c, 0));
            memcpy(c->ids, mi, (size_t)moved * sizeof *mi);
            memcpy(c->w, mw, (size_t)moved * sizeof *mw);
            c->n = moved;
        }
        if (c->n == LOOM_CHUNK_TOKENS) LOOM_TRY(close_chunk(c, 0));
        if (o->find_embedding) {
            int used;
            LOOM_TRY(add_embedding(c, ids, n, pos, weight, &used));
            if (used) {
                pos += used;
                continue;
            }
        }
        c->ids[c->n] = tok;
        c->w[c->n++] = weight;
        pos++;
    }
    return LOOM_OK;
}

static loom_status chunk_pieces(chunker *c, const loom_prompt_pieces *pieces)
{
    int32_t *ids = NULL;
    int n = 0, cap = 0;
    loom_status st = LOOM_OK;
    for (int i = 0; i < pieces->n && st == LOOM_OK; i++) {
        const loom_prompt_piece *p = &pieces->v[i];
        if (loom_prompt_piece_is_break(p)) {
            st = close_chunk(c, 0);
            continue;
        }
        n = 0;
        st = c->o->tokenize(c->o->tokenize_user, p->text, p->len, &ids, &n, &cap);
        if (st == LOOM_OK) st = add_piece(c, ids, n, p->weight);
    }
    if (st == LOOM_OK && (c->n > 0 || c->out->n == 0)) st = close_chunk(c, 1);
    free(ids);
    return st;
}

void loom_prompt_chunks_free(loom_prompt_chunks *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->v[i].fixes);
    free(c->v);
    memset(c, 0, sizeof *c);
}

loom_status loom_prompt_to_chunks(const char *text, size_t len, const loom_prompt_chunk_opts *opts,
                              loom_prompt_chunks *out)
{
    memset(out, 0, sizeof *out);
    if (!opts || !opts->tokenize) return loom_fail(LOOM_E_INVALID, "prompt: no tokenizer for chunking");
    if (len > LOOM_PROMPT_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt: %zu bytes; the limit is %u", len, LOOM_PROMPT_MAX_BYTES);
    loom_prompt_pieces pieces = {0};
    loom_prompt_piece whole;
    loom_status st = LOOM_OK;
    if (opts->no_emphasis) { /* emphasis "None": one piece, brackets and BREAK as text */
        whole = (loom_prompt_piece){(char *)text, len, 1.0};
        pieces = (loom_prompt_pieces){1, &whole};
    } else {
        st = loom_prompt_parse_emphasis(text, len, &pieces);
    }
    chunker c = {.o = opts, .out = out, .last_comma = -1};
    if (st == LOOM_OK) st = chunk_pieces(&c, &pieces);
    free(c.fixes);
    if (!opts->no_emphasis) loom_prompt_pieces_free(&pieces);
    if (st != LOOM_OK) loom_prompt_chunks_free(out);
    return st;
}

static loom_status tokenize_clip(void *user, const char *text, size_t len, int32_t **ids, int *n, int *cap)
{
    return loom_tokenize((const loom_tokenizer *)user, text, len, ids, n, cap);
}

loom_prompt_chunk_opts loom_prompt_chunk_defaults(const loom_tokenizer *t)
{
    loom_prompt_chunk_opts o = {0};
    o.tokenize = tokenize_clip;
    o.tokenize_user = (void *)t;
    o.bos = LOOM_TOKEN_BOS;
    o.eos = LOOM_TOKEN_EOS;
    o.comma = loom_token_id(t, ",</w>");
    o.comma_backtrack = 20; /* A1111 shared_options.py comma_padding_backtrack */
    return o;
}

loom_status loom_prompt_chunks_pad(loom_prompt_chunks *c, int n, int32_t bos, int32_t eos)
{
    if (n <= c->n) return LOOM_OK;
    loom_prompt_chunk *v = realloc(c->v, (size_t)n * sizeof *v);
    if (!v) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    c->v = v;
    for (; c->n < n; c->n++) {
        loom_prompt_chunk *k = &v[c->n];
        memset(k, 0, sizeof *k);
        for (int i = 0; i < LOOM_CHUNK_IDS; i++) {
            k->ids[i] = i == 0 ? bos : eos;
            k->weights[i] = 1.0;
        }
    }
    return LOOM_OK;
}

void loom_prompt_chunks_set_pad(loom_prompt_chunks *c, int32_t eos, int32_t pad_id)
{
    for (int k = 0; k < c->n; k++) {
        int32_t *ids = c->v[k].ids;
        int i = 0;
        while (i < LOOM_CHUNK_IDS && ids[i] != eos) i++;
        for (i++; i < LOOM_CHUNK_IDS; i++) ids[i] = pad_id;
    }
}
