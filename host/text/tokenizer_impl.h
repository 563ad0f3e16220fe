/* tokenizer_impl.h — what the tokenizer_*.c files share (internal to host/text).
 *
 * The text pipeline works on arrays of Unicode code points, because every step
 * of the reference (ftfy, Python str methods, the `regex` pre-tokenizer) is
 * defined on Python str. addons.md §4.11 gives the order:
 *   ftfy.fix_text → collapse regex \s+ to ' ' → str.strip → str.lower → regex findall → BPE. */
#ifndef LOOM_TOKENIZER_IMPL_H
#define LOOM_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"
#include "tokenizer.h"

/* ---- code point buffer ----------------------------------------------------
 * Appends never fail loudly: an allocation failure sets `oom`, later appends
 * are dropped, and the step that owns the buffer reports LOOM_E_NOMEM once. */
typedef struct loom_cpbuf {
    uint32_t *v;
    size_t n, cap;
    bool oom;
} loom_cpbuf;

void loom_cpbuf_push(loom_cpbuf *b, uint32_t cp);
void loom_cpbuf_append(loom_cpbuf *b, const uint32_t *cp, size_t n);
/* Appends a zero-terminated list of at most 3 code points (table entries). */
void loom_cpbuf_append3(loom_cpbuf *b, const uint32_t to[3]);
void loom_cpbuf_free(loom_cpbuf *b);
/* LOOM_E_NOMEM (with a message naming `what`) if an append failed. */
loom_status loom_cpbuf_status(const loom_cpbuf *b, const char *what);

/* ---- UTF-8 ----------------------------------------------------------------- */
/* Decodes like Python's bytes.decode('utf-8', 'replace'): each maximal invalid
 * subpart becomes one U+FFFD. Appends to out; returns the number of such
 * replacements (0: the input was valid). */
size_t loom_utf8_decode(const char *s, size_t n, loom_cpbuf *out);
/* Encodes one code point (< 0x110000) into buf[4]; returns the byte count. */
int loom_utf8_encode(uint32_t cp, unsigned char *buf);

/* ---- character classes and case ------------------------------------------ */
bool loom_uc_is_letter(uint32_t cp);   /* regex [\p{L}] */
bool loom_uc_is_number(uint32_t cp);   /* regex [\p{N}] */
bool loom_uc_is_re_space(uint32_t cp); /* regex \s */
bool loom_uc_is_py_space(uint32_t cp); /* str.isspace */
bool loom_uc_is_decimal(uint32_t cp);  /* str.isdecimal, re's \d */
/* regex [^\s\p{L}\p{N}] under IGNORECASE (not simply "none of the others"). */
bool loom_uc_is_other(uint32_t cp);
/* regex IGNORECASE equality of cp with the lowercase ASCII letter `a`. */
bool loom_uc_eq_ascii_ci(uint32_t cp, char a);

/* Python str.lower() of in[0..n), final-sigma rule included; appends to out. */
void loom_py_lower(const uint32_t *in, size_t n, loom_cpbuf *out);
/* HF whitespace_clean: regex \s+ → ' ', then str.strip(); appends to out. */
void loom_whitespace_clean(const uint32_t *in, size_t n, loom_cpbuf *out);

/* ---- NFC (tokenizer_nfc.c) ------------------------------------------------ */
/* unicodedata.normalize('NFC', in); appends to out. */
void loom_nfc(const uint32_t *in, size_t n, loom_cpbuf *out);

/* ---- ftfy (tokenizer_ftfy.c) ---------------------------------------------- */
/* ftfy.fix_text with its default settings; appends to out. */
loom_status loom_ftfy_fix_text(const uint32_t *in, size_t n, loom_cpbuf *out);

/* ---- ftfy mojibake repair (tokenizer_mojibake.c) -------------------------- */
/* ftfy.fix_encoding(in) (default config); appends to out (sets out->oom on
 * allocation failure). */
void loom_ftfy_fix_encoding(const uint32_t *in, size_t n, loom_cpbuf *out);

/* ---- BPE (tokenizer_bpe.c) ------------------------------------------------ */
typedef struct loom_bpe_cache loom_bpe_cache;

/* Pre-tokenizes cleaned, lowercased text and appends the BPE ids of every
 * pre-token to (*ids, *n, *cap). */
loom_status loom_bpe_encode_text(const loom_tokenizer *t, const uint32_t *text, size_t n, int32_t **ids,
                                 int *n_ids, int *cap);
loom_bpe_cache *loom_bpe_cache_new(void);
void loom_bpe_cache_free(loom_bpe_cache *c);

/* ---- the tokenizer object (tokenizer.c) ----------------------------------- */
#define LOOM_CLIP_VOCAB 49408
#define LOOM_CLIP_MERGES 48894

struct loom_tokenizer {
    char *strings;           /* all vocabulary strings, NUL-separated */
    uint32_t *str_off;       /* [LOOM_CLIP_VOCAB] offsets into strings */
    uint32_t *vocab_slot;    /* open addressing: id + 1, 0 = empty */
    uint32_t vocab_mask;
    uint64_t *merge_key;     /* (left id << 32 | right id) + 1, 0 = empty */
    uint32_t *merge_rank;    /* rank (= merge line index) */
    uint32_t *merge_result;  /* id of left+right */
    uint32_t merge_mask;
    int32_t byte_id[256];    /* id of the symbol of byte b (add 256 for "</w>") */
    loom_bpe_cache *cache;   /* per-word results, shared by calls, internally locked */
};

/* The merge of (left, right): true and rank/result if it is in the table. */
bool loom_tok_merge(const loom_tokenizer *t, int32_t left, int32_t right, uint32_t *rank, int32_t *result);
uint32_t loom_tok_hash(const void *p, size_t n);

#endif
