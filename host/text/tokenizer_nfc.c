/* tokenizer_nfc.c — Unicode NFC (canonical decomposition, canonical ordering,
 * canonical composition; UAX #15) with CPython's unicodedata tables, as ftfy
 * applies it (addons.md §4.11). Hangul syllables are handled algorithmically. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "unicode_tables.h"

enum {
    HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
    HANGUL_LN = 19, HANGUL_VN = 21, HANGUL_TN = 28,
    HANGUL_NN = HANGUL_VN * HANGUL_TN, HANGUL_SN = HANGUL_LN * HANGUL_NN
};

static uint32_t ccc_of(uint32_t cp)
{
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = loom_uc_ccc_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < loom_uc_ccc[mid].lo) hi = mid;
        else if (cp > loom_uc_ccc[mid].hi) lo = mid + 1;
        else return loom_uc_ccc[mid].ccc;
    }
    return 0;
}

static const loom_uc_pair_map *decomp_of(uint32_t cp)
{
    size_t lo = 0, hi = loom_uc_decomp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < loom_uc_decomp[mid].a) hi = mid;
        else if (cp > loom_uc_decomp[mid].a) lo = mid + 1;
        else return &loom_uc_decomp[mid];
    }
    return NULL;
}

/* Full canonical decomposition of one code point (the tables are one level deep). */
static void decompose(uint32_t cp, loom_cpbuf *out, int depth)
{
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SN) {
        uint32_t s = cp - HANGUL_S;
        loom_cpbuf_push(out, HANGUL_L + s / HANGUL_NN);
        loom_cpbuf_push(out, HANGUL_V + (s % HANGUL_NN) / HANGUL_TN);
        if (s % HANGUL_TN) loom_cpbuf_push(out, HANGUL_T + s % HANGUL_TN);
        return;
    }
    const loom_uc_pair_map *d = cp < 0xC0 ? NULL : decomp_of(cp);
    if (!d || depth > 8) { /* Unicode's deepest chain is 4; the bound only guards the tables */
        loom_cpbuf_push(out, cp);
        return;
    }
    decompose(d->b, out, depth + 1);
    if (d->c) decompose(d->c, out, depth + 1);
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LN && b >= HANGUL_V && b < HANGUL_V + HANGUL_VN)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VN + (b - HANGUL_V)) * HANGUL_TN;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SN && (a - HANGUL_S) % HANGUL_TN == 0 && b > HANGUL_T &&
        b < HANGUL_T + HANGUL_TN)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = loom_uc_comp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const loom_uc_pair_map *m = &loom_uc_comp[mid];
        if (a < m->a || (a == m->a && b < m->b)) hi = mid;
        else if (a > m->a || b > m->b) lo = mid + 1;
        else return m->c;
    }
    return 0;
}

/* Stable sort of v[0..n) by combining class: insertion sort for the short
 * runs real text has, a counting sort (classes are < 256) for long ones so
 * hostile input stays linear. */
static bool sort_run(uint32_t *v, size_t n)
{
    if (n < 2) return true;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t c = v[i], k = ccc_of(c);
            size_t j = i;
            while (j > 0 && ccc_of(v[j - 1]) > k) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = c;
        }
        return true;
    }
    uint32_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return false;
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) start[ccc_of(v[i]) + 1]++;
    for (int k = 0; k < 256; k++) start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++) tmp[start[ccc_of(v[i])]++] = v[i];
    memcpy(v, tmp, n * sizeof *v);
    free(tmp);
    return true;
}

void loom_nfc(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    loom_cpbuf d = {0};
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 0xC0) loom_cpbuf_push(&d, in[i]); /* nothing below U+00C0 decomposes */
        else decompose(in[i], &d, 0);
    }
    if (d.oom) {
        out->oom = true;
        loom_cpbuf_free(&d);
        return;
    }
    /* canonical ordering: stable sort of each run of non-starters by class */
    for (size_t i = 0; i < d.n;) {
        if (ccc_of(d.v[i]) == 0) {
            i++;
            continue;
        }
        size_t e = i;
        while (e < d.n && ccc_of(d.v[e]) != 0) e++;
        if (!sort_run(d.v + i, e - i)) d.oom = true;
        i = e;
    }
    if (d.oom) {
        out->oom = true;
        loom_cpbuf_free(&d);
        return;
    }
    /* composition: a character joins the last starter unless blocked by an
     * intervening character of class 0 or >= its own class */
    long starter = -1;
    uint32_t last_ccc = 0;
    for (size_t i = 0; i < d.n; i++) {
        uint32_t c = d.v[i], k = ccc_of(c);
        if (starter >= 0 && !out->oom) {
            bool adjacent = out->n - 1 == (size_t)starter;
            if (adjacent || (last_ccc != 0 && last_ccc < k)) {
                uint32_t comp = compose(out->v[starter], c);
                if (comp) {
                    out->v[starter] = comp;
                    continue;
                }
            }
        }
        if (k == 0) starter = (long)out->n;
        last_ccc = k;
        loom_cpbuf_push(out, c);
    }
    loom_cpbuf_free(&d);
}
