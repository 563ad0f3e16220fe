/* tokenizer_text.c — code point buffers, UTF-8, character classes, Python's
 * str.lower() and HF's whitespace_clean for the CLIP tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "unicode_tables.h"

/* ---- code point buffer ---------------------------------------------------- */

static bool cpbuf_reserve(loom_cpbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->n + extra <= b->cap) return true;
    if (extra > ((size_t)1 << 28) - b->n) { /* no text comes near 2^28 code points */
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) cap *= 2;
    uint32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
        b->oom = true;
        return false;
    }
    b->v = v;
    b->cap = cap;
    return true;
}

void loom_cpbuf_push(loom_cpbuf *b, uint32_t cp)
{
    if (cpbuf_reserve(b, 1)) b->v[b->n++] = cp;
}

void loom_cpbuf_append(loom_cpbuf *b, const uint32_t *cp, size_t n)
{
    if (n && cpbuf_reserve(b, n)) {
        memcpy(b->v + b->n, cp, n * sizeof *cp);
        b->n += n;
    }
}

void loom_cpbuf_append3(loom_cpbuf *b, const uint32_t to[3])
{
    for (int i = 0; i < 3 && to[i]; i++) loom_cpbuf_push(b, to[i]);
}

void loom_cpbuf_free(loom_cpbuf *b)
{
    free(b->v);
    memset(b, 0, sizeof *b);
}

