/* tokenizer.h — the CLIP byte-level BPE tokenizer of SD1's text encoder.
 *
 * Reproduces Hugging Face's slow CLIPTokenizer with ftfy installed (what A1111
 * uses for SD1 and SDXL's CLIP-L), addons.md §4.11: ftfy-style cleanup, \s
 * collapse, Python lower(), the Unicode pre-tokenizer regex, BPE over the 48 894
 * merges of data/clip/bpe_simple_vocab_16e6.txt.gz. Ids come without BOS/EOS.
 *
 * A tokenizer is immutable after open except for its internal per-word cache,
 * which is locked, so one tokenizer may be used by several threads. */
#ifndef LOOM_TOKENIZER_H
#define LOOM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

#define LOOM_TOKEN_BOS 49406 /* <|startoftext|> */
#define LOOM_TOKEN_EOS 49407 /* <|endoftext|> (also SD1's padding) */

/* Longest text loom_tokenize accepts (bytes); A1111 prompts are far shorter. */
#define LOOM_TOKENIZE_MAX_BYTES (1u << 20)

typedef struct loom_tokenizer loom_tokenizer;

/* Reads the gzip-compressed merges file. vocab_gz_path NULL: $LOOM_DATA_DIR, or
 * the compiled-in data directory, + "/clip/bpe_simple_vocab_16e6.txt.gz".
 * A missing or corrupt file is a one-line error naming the path. */
loom_status loom_tokenizer_open(const char *vocab_gz_path, loom_tokenizer **out);
void loom_tokenizer_close(loom_tokenizer *t);

/* Tokenizes UTF-8 text (no BOS/EOS) and appends the ids to the growable array
 * (*ids, *n, *cap) (realloc'd; start with NULL, 0, 0; the caller frees *ids).
 * Invalid UTF-8 is read as Python's decode('utf-8', 'replace') would. On
 * failure *n is unchanged. */
loom_status loom_tokenize(const loom_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n,
                          int *cap);

/* Id of a vocabulary string in its byte-level spelling (",</w>" → 267), -1 if absent. */
int32_t loom_token_id(const loom_tokenizer *t, const char *token);
/* The vocabulary string of an id, NULL if out of range. */
const char *loom_token_str(const loom_tokenizer *t, int32_t id);
/* Number of ids (49408). */
int loom_tokenizer_vocab_size(const loom_tokenizer *t);

#endif
