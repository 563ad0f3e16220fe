/* tokenizer_mojibake.c — ftfy 6.3.1's fix_encoding (mojibake repair), as
 * fix_text runs it on each segment with the default TextFixerConfig
 * (addons.md §4.11).
 *
 * One step (ftfy _fix_encoding_one_step_and_explain), repeated until the
 * text stops changing:
 *   1. ASCII text, or text the badness heuristic (is_bad) does not flag, is
 *      left alone.
 *   2. For each single-byte encoding of CHARMAP_ENCODINGS that can encode the
 *      whole text: encode it, put back 0xA0 bytes turned into spaces
 *      (restore_byte_a0; not for macroman), replace sequences whose bytes a
 *      sloppy codec lost (replace_lossy_sequences; sloppy codecs only), and
 *      decode as UTF-8 (with CESU-8 pairs and C0 80, ftfy's utf-8-variants).
 *      The first decode that succeeds is the result — ftfy does not compare.
 *   3. Otherwise fix each run that UTF8_DETECTOR_RE finds on its own
 *      (decode_inconsistent_utf8, recursive fix_encoding).
 *   4. Otherwise replace C1 controls by their Windows-1252 characters. ftfy
 *      first tries "latin-1 → strict windows-1252", but its test for that
 *      branch names "windows-1252" where the list holds "sloppy-windows-1252",
 *      so the branch runs for all Latin-1 text and, where it changes anything,
 *      gives exactly what fix_c1_controls gives (the generator checks the two
 *      codecs agree) — so only fix_c1_controls is written here.
 * Byte strings are kept one byte per uint32_t in loom_cpbuf, so the buffer
 * type and its out-of-memory handling are shared with the rest of the cleanup.
 * All regexes come from scripts/ftfy_mojibake_tables.py as tables. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "unicode_tables.h"

/* Python would loop until the text is stable (and recurse without bound in
 * decode_inconsistent_utf8); real mojibake needs 1-3 rounds and depth 1.
 * The caps only bound the work on hostile input. */
#define MOJI_MAX_ROUNDS 64
#define MOJI_MAX_DEPTH 16

static int run_cmp(const void *key, const void *elem)
{
    uint32_t c = *(const uint32_t *)key;
    const loom_ftfy_class_run *r = elem;
    return c < r->lo ? -1 : c > r->hi ? 1 : 0;
}

static const loom_ftfy_class_run *class_run(uint32_t c)
{
    return bsearch(&c, loom_ftfy_classes, loom_ftfy_classes_count, sizeof *loom_ftfy_classes, run_cmp);
}

static uint64_t bad_mask(uint32_t c)
{
    const loom_ftfy_class_run *r = class_run(c);
    return r ? r->bad : 0;
}

static unsigned utf8_clue(uint32_t c)
{
    const loom_ftfy_class_run *r = class_run(c);
    return r ? r->utf8 : 0;
}

/* ---- badness.is_bad: BADNESS_RE.search(text) -------------------------------- */
static bool atom_matches(const loom_ftfy_atom *a, uint32_t c)
{
    switch (a->kind) {
    case LOOM_FTFY_ATOM_CLASS: return (bad_mask(c) >> a->arg) & 1;
    case LOOM_FTFY_ATOM_NOT_CLASS: return !((bad_mask(c) >> a->arg) & 1);
    case LOOM_FTFY_ATOM_LIT: return c == a->arg;
    case LOOM_FTFY_ATOM_SPACE: return loom_uc_is_py_space(c);
    case LOOM_FTFY_ATOM_WORD: return loom_uc_in_ranges(loom_uc_re_word, loom_uc_re_word_count, c);
    case LOOM_FTFY_ATOM_ANY: return c != '\n';
    default: return false;
    }
}

static bool pattern_at(const loom_ftfy_pattern *p, const uint32_t *t, size_t n, size_t i)
{
    for (int k = 0; k < p->n; k++) {
        if (p->a[k].kind == LOOM_FTFY_ATOM_BOL) {
            if (i != 0) return false;
            continue;
        }
        if (i >= n || !atom_matches(&p->a[k], t[i])) return false;
        i++;
    }
    return true;
}