loom_status loom_cpbuf_status(const loom_cpbuf *b, const char *what)
{
    return b->oom ? loom_fail(LOOM_E_NOMEM, "tokenizer: out of memory in %s", what) : LOOM_OK;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

size_t loom_utf8_decode(const char *str, size_t n, loom_cpbuf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, bad = 0;
    while (i < n) {
        unsigned b = s[i];
        if (b < 0x80) {
            loom_cpbuf_push(out, b);
            i++;
            continue;
        }
        /* Unicode Table 3-7: the lead byte fixes the length and the range of
         * the first continuation byte (excluding overlongs and surrogates). */
        int need;
        unsigned lo = 0x80, hi = 0xBF;
        uint32_t cp;
        if (b >= 0xC2 && b <= 0xDF) need = 1, cp = b & 0x1F;
        else if (b == 0xE0) need = 2, lo = 0xA0, cp = b & 0x0F;
        else if (b == 0xED) need = 2, hi = 0x9F, cp = b & 0x0F;
        else if (b >= 0xE1 && b <= 0xEF) need = 2, cp = b & 0x0F;
        else if (b == 0xF0) need = 3, lo = 0x90, cp = b & 0x07;
        else if (b == 0xF4) need = 3, hi = 0x8F, cp = b & 0x07;
        else if (b >= 0xF1 && b <= 0xF3) need = 3, cp = b & 0x07;
        else {
            loom_cpbuf_push(out, 0xFFFD);
            bad++;
            i++;
            continue;
        }
        size_t j = i + 1;
        bool ok = true;
        for (int k = 0; k < need; k++, j++) {
            if (j >= n || s[j] < lo || s[j] > hi) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (s[j] & 0x3F);
            lo = 0x80, hi = 0xBF;
        }
        /* a maximal invalid subpart (the lead and the valid continuations
         * before the bad byte) is one U+FFFD, as in Python's 'replace' */
        loom_cpbuf_push(out, ok ? cp : 0xFFFD);
        bad += !ok;
        i = j;
    }
    return bad;
}

int loom_utf8_encode(uint32_t cp, unsigned char *buf)
{
    if (cp < 0x80) {
        buf[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (unsigned char)(0xC0 | (cp >> 6));
        buf[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (unsigned char)(0xE0 | (cp >> 12));
        buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (unsigned char)(0xF0 | (cp >> 18));
    buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- table lookups ------------------------------------------------------------ */

bool loom_uc_in_ranges(const loom_uc_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

const loom_uc_multi *loom_uc_find_multi(const loom_uc_multi *t, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < t[mid].cp) hi = mid;
        else if (cp > t[mid].cp) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}

static bool ascii_alpha(uint32_t cp) { return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'; }

bool loom_uc_is_letter(uint32_t cp)
{
    if (cp < 0x80) return ascii_alpha(cp);
    return loom_uc_in_ranges(loom_uc_letter, loom_uc_letter_count, cp);
}

bool loom_uc_is_number(uint32_t cp)
{
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return loom_uc_in_ranges(loom_uc_number, loom_uc_number_count, cp);
}

bool loom_uc_is_re_space(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return loom_uc_in_ranges(loom_uc_re_space, loom_uc_re_space_count, cp);
}

bool loom_uc_is_py_space(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return loom_uc_in_ranges(loom_uc_py_space, loom_uc_py_space_count, cp);
}

bool loom_uc_is_decimal(uint32_t cp)
{
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return loom_uc_in_ranges(loom_uc_decimal, loom_uc_decimal_count, cp);
}

bool loom_uc_is_other(uint32_t cp)
{
    if (loom_uc_is_letter(cp) || loom_uc_is_number(cp) || loom_uc_is_re_space(cp)) return false;
    return cp < 0x80 || !loom_uc_in_ranges(loom_uc_pretok_none, loom_uc_pretok_none_count, cp);
}

bool loom_uc_eq_ascii_ci(uint32_t cp, char a)
{
    if (cp < 0x80) return (cp | 0x20) == (uint32_t)a && ascii_alpha(cp);
    for (size_t i = 0; i < loom_uc_ascii_fold_count; i++)
        if (loom_uc_ascii_fold[i].cp == cp && loom_uc_ascii_fold[i].ascii == a) return true;
    return false;
}

/* ---- str.lower ------------------------------------------------------------------ */

static uint32_t lower_simple(uint32_t cp)
{
    size_t lo = 0, hi = loom_uc_lower_runs_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const loom_uc_case_run *r = &loom_uc_lower_runs[mid];
        if (cp < r->lo) hi = mid;
        else if (cp > r->hi) lo = mid + 1;
        else return (cp - r->lo) % r->stride == 0 ? (uint32_t)((int64_t)cp + r->delta) : cp;
    }
    return cp;
}

static bool is_cased(uint32_t cp) { return loom_uc_in_ranges(loom_uc_cased, loom_uc_cased_count, cp); }
static bool is_case_ignorable(uint32_t cp)
{
    return loom_uc_in_ranges(loom_uc_case_ignorable, loom_uc_case_ignorable_count, cp);
}

/* CPython's handle_capital_sigma: Σ at in[i] becomes final ς when a cased
 * letter precedes it and none follows it (case-ignorable characters skipped). */
static uint32_t lower_sigma(const uint32_t *in, size_t n, size_t i)
{
    size_t j = i;
    bool final = false;
    while (j > 0) {
        j--;
        if (!is_case_ignorable(in[j])) {
            final = is_cased(in[j]);
            break;
        }
    }
    if (final) {
        size_t k = i + 1;
        while (k < n && is_case_ignorable(in[k])) k++;
        final = k == n || !is_cased(in[k]);
    }
    return final ? 0x3C2 : 0x3C3;
}

void loom_py_lower(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = in[i];
        if (cp < 0x80) {
            loom_cpbuf_push(out, (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        } else if (cp == 0x3A3) {
            loom_cpbuf_push(out, lower_sigma(in, n, i));
        } else {
            const loom_uc_multi *m = loom_uc_find_multi(loom_uc_lower_multi, loom_uc_lower_multi_count, cp);
            if (m) loom_cpbuf_append3(out, m->to);
            else loom_cpbuf_push(out, lower_simple(cp));
        }
    }
}

/* HF CLIP whitespace_clean: re.sub(r"\s+", " ", text).strip() with the
 * `regex` module's \s, then str.strip()'s (wider) isspace set. */
void loom_whitespace_clean(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    size_t start = out->n;
    for (size_t i = 0; i < n;) {
        if (loom_uc_is_re_space(in[i])) {
            while (i < n && loom_uc_is_re_space(in[i])) i++;
            loom_cpbuf_push(out, ' ');
        } else {
            loom_cpbuf_push(out, in[i++]);
        }
    }
    if (out->oom) return;
    size_t a = start, b = out->n;
    while (a < b && loom_uc_is_py_space(out->v[a])) a++;
    while (b > a && loom_uc_is_py_space(out->v[b - 1])) b--;
    if (b > a) memmove(out->v + start, out->v + a, (b - a) * sizeof *out->v);
    out->n = start + (b - a);
}
