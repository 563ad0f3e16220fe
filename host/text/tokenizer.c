/* tokenizer.c — loading CLIP's BPE vocabulary and the tokenize entry point.
 *
 * Vocabulary (addons.md §4.11, identical in OpenAI CLIP, open_clip and HF):
 * ids 0-255 are the byte symbols in byte_to_unicode order, 256-511 the same
 * with "</w>", 512 + r the concatenation of merge line r (r < 48 894),
 * then <|startoftext|> and <|endoftext|>. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tokenizer_impl.h"

#ifndef LOOM_DATA_DIR
#define LOOM_DATA_DIR "data"
#endif

#define VOCAB_FILE "/clip/bpe_simple_vocab_16e6.txt.gz"
#define MAX_DECOMPRESSED (16u << 20) /* the real file is 3.2 MB */
#define MAX_LINE 256                 /* the longest of the first 48 895 lines is 39 bytes */

uint32_t loom_tok_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static uint32_t hash_pair(uint64_t k)
{
    k ^= k >> 33; /* murmur3 finaliser */
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static const char *tok_string(const loom_tokenizer *t, int32_t id) { return t->strings + t->str_off[id]; }

static int32_t vocab_find(const loom_tokenizer *t, const char *s, size_t n)
{
    for (uint32_t i = loom_tok_hash(s, n) & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
        uint32_t v = t->vocab_slot[i];
        if (!v) return -1;
        const char *c = tok_string(t, (int32_t)v - 1);
        if (strncmp(c, s, n) == 0 && c[n] == 0) return (int32_t)v - 1;
    }
}

bool loom_tok_merge(const loom_tokenizer *t, int32_t left, int32_t right, uint32_t *rank, int32_t *result)
{
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    for (uint32_t i = hash_pair(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        if (!t->merge_key[i]) return false;
        if (t->merge_key[i] == key) {
            *rank = t->merge_rank[i];
            *result = (int32_t)t->merge_result[i];
            return true;
        }
    }
}

/* ---- loading -------------------------------------------------------------------- */

/* zlib's message for the last error without the "<path>: " it prepends. */
static const char *gz_message(gzFile f, const char *path)
{
    int zerr;
    const char *msg = gzerror(f, &zerr);
    size_t n = strlen(path);
    if (!msg) return "zlib error";
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    return msg;
}

/* Decompresses the whole file (so gzip's CRC is checked) into *out. */
static loom_status read_gz(const char *path, char **out, size_t *out_n)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return loom_fail(LOOM_E_IO, "%s: cannot open the CLIP vocabulary: %s", path,
                         errno ? strerror(errno) : "out of memory");
    size_t cap = 4u << 20, n = 0;
    char *buf = malloc(cap + 1);
    loom_status st = buf ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    while (st == LOOM_OK) {
        if (n == cap) {
            if (cap >= MAX_DECOMPRESSED) {
                st = loom_fail(LOOM_E_FORMAT, "%s: decompresses to more than %u bytes; not the CLIP vocabulary",
                               path, MAX_DECOMPRESSED);
                break;
            }
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) {
                st = loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = b, cap *= 2;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            st = loom_fail(LOOM_E_FORMAT, "%s: corrupt gzip data (%s)", path, gz_message(f, path));
            break;
        }
        if (gzdirect(f)) {
            st = loom_fail(LOOM_E_FORMAT, "%s: not a gzip file (expected the gzip-compressed CLIP BPE merges)",
                           path);
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    if (st == LOOM_OK) {
        int zerr = Z_OK;
        gzerror(f, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            st = loom_fail(LOOM_E_FORMAT, "%s: corrupt or truncated gzip data (%s)", path, gz_message(f, path));
    }
    gzclose(f);
    if (st != LOOM_OK) {
        free(buf);
        return st;
    }
    buf[n] = 0;
    *out = buf;
    *out_n = n;
    return LOOM_OK;
}

/* A vocabulary field: non-empty, strict UTF-8, no control characters or spaces. */
static bool valid_field(const char *s, size_t n)
{
    loom_cpbuf cps = {0};
    bool ok = n > 0 && loom_utf8_decode(s, n, &cps) == 0 && !cps.oom;
    for (size_t i = 0; ok && i < cps.n; i++)
        if (cps.v[i] <= 0x20 || cps.v[i] == 0x7F) ok = false;
    loom_cpbuf_free(&cps);
    return ok;
}

static loom_status add_string(loom_tokenizer *t, int32_t id, const char *s, size_t n, size_t *used,
                              const char *path, int line)
{
    if (s != t->strings + *used) memcpy(t->strings + *used, s, n);
    t->strings[*used + n] = 0;
    t->str_off[id] = (uint32_t)*used;
    *used += n + 1;
    uint32_t i = loom_tok_hash(s, n) & t->vocab_mask;
    for (; t->vocab_slot[i]; i = (i + 1) & t->vocab_mask)
        if (strcmp(tok_string(t, (int32_t)t->vocab_slot[i] - 1), tok_string(t, id)) == 0)
            return loom_fail(LOOM_E_FORMAT, "%s: line %d: merge result duplicates vocabulary entry %u", path,
                             line, t->vocab_slot[i] - 1);
    t->vocab_slot[i] = (uint32_t)id + 1;
    return LOOM_OK;
}

static loom_status build(loom_tokenizer *t, const char *path, const char *text, size_t n)
{
    /* byte_to_unicode: bytes 33-126, 161-172, 174-255 stand for themselves,
     * the other 68 for U+0100, U+0101, ... in byte order. Ids 0-255 list the
     * first group, then the second. */
    int order[256], k = 0;
    uint32_t symbol[256];
    for (int pass = 0, remapped = 0; pass < 2; pass++)
        for (int c = 0; c < 256; c++) {
            bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174);
            if (printable != (pass == 0)) continue;
            order[k++] = c;
            symbol[c] = printable ? (uint32_t)c : 256u + (uint32_t)remapped++;
        }
    for (int i = 0; i < 256; i++) t->byte_id[order[i]] = i;

    size_t cap = n + 512 * 8 + 64;
    t->strings = malloc(cap);
    t->str_off = calloc(LOOM_CLIP_VOCAB, sizeof *t->str_off);
    t->vocab_mask = (1u << 17) - 1;
    t->vocab_slot = calloc((size_t)t->vocab_mask + 1, sizeof *t->vocab_slot);
    t->merge_mask = (1u << 17) - 1;
    t->merge_key = calloc((size_t)t->merge_mask + 1, sizeof *t->merge_key);
    t->merge_rank = calloc((size_t)t->merge_mask + 1, sizeof *t->merge_rank);
    t->merge_result = calloc((size_t)t->merge_mask + 1, sizeof *t->merge_result);
    if (!t->strings || !t->str_off || !t->vocab_slot || !t->merge_key || !t->merge_rank || !t->merge_result)
        return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);

    size_t used = 0;
    for (int i = 0; i < 512; i++) {
        char sym[8];
        int len = loom_utf8_encode(symbol[order[i % 256]], (unsigned char *)sym);
        if (i >= 256) memcpy(sym + len, "</w>", 4), len += 4;
        LOOM_TRY(add_string(t, i, sym, (size_t)len, &used, path, 0));
    }

    const char *p = text, *end = text + n;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return loom_fail(LOOM_E_FORMAT, "%s: no header line; not the CLIP BPE merges file", path);
    p = nl + 1;
    for (int r = 0; r < LOOM_CLIP_MERGES; r++) {
        int line = r + 2; /* 1-based, after the header */
        if (p >= end)
            return loom_fail(LOOM_E_FORMAT, "%s: only %d merge lines; CLIP needs %d", path, r, LOOM_CLIP_MERGES);
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(le - p));
        if (le - p > MAX_LINE || !sp || !valid_field(p, (size_t)(sp - p)) ||
            !valid_field(sp + 1, (size_t)(le - sp - 1)))
            return loom_fail(LOOM_E_FORMAT, "%s: line %d: not a merge (\"left right\")", path, line);
        int32_t left = vocab_find(t, p, (size_t)(sp - p));
        int32_t right = vocab_find(t, sp + 1, (size_t)(le - sp - 1));
        /* a merge may only use symbols that exist before it (checked here;
         * tokenizer_bpe.c's merge order relies on it) */
        if (left < 0 || right < 0)
            return loom_fail(LOOM_E_FORMAT, "%s: line %d: merges a symbol no earlier line produces", path, line);
        size_t ln = (size_t)(sp - p), rn = (size_t)(le - sp - 1);
        int32_t id = 512 + r;
        char *dst = t->strings + used;
        memcpy(dst, p, ln); /* add_string copies from s; build the concatenation in place */
        memcpy(dst + ln, sp + 1, rn);
        LOOM_TRY(add_string(t, id, dst, ln + rn, &used, path, line));
        uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
        uint32_t i = hash_pair(key) & t->merge_mask;
        while (t->merge_key[i] && t->merge_key[i] != key) i = (i + 1) & t->merge_mask;
        if (t->merge_key[i])
            return loom_fail(LOOM_E_FORMAT, "%s: line %d: repeats the merge of line %u", path, line,
                             t->merge_rank[i] + 2);
        t->merge_key[i] = key;
        t->merge_rank[i] = (uint32_t)r;
        t->merge_result[i] = (uint32_t)id;
        p = le + (nl ? 1 : 0);
    }
    LOOM_TRY(add_string(t, LOOM_TOKEN_BOS, "<|startoftext|>", 15, &used, path, 0));
    LOOM_TRY(add_string(t, LOOM_TOKEN_EOS, "<|endoftext|>", 13, &used, path, 0));
    return LOOM_OK;
}

loom_status loom_tokenizer_open(const char *vocab_gz_path, loom_tokenizer **out)
{
    if (!out) return loom_fail(LOOM_E_INVALID, "loom_tokenizer_open: out is NULL");
    *out = NULL;
    char pathbuf[4096];
    const char *path = vocab_gz_path;
    if (!path) {
        const char *dir = getenv("LOOM_DATA_DIR");
        if (!dir || !*dir) dir = LOOM_DATA_DIR;
        if (snprintf(pathbuf, sizeof pathbuf, "%s%s", dir, VOCAB_FILE) >= (int)sizeof pathbuf)
            return loom_fail(LOOM_E_INVALID, "LOOM_DATA_DIR is too long");
        path = pathbuf;
    }
    char *text = NULL;
    size_t n = 0;
    LOOM_TRY(read_gz(path, &text, &n));
    loom_tokenizer *t = calloc(1, sizeof *t);
    loom_status st = t ? build(t, path, text, n) : loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    free(text);
    if (st == LOOM_OK && !(t->cache = loom_bpe_cache_new())) st = loom_fail(LOOM_E_NOMEM, "tokenizer cache");
    if (st != LOOM_OK) {
        loom_tokenizer_close(t);
        return st;
    }
    *out = t;
    return LOOM_OK;
}

void loom_tokenizer_close(loom_tokenizer *t)
{
    if (!t) return;
    free(t->strings);
    free(t->str_off);
    free(t->vocab_slot);
    free(t->merge_key);
    free(t->merge_rank);
    free(t->merge_result);
    loom_bpe_cache_free(t->cache);
    free(t);
}

int32_t loom_token_id(const loom_tokenizer *t, const char *token)
{
    return t && token ? vocab_find(t, token, strlen(token)) : -1;
}

const char *loom_token_str(const loom_tokenizer *t, int32_t id)
{
    return t && id >= 0 && id < LOOM_CLIP_VOCAB ? tok_string(t, id) : NULL;
}

int loom_tokenizer_vocab_size(const loom_tokenizer *t) { return t ? LOOM_CLIP_VOCAB : 0; }

/* ---- tokenize ------------------------------------------------------------------ */

/* One piece of text between special tokens: HF's _tokenize. */
static loom_status tokenize_piece(const loom_tokenizer *t, const uint32_t *cp, size_t n, int32_t **ids, int *n_ids,
                                  int *cap)
{
    loom_cpbuf fixed = {0}, clean = {0}, lower = {0};
    loom_status st = loom_ftfy_fix_text(cp, n, &fixed);
    if (st == LOOM_OK) {
        loom_whitespace_clean(fixed.v, fixed.n, &clean);
        loom_py_lower(clean.v, clean.n, &lower);
        st = loom_cpbuf_status(&clean, "whitespace cleanup");
        if (st == LOOM_OK) st = loom_cpbuf_status(&lower, "lowercasing");
    }
    if (st == LOOM_OK) st = loom_bpe_encode_text(t, lower.v, lower.n, ids, n_ids, cap);
    loom_cpbuf_free(&fixed);
    loom_cpbuf_free(&clean);
    loom_cpbuf_free(&lower);
    return st;
}

/* Exact (case-sensitive) special token at cp[i]: its id, or -1. */
static int32_t special_at(const uint32_t *cp, size_t n, size_t i, size_t *len)
{
    static const char *const names[2] = {"<|startoftext|>", "<|endoftext|>"};
    if (cp[i] != '<') return -1;
    for (int k = 0; k < 2; k++) {
        size_t m = strlen(names[k]), j = 0;
        while (j < m && i + j < n && cp[i + j] == (uint32_t)(unsigned char)names[k][j]) j++;
        if (j == m) {
            *len = m;
            return k == 0 ? LOOM_TOKEN_BOS : LOOM_TOKEN_EOS;
        }
    }
    return -1;
}

loom_status loom_tokenize(const loom_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n, int *cap)
{
    if (!t || (!text && len) || !ids || !n || !cap || *n < 0 || *cap < *n || (*cap > 0 && !*ids))
        return loom_fail(LOOM_E_INVALID, "loom_tokenize: bad arguments");
    if (len > LOOM_TOKENIZE_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt of %zu bytes is longer than the tokenizer's limit of %u bytes",
                         len, LOOM_TOKENIZE_MAX_BYTES);
    int n0 = *n;
    loom_cpbuf cp = {0};
    loom_utf8_decode(text, len, &cp);
    loom_status st = loom_cpbuf_status(&cp, "UTF-8 decoding");
    /* HF's tokenize() first splits the raw text on the special tokens (exact
     * spelling) and runs _tokenize (ftfy, cleanup, BPE) on each piece between. */
    size_t piece = 0;
    for (size_t i = 0; st == LOOM_OK && i <= cp.n; i++) {
        size_t m = 0;
        int32_t sp = i < cp.n ? special_at(cp.v, cp.n, i, &m) : -1;
        if (sp < 0 && i < cp.n) continue;
        if (i > piece) st = tokenize_piece(t, cp.v + piece, i - piece, ids, n, cap);
        if (st == LOOM_OK && sp >= 0) {
            if (*n >= *cap) {
                int c = *cap > 0 ? *cap * 2 : 256;
                int32_t *p = *cap < INT_MAX / 4 ? realloc(*ids, (size_t)c * sizeof *p) : NULL;
                if (!p) st = loom_fail(LOOM_E_NOMEM, "tokenizer: out of memory for token ids");
                else *ids = p, *cap = c;
            }
            if (st == LOOM_OK) (*ids)[(*n)++] = sp;
            i += m - 1;
        }
        piece = i + 1;
    }
    loom_cpbuf_free(&cp);
    if (st != LOOM_OK) *n = n0;
    return st;
}
