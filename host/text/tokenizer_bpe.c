/* tokenizer_bpe.c — CLIP's pre-tokenizer regex and byte-level BPE
 * (addons.md §4.11), with a per-word cache.
 *
 * Pre-tokenizer (HF CLIPTokenizer, `regex` module, IGNORECASE):
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * findall: at each position the first alternative that matches wins; a
 * character no alternative matches (whitespace, U+0345) is skipped.
 *
 * BPE: the reference repeatedly takes the adjacent pair of lowest merge rank
 * and merges all its non-overlapping occurrences left to right. Here a heap
 * pops (rank, position) pairs: the same order, because a merge's result only
 * takes part in merges of higher rank (checked when the vocabulary is loaded),
 * so all occurrences of one rank are done, leftmost first, before the next. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* ---- output array ------------------------------------------------------------- */

static loom_status push_ids(int32_t **ids, int *n, int *cap, const int32_t *v, size_t k)
{
    if (k > (size_t)(INT_MAX / 2 - *n)) return loom_fail(LOOM_E_NOMEM, "tokenizer: too many tokens");
    int need = *n + (int)k;
    if (need > *cap) {
        int c = *cap > 0 ? *cap : 256;
        while (c < need) c = c > INT_MAX / 4 ? INT_MAX / 2 : c * 2;
        int32_t *p = realloc(*ids, (size_t)c * sizeof *p);
        if (!p) return loom_fail(LOOM_E_NOMEM, "tokenizer: out of memory for %d token ids", c);
        *ids = p;
        *cap = c;
    }
    memcpy(*ids + *n, v, k * sizeof *v);
    *n = need;
    return LOOM_OK;
}

/* ---- per-word cache --------------------------------------------------------------- */

#define CACHE_SLOTS (1u << 15)
#define CACHE_MAX_USED (CACHE_SLOTS / 2)
#define CACHE_MAX_WORD 128          /* longer pre-tokens are rare and not cached */
#define CACHE_MAX_POOL (256u << 10) /* key bytes and ids each; about 2 MB in all */

typedef struct cache_entry {
    uint32_t hash, key_len, key_off, ids_off, ids_n; /* key_len 0: empty */
} cache_entry;

struct loom_bpe_cache {
    pthread_mutex_t mu;
    cache_entry *slots; /* CACHE_SLOTS, allocated on first use */
    uint32_t used;
    unsigned char *keys; /* CACHE_MAX_POOL bytes */
    int32_t *ids;        /* CACHE_MAX_POOL ids */
    size_t keys_n, ids_n;
};

loom_bpe_cache *loom_bpe_cache_new(void)
{
    loom_bpe_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void loom_bpe_cache_free(loom_bpe_cache *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c->keys);
    free(c->ids);
    free(c);
}

static bool cache_ready(loom_bpe_cache *c)
{
    if (c->slots) return true;
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->keys = malloc(CACHE_MAX_POOL);
    c->ids = malloc(CACHE_MAX_POOL * sizeof *c->ids);
    if (c->slots && c->keys && c->ids) return true;
    free(c->slots), free(c->keys), free(c->ids);
    c->slots = NULL, c->keys = NULL, c->ids = NULL;
    return false;
}

static const cache_entry *cache_find(const loom_bpe_cache *c, const unsigned char *w, uint32_t len,
                                     uint32_t h)
{
    for (uint32_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const cache_entry *e = &c->slots[i];
        if (!e->key_len) return NULL;
        if (e->hash == h && e->key_len == len && memcmp(c->keys + e->key_off, w, len) == 0) return e;
    }
}