static bool is_bad(const uint32_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < loom_ftfy_badness_count; p++)
            if (pattern_at(&loom_ftfy_badness[p], t, n, i)) return true;
    return false;
}

/* ---- single-byte codecs --------------------------------------------------------- */
static int charmap_cmp(const void *key, const void *elem)
{
    uint32_t c = *(const uint32_t *)key, e = ((const loom_ftfy_charmap_entry *)elem)->cp;
    return c < e ? -1 : c > e;
}

/* text.encode(encoding) into `out` (one byte per element); false where
 * chardata.possible_encoding would say no. */
static bool encode_charmap(const uint32_t *t, size_t n, int enc, loom_cpbuf *out)
{
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = t[i];
        if (c < 0x80 && c != 0x1A) {
            loom_cpbuf_push(out, c);
            continue;
        }
        const loom_ftfy_charmap_entry *e =
            bsearch(&c, loom_ftfy_charmap, loom_ftfy_charmap_count, sizeof *loom_ftfy_charmap, charmap_cmp);
        if (!e || !e->byte[enc]) return false;
        loom_cpbuf_push(out, e->byte[enc]);
    }
    return true;
}

/* ---- byte regexes (ALTERED_UTF8_RE, LOSSY_UTF8_RE) ------------------------------- */
static bool byte_in(unsigned cls, uint32_t b)
{
    return (loom_ftfy_byte_classes[cls][b >> 5] >> (b & 31)) & 1;
}

/* Length of the first alternative (in pattern order, as re tries them) that
 * matches at b[i], or 0. */
static size_t byte_match(const loom_ftfy_byte_pattern *pats, size_t np, const uint32_t *b, size_t n, size_t i)
{
    for (size_t p = 0; p < np; p++) {
        size_t k = 0;
        while (k < pats[p].n && i + k < n && byte_in(pats[p].cls[k], b[i + k])) k++;
        if (k == pats[p].n) return k;
    }
    return 0;
}

/* fixes.A_GRAVE_WORD_RE = b"\xc3 (?! |quele|quela|quilo|s )": "Ã " that is
 * not a Portuguese contraction or a double space (checked by the generator). */
static bool a_grave_word(const uint32_t *b, size_t n, size_t i)
{
    static const char *const keep[] = {" ", "quele", "quela", "quilo", "s "};
    if (i + 1 >= n || b[i] != 0xC3 || b[i + 1] != ' ') return false;
    for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
        size_t len = strlen(keep[k]), j = 0;
        while (j < len && i + 2 + j < n && b[i + 2 + j] == (unsigned char)keep[k][j]) j++;
        if (j == len) return false;
    }
    return true;
}

/* fixes.restore_byte_a0 */
static void restore_byte_a0(const uint32_t *b, size_t n, loom_cpbuf *tmp, loom_cpbuf *out)
{
    tmp->n = 0;
    for (size_t i = 0; i < n;) {
        if (a_grave_word(b, n, i)) {
            static const uint32_t rep[3] = {0xC3, 0xA0, ' '};
            loom_cpbuf_append(tmp, rep, 3);
            i += 2;
        } else {
            loom_cpbuf_push(tmp, b[i++]);
        }
    }
    out->n = 0;
    for (size_t i = 0; i < tmp->n;) {
        size_t m = byte_match(loom_ftfy_altered_utf8, loom_ftfy_altered_utf8_count, tmp->v, tmp->n, i);
        if (!m) {
            loom_cpbuf_push(out, tmp->v[i++]);
            continue;
        }
        for (size_t k = 0; k < m; k++, i++) loom_cpbuf_push(out, tmp->v[i] == ' ' ? 0xA0 : tmp->v[i]);
    }
}

/* fixes.replace_lossy_sequences: each match becomes the UTF-8 of U+FFFD */
static void replace_lossy(const uint32_t *b, size_t n, loom_cpbuf *out)
{
    static const uint32_t fffd[3] = {0xEF, 0xBF, 0xBD};
    out->n = 0;
    for (size_t i = 0; i < n;) {
        size_t m = byte_match(loom_ftfy_lossy_utf8, loom_ftfy_lossy_utf8_count, b, n, i);
        if (m) {
            loom_cpbuf_append(out, fffd, 3);
            i += m;
        } else {
            loom_cpbuf_push(out, b[i++]);
        }
    }
}

