/* prompt.h — A1111's prompt syntax, step by step, as A1111 runs it
 * (addons.md §4.1): for a positive prompt
 *
 *   1. loom_prompt_extract_networks  `<lora:x:0.8>`-style tags out of the text (§4.2)
 *   2. loom_prompt_split_and         composable-diffusion `AND` parts with weights (§4.3)
 *   3. loom_prompt_schedule_parse    per part: `[from:to:when]` / `[a|b]` variants (§4.4)
 *   4. loom_prompt_to_chunks          per variant: emphasis (§4.5), BREAK (§4.6), tokens,
 *                                    75-token chunks of 77 ids with weights (§4.7)
 *
 * A1111 runs only steps 3–4 on a negative prompt (tags there stay literal text);
 * which steps loom applies to which prompt is the caller's choice.
 *
 * Strings in and out are byte strings with a length (NUL-terminated copies are
 * returned too). Malformed UTF-8 is carried through as bytes, never rejected.
 * Every function fails with a one-line loom_fail message and frees what it made. */
#ifndef LOOM_PROMPT_H
#define LOOM_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prompts longer than this are refused (LOOM_E_INVALID) before any parsing. */
#define LOOM_PROMPT_MAX_BYTES (1u << 20)

/* ---- 1. extra-network tags (addons.md §4.2, adapters.md §3.4) ------------ */

typedef struct loom_net_request {
    char *kind;      /* the word before the first ':' ("lora", "lyco", "hypernet", …) */
    char *tag;       /* the whole tag as written, "<lora:x:0.8>", for messages */
    char *name;      /* lora/lyco: first positional arg; hypernet: first arg;
                        other kinds: first positional arg or NULL */
    int n_args;      /* the text after "kind:" split on ':' (never 0) */
    char **args;
    /* lora/lyco/hypernet only (has_multipliers = 1): A1111's te and unet
     * multipliers (hypernet: its one multiplier in both), and lora's `dyn`. */
    int has_multipliers;
    double te, unet;
    int has_dyn;
    long long dyn;
} loom_net_request;

typedef struct loom_net_list {
    int n;
    loom_net_request *v;
} loom_net_list;

/* Removes every tag matching A1111's `<(\w+):([^>]+)>` from `text` and
 * returns the rest in *out_text (malloc'd, NUL-terminated; *out_len may be
 * NULL) and the tags in prompt order in *out. An argument with exactly one '='
 * is named (`te=0.5`), any other is positional. lora/lyco (same handler) read
 * te = pos[1] (1.0), overridden by te=; unet = pos[2] (te), overridden by
 * unet=; dyn = pos[3] or dyn=. hypernet reads its multiplier from arg 1 (1.0).
 * Numbers use Python's float()/int() syntax. A lora/lyco/hypernet tag whose
 * numbers do not parse, or a lora tag without a name, is LOOM_E_INVALID (A1111
 * fails the generation there); tags of other kinds are returned as they are. */
loom_status loom_prompt_extract_networks(const char *text, size_t len, char **out_text,
                                         size_t *out_len, loom_net_list *out);
void loom_net_list_free(loom_net_list *l);
/* The value of the last `key=value` argument, or NULL. */
const char *loom_net_request_named(const loom_net_request *r, const char *key);
/* Positional argument i (0 is the name), or NULL. */
const char *loom_net_request_positional(const loom_net_request *r, int i);

/* LOOM_E_UNSUPPORTED naming the first tag whose kind is not in `accepted`
 * (a NULL-terminated list; NULL accepts nothing), e.g.
 * "prompt: extra-network tag <lora:x:0.8> is not supported (no 'lora' support yet)";
 * `where` names the prompt ("prompt", "negative prompt"). LOOM_OK if all are accepted. */
loom_status loom_net_list_check(const loom_net_list *l, const char *const *accepted,
                                const char *where);

/* ---- 2. AND (addons.md §4.3) --------------------------------------------- */

typedef struct loom_prompt_part {
    char *text;
    size_t len;
    double weight;
} loom_prompt_part;

typedef struct loom_prompt_parts {
    int n;
    loom_prompt_part *v;
} loom_prompt_parts;

/* Splits on `\bAND\b`; each part loses trailing whitespace and an optional
 * trailing `:weight` (default 1.0). A text without AND gives one part. */
loom_status loom_prompt_split_and(const char *text, size_t len, loom_prompt_parts *out);
void loom_prompt_parts_free(loom_prompt_parts *p);

/* ---- 3. prompt editing and alternation (addons.md §4.4) ------------------ */

typedef struct loom_prompt_schedule loom_prompt_schedule;

/* Brackets nested deeper than this make the prompt literal, like a parse
 * failure (A1111 itself fails on such a prompt with a RecursionError). */
#define LOOM_PROMPT_MAX_NESTING 256
#define LOOM_PROMPT_MAX_STEPS 100000

/* Parses `text` once for `steps` sampling steps (1 … LOOM_PROMPT_MAX_STEPS).
 * A text that A1111's grammar rejects (a `|` outside `[…]`, a trailing `\`) is
 * used literally for every step, as A1111 does. Where a top-level `[`/`(` can
 * be read both as a construct and as stray characters, lark's choice is
 * followed (prompt_schedule_parse.c, which also names the one known gap).
 * No hires-fix offsets. */
loom_status loom_prompt_schedule_parse(const char *text, size_t len, int steps,
                                       loom_prompt_schedule **out);
void loom_prompt_schedule_free(loom_prompt_schedule *s);