static void cache_put(loom_bpe_cache *c, const unsigned char *w, uint32_t len, uint32_t h, const int32_t *ids,
                      uint32_t n)
{
    if (c->used >= CACHE_MAX_USED || c->keys_n + len > CACHE_MAX_POOL || c->ids_n + n > CACHE_MAX_POOL) {
        /* full: start over rather than grow without bound */
        memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
        c->used = 0, c->keys_n = 0, c->ids_n = 0;
    }
    uint32_t i = h & (CACHE_SLOTS - 1);
    while (c->slots[i].key_len) i = (i + 1) & (CACHE_SLOTS - 1);
    memcpy(c->keys + c->keys_n, w, len);
    memcpy(c->ids + c->ids_n, ids, n * sizeof *ids);
    c->slots[i] = (cache_entry){h, len, (uint32_t)c->keys_n, (uint32_t)c->ids_n, n};
    c->keys_n += len, c->ids_n += n;
    c->used++;
}

/* ---- BPE of one pre-token ---------------------------------------------------------- */

typedef struct heap_item {
    uint32_t rank, pos;
} heap_item;

typedef struct bpe_scratch {
    int32_t *sym, *next, *prev;
    heap_item *heap;
    size_t cap, heap_n;
} bpe_scratch;

static bool item_less(heap_item a, heap_item b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(bpe_scratch *s, heap_item it)
{
    size_t i = s->heap_n++;
    while (i > 0 && item_less(it, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = it;
}

static heap_item heap_pop(bpe_scratch *s)
{
    heap_item top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && item_less(s->heap[c + 1], s->heap[c])) c++;
        if (!item_less(s->heap[c], last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n) s->heap[i] = last;
    return top;
}

static bool scratch_reserve(bpe_scratch *s, size_t n)
{
    if (n <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *a = realloc(s->sym, cap * sizeof *a);
    if (a) s->sym = a;
    int32_t *b = realloc(s->next, cap * sizeof *b);
    if (b) s->next = b;
    int32_t *c = realloc(s->prev, cap * sizeof *c);
    if (c) s->prev = c;
    /* len-1 initial pairs plus at most 2 per merge */
    heap_item *h = realloc(s->heap, cap * 3 * sizeof *h);
    if (h) s->heap = h;
    if (!a || !b || !c || !h) return false;
    s->cap = cap;
    return true;
}

static void push_pair(const loom_tokenizer *t, bpe_scratch *s, int32_t i)
{
    uint32_t rank;
    int32_t res;
    if (i >= 0 && s->next[i] >= 0 && loom_tok_merge(t, s->sym[i], s->sym[s->next[i]], &rank, &res))
        heap_push(s, (heap_item){rank, (uint32_t)i});
}

/* Ids of one byte-level word into out[] (room for len ids); returns the count. */
static size_t bpe_word(const loom_tokenizer *t, bpe_scratch *s, const unsigned char *w, size_t len,
                       int32_t *out)
{
    for (size_t i = 0; i < len; i++) {
        s->sym[i] = t->byte_id[w[i]] + (i + 1 == len ? 256 : 0); /* the last symbol ends in </w> */
        s->next[i] = i + 1 < len ? (int32_t)i + 1 : -1;
        s->prev[i] = (int32_t)i - 1;
    }
    s->heap_n = 0;
    for (size_t i = 0; i + 1 < len; i++) push_pair(t, s, (int32_t)i);
    while (s->heap_n) {
        heap_item it = heap_pop(s);
        int32_t i = (int32_t)it.pos, j = s->next[i];
        uint32_t rank;
        int32_t res;
        /* stale entries: the left symbol was merged away (sym < 0) or changed */
        if (s->sym[i] < 0 || j < 0 || !loom_tok_merge(t, s->sym[i], s->sym[j], &rank, &res) || rank != it.rank)
            continue;
        s->sym[i] = res;
        s->sym[j] = -1;
        s->next[i] = s->next[j];
        if (s->next[j] >= 0) s->prev[s->next[j]] = i;
        push_pair(t, s, s->prev[i]);
        push_pair(t, s, i);
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = s->next[i]) out[k++] = s->sym[i];
    return k;
}

/* ---- pre-tokenizer ---------------------------------------------------------------- */

/* Length of `lit` at text[i] under IGNORECASE, or 0. */
static size_t match_ci(const uint32_t *text, size_t n, size_t i, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++) {
        if (i + k >= n) return 0;
        char a = lit[k];
        bool eq = (a >= 'a' && a <= 'z') ? loom_uc_eq_ascii_ci(text[i + k], a) : text[i + k] == (uint32_t)a;
        if (!eq) return 0;
    }
    return k;
}

/* The end of the pre-token starting at text[i], or i when the character is skipped. */
static size_t pretoken_end(const uint32_t *text, size_t n, size_t i)
{
    static const char *const specials[] = {"<|startoftext|>", "<|endoftext|>"};
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    if (text[i] == '<')
        for (int k = 0; k < 2; k++) {
            size_t m = match_ci(text, n, i, specials[k]);
            if (m) return i + m;
        }
    if (text[i] == '\'')
        for (int k = 0; k < 7; k++) {
            size_t m = match_ci(text, n, i, contractions[k]);
            if (m) return i + m;
        }
    size_t e = i;
    if (loom_uc_is_letter(text[i])) {
        while (e < n && loom_uc_is_letter(text[e])) e++;
    } else if (loom_uc_is_number(text[i])) {
        e = i + 1;
    } else {
        while (e < n && loom_uc_is_other(text[e])) e++;
    }
    return e;
}

loom_status loom_bpe_encode_text(const loom_tokenizer *t, const uint32_t *text, size_t n, int32_t **ids,
                                 int *n_ids, int *cap)
{
    loom_status st = LOOM_OK;
    bpe_scratch s = {0};
    unsigned char *word = NULL;
    int32_t *wids = NULL;
    size_t word_cap = 0;
    loom_bpe_cache *cache = t->cache;
    pthread_mutex_lock(&cache->mu);
    bool use_cache = cache_ready(cache);
    for (size_t i = 0; i < n && st == LOOM_OK;) {
        size_t e = pretoken_end(text, n, i);
        if (e == i) {
            i++;
            continue;
        }
        if ((e - i) * 4 > word_cap) { /* UTF-8 bytes of the pre-token */
            size_t c = (e - i) * 4 < 64 ? 64 : (e - i) * 4;
            unsigned char *w = realloc(word, c);
            int32_t *v = w ? realloc(wids, c * sizeof *v) : NULL;
            if (w) word = w;
            if (v) wids = v;
            if (!w || !v || !scratch_reserve(&s, c)) {
                st = loom_fail(LOOM_E_NOMEM, "tokenizer: out of memory for a %zu-character word", e - i);
                break;
            }
            word_cap = c;
        }
        size_t len = 0;
        for (size_t k = i; k < e; k++) len += (size_t)loom_utf8_encode(text[k], word + len);
        i = e;
        /* the reference's bpe() cache starts with the two specials, so only
         * their exact spelling maps to the special ids */
        if (len == 15 && memcmp(word, "<|startoftext|>", 15) == 0) {
            int32_t id = LOOM_TOKEN_BOS;
            st = push_ids(ids, n_ids, cap, &id, 1);
            continue;
        }
        if (len == 13 && memcmp(word, "<|endoftext|>", 13) == 0) {
            int32_t id = LOOM_TOKEN_EOS;
            st = push_ids(ids, n_ids, cap, &id, 1);
            continue;
        }
        uint32_t h = loom_tok_hash(word, len);
        bool cacheable = use_cache && len <= CACHE_MAX_WORD;
        const cache_entry *hit = cacheable ? cache_find(cache, word, (uint32_t)len, h) : NULL;
        if (hit) {
            st = push_ids(ids, n_ids, cap, cache->ids + hit->ids_off, hit->ids_n);
            continue;
        }
        size_t k = bpe_word(t, &s, word, len, wids);
        if (cacheable) cache_put(cache, word, (uint32_t)len, h, wids, (uint32_t)k);
        st = push_ids(ids, n_ids, cap, wids, k);
    }
    pthread_mutex_unlock(&cache->mu);
    free(s.sym), free(s.next), free(s.prev), free(s.heap);
    free(word);
    free(wids);
    return st;
}