/* ---- strict UTF-8 with ftfy's utf-8-variants additions ------------------------- */
static bool cont(const uint32_t *b, size_t n, size_t i, uint32_t lo, uint32_t hi)
{
    return i < n && b[i] >= lo && b[i] <= hi;
}

/* bytes.decode('utf-8-variants') (strict): Python's UTF-8 decoder, plus
 * C0 80 as U+0000 and CESU-8 surrogate pairs. Plain 'utf-8', which ftfy
 * uses when no byte is ED or C0, accepts the same strings the same way. */
static bool decode_utf8_variants(const uint32_t *b, size_t n, loom_cpbuf *out)
{
    out->n = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = b[i];
        if (c < 0x80) {
            loom_cpbuf_push(out, c);
            i++;
        } else if (c == 0xC0 && cont(b, n, i + 1, 0x80, 0x80)) {
            loom_cpbuf_push(out, 0);
            i += 2;
        } else if (c == 0xED && cont(b, n, i + 1, 0xA0, 0xAF) && cont(b, n, i + 2, 0x80, 0xBF) &&
                   cont(b, n, i + 3, 0xED, 0xED) && cont(b, n, i + 4, 0xB0, 0xBF) && cont(b, n, i + 5, 0x80, 0xBF)) {
            loom_cpbuf_push(out, 0x10000 + ((b[i + 1] & 0x0F) << 16) + ((b[i + 2] & 0x3F) << 10) +
                                     ((b[i + 4] & 0x0F) << 6) + (b[i + 5] & 0x3F));
            i += 6;
        } else if (c >= 0xC2 && c <= 0xDF && cont(b, n, i + 1, 0x80, 0xBF)) {
            loom_cpbuf_push(out, ((c & 0x1F) << 6) | (b[i + 1] & 0x3F));
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            uint32_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (!cont(b, n, i + 1, lo, hi) || !cont(b, n, i + 2, 0x80, 0xBF)) return false;
            loom_cpbuf_push(out, ((c & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F));
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            uint32_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (!cont(b, n, i + 1, lo, hi) || !cont(b, n, i + 2, 0x80, 0xBF) || !cont(b, n, i + 3, 0x80, 0xBF))
                return false;
            loom_cpbuf_push(out, ((c & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) |
                                     (b[i + 3] & 0x3F));
            i += 4;
        } else {
            return false;
        }
    }
    return true;
}

/* ---- the steps ------------------------------------------------------------------- */
static void fix_encoding(const uint32_t *t, size_t n, int depth, loom_cpbuf *out);

/* End of the UTF8_DETECTOR_RE match starting at i (i itself: none):
 * ( [first_of_2][cont] | [first_of_3][cont]{2} | [first_of_4][cont]{3} )+,
 * greedy, alternatives tried in order and never revisited (nothing follows
 * the group, so the regex has no reason to backtrack into it). */
static size_t detector_end(const uint32_t *t, size_t n, size_t i)
{
    static const unsigned first[3] = {LOOM_FTFY_U8_FIRST2, LOOM_FTFY_U8_FIRST3, LOOM_FTFY_U8_FIRST4};
    for (;;) {
        size_t step = 0;
        unsigned u = i < n ? utf8_clue(t[i]) : 0;
        for (size_t k = 0; k < 3 && !step; k++) {
            if (!(u & first[k]) || i + k + 1 >= n) continue;
            size_t j = 1;
            while (j <= k + 1 && (utf8_clue(t[i + j]) & LOOM_FTFY_U8_CONT)) j++;
            if (j == k + 2) step = j;
        }
        if (!step) return i;
        i += step;
    }
}

/* The next match at or after *pos: [*start, return) — or n when none. The
 * lookbehind (?<![cont_strict]) looks at the text as given. */
static size_t detector_next(const uint32_t *t, size_t n, size_t pos, size_t *start)
{
    for (size_t s = pos; s < n; s++) {
        if (s > 0 && (utf8_clue(t[s - 1]) & LOOM_FTFY_U8_CONT_STRICT)) continue;
        size_t e = detector_end(t, n, s);
        if (e > s) {
            *start = s;
            return e;
        }
    }
    *start = n;
    return n;
}

/* fixes.decode_inconsistent_utf8 */
static void decode_inconsistent_utf8(const uint32_t *t, size_t n, int depth, loom_cpbuf *out)
{
    out->n = 0;
    for (size_t pos = 0; pos < n;) {
        size_t s, e = detector_next(t, n, pos, &s);
        loom_cpbuf_append(out, t + pos, s - pos);
        if (s == n) break;
        if (e - s < n && is_bad(t + s, e - s) && depth < MOJI_MAX_DEPTH) {
            loom_cpbuf sub = {0};
            fix_encoding(t + s, e - s, depth + 1, &sub);
            if (sub.oom) out->oom = true;
            loom_cpbuf_append(out, sub.v, sub.n);
            loom_cpbuf_free(&sub);
        } else {
            loom_cpbuf_append(out, t + s, e - s);
        }
        pos = e;
    }
}

static bool same(const uint32_t *a, size_t na, const loom_cpbuf *b)
{
    return na == b->n && (na == 0 || memcmp(a, b->v, na * sizeof *a) == 0);
}

/* _fix_encoding_one_step_and_explain: writes the text after one step to out. */
static void fix_encoding_step(const uint32_t *t, size_t n, int depth, loom_cpbuf *out)
{
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = t[i] < 0x80;
    out->n = 0;
    if (ascii || !is_bad(t, n)) {
        loom_cpbuf_append(out, t, n);
        return;
    }
    loom_cpbuf bytes = {0}, a = {0}, b = {0};
    bool done = false;
    for (int enc = 0; enc < LOOM_FTFY_CHARMAPS && !done; enc++) {
        if (!encode_charmap(t, n, enc, &bytes)) continue;
        if ((loom_ftfy_charmap_flags[enc] & LOOM_FTFY_CHARMAP_RESTORE_A0)) {
            bool altered = false;
            for (size_t i = 0; i < bytes.n && !altered; i++)
                altered = byte_match(loom_ftfy_altered_utf8, loom_ftfy_altered_utf8_count, bytes.v, bytes.n, i);
            if (altered) {
                restore_byte_a0(bytes.v, bytes.n, &a, &b);
                loom_cpbuf t2 = bytes;
                bytes = b;
                b = t2;
            }
        }
        if (loom_ftfy_charmap_flags[enc] & LOOM_FTFY_CHARMAP_SLOPPY) {
            replace_lossy(bytes.v, bytes.n, &b);
            loom_cpbuf t2 = bytes;
            bytes = b;
            b = t2;
        }
        done = decode_utf8_variants(bytes.v, bytes.n, out);
    }
    if (bytes.oom || a.oom || b.oom) out->oom = true;
    loom_cpbuf_free(&bytes);
    loom_cpbuf_free(&a);
    loom_cpbuf_free(&b);
    if (done) return;

    size_t s;
    if (detector_next(t, n, 0, &s) > s) {
        decode_inconsistent_utf8(t, n, depth, out);
        if (!same(t, n, out)) return;
    }
    out->n = 0; /* fix_c1_controls (a no-op without C1 controls) */
    for (size_t i = 0; i < n; i++)
        loom_cpbuf_push(out, t[i] >= 0x80 && t[i] <= 0x9F ? loom_ftfy_c1[t[i] - 0x80] : t[i]);
}

/* fix_encoding_and_explain: steps until the text stops changing */
static void fix_encoding(const uint32_t *t, size_t n, int depth, loom_cpbuf *out)
{
    loom_cpbuf next = {0};
    out->n = 0;
    loom_cpbuf_append(out, t, n);
    for (int round = 0; round < MOJI_MAX_ROUNDS && !out->oom; round++) {
        fix_encoding_step(out->v, out->n, depth, &next);
        if (next.oom) out->oom = true;
        if (out->oom || same(out->v, out->n, &next)) break;
        loom_cpbuf t2 = *out;
        *out = next;
        next = t2;
    }
    loom_cpbuf_free(&next);
}

void loom_ftfy_fix_encoding(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    loom_cpbuf tmp = {0};
    fix_encoding(in, n, 0, &tmp);
    if (tmp.oom) out->oom = true;
    else loom_cpbuf_append(out, tmp.v, tmp.n);
    loom_cpbuf_free(&tmp);
}