/* Variants in order; variant i is used up to and including its end step. */
int loom_prompt_schedule_count(const loom_prompt_schedule *s);
int loom_prompt_schedule_end(const loom_prompt_schedule *s, int i);
/* The text of variant i (malloc'd, NUL-terminated). */
loom_status loom_prompt_schedule_text(const loom_prompt_schedule *s, int i, char **text,
                                      size_t *len);
/* The variant for denoiser call k (0-based, one per model evaluation): the
 * first with k <= end, or variant 0 when k is past the last end (A1111's
 * fallback, reached by samplers that evaluate twice per step). */
int loom_prompt_schedule_index(const loom_prompt_schedule *s, int k);

/* ---- 4a. emphasis (addons.md §4.5) ---------------------------------------- */

typedef struct loom_prompt_piece {
    char *text; /* NUL-terminated */
    size_t len;
    double weight; /* Python double arithmetic, bit for bit */
} loom_prompt_piece;

typedef struct loom_prompt_pieces {
    int n;
    loom_prompt_piece *v;
} loom_prompt_pieces;

/* A1111's parse_prompt_attention: (x) ×1.1, [x] ÷1.1, (x:w), escapes,
 * unbalanced brackets closed at the end, BREAK pieces, equal weights merged.
 * A weight like `(x:1.2.3)` is LOOM_E_INVALID (A1111 raises there), and so is a
 * prompt whose brackets would take tens of millions of weight multiplications
 * (tens of thousands of open brackets over as many pieces). */
loom_status loom_prompt_parse_emphasis(const char *text, size_t len, loom_prompt_pieces *out);
void loom_prompt_pieces_free(loom_prompt_pieces *p);
/* The ("BREAK", -1) piece that closes a chunk. */
int loom_prompt_piece_is_break(const loom_prompt_piece *p);

/* ---- 4b. tokens and chunks (addons.md §4.7) -------------------------------- */

#define LOOM_CHUNK_TOKENS 75
#define LOOM_CHUNK_IDS (LOOM_CHUNK_TOKENS + 2)

/* Appends the ids of `text` (no BOS/EOS) to (*ids, *n, *cap), growing with
 * realloc, like loom_tokenize (tokenizer.h); *n is unchanged on failure. */
typedef loom_status (*loom_prompt_tokenize_fn)(void *user, const char *text, size_t len,
                                               int32_t **ids, int *n, int *cap);

/* Textual-inversion hook (addons.md §2.4): at tokens[pos] of one fragment,
 * returns how many tokens an embedding name matches there (0: none) and sets
 * *n_vectors (1 … 75) and *handle (the caller's id for the embedding). */
typedef int (*loom_prompt_embedding_fn)(void *user, const int32_t *tokens, size_t n, size_t pos,
                                        int *n_vectors, int *handle);

typedef struct loom_prompt_chunk_opts {
    loom_prompt_tokenize_fn tokenize; /* required */
    void *tokenize_user;
    int32_t bos, eos;           /* 49406, 49407 */
    int32_t comma;              /* the id of ",</w>" (267) */
    int comma_backtrack;        /* A1111's comma_padding_backtrack, default 20; 0 = off */
    int no_emphasis;            /* A1111's emphasis "None": the whole text at weight 1 */
    loom_prompt_embedding_fn find_embedding; /* NULL: no embeddings */
    void *embedding_user;
} loom_prompt_chunk_opts;

/* A1111's SD1 settings with an open CLIP tokenizer (tokenizer.h): BOS 49406,
 * EOS 49407, comma = the id of ",</w>", backtrack 20, emphasis on, no embeddings. */
loom_prompt_chunk_opts loom_prompt_chunk_defaults(const loom_tokenizer *t);

typedef struct loom_prompt_fix {
    int offset; /* token position inside the 75 (row offset + 1 of the 77) */
    int handle;
} loom_prompt_fix;

typedef struct loom_prompt_chunk {
    int32_t ids[LOOM_CHUNK_IDS];     /* BOS, 75 tokens or EOS padding, EOS */
    double weights[LOOM_CHUNK_IDS];  /* 1.0 for BOS, EOS and padding */
    int n_fixes;
    loom_prompt_fix *fixes;          /* embeddings placed in this chunk */
} loom_prompt_chunk;

typedef struct loom_prompt_chunks {
    int n;                /* ≥ 1 */
    loom_prompt_chunk *v;
    int token_count;      /* A1111's count: 75 per full chunk + the last one's tokens */
} loom_prompt_chunks;

/* Emphasis-parses `text` (unless opts->no_emphasis), tokenizes every piece on
 * its own, and cuts the tokens into chunks exactly as A1111's tokenize_line. */
loom_status loom_prompt_to_chunks(const char *text, size_t len, const loom_prompt_chunk_opts *opts,
                              loom_prompt_chunks *out);
void loom_prompt_chunks_free(loom_prompt_chunks *c);

/* Appends empty chunks ([BOS] + [EOS]×76, weights 1) until c has n chunks:
 * A1111 pads the chunk lists of the texts it encodes together (schedule
 * variants, §4.7.5) this way, and the pad_cond_uncond option pads the shorter
 * of cond/uncond with the empty prompt, which chunks to the same ids (§4.10). */
loom_status loom_prompt_chunks_pad(loom_prompt_chunks *c, int n, int32_t bos, int32_t eos);
/* For encoders that pad with another id (SD2 / SDXL-G: 0, §4.8): every id
 * after the first EOS of each chunk becomes pad_id. */
void loom_prompt_chunks_set_pad(loom_prompt_chunks *c, int32_t eos, int32_t pad_id);

#ifdef __cplusplus
}
#endif
#endif
