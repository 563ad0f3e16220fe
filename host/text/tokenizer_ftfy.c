/* tokenizer_ftfy.c — ftfy.fix_text (ftfy 6, default settings) as the CLIP
 * tokenizer applies it (addons.md §4.11).
 *
 * fix_text cuts the text after every '\n' (and every 1 000 000 code points)
 * and fixes each segment until nothing changes. One round is, in ftfy's order:
 *   unescape_html   only while no segment so far contained '<' ("auto" mode)
 *   fix_encoding    mojibake repair (tokenizer_mojibake.c)
 *   fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes
 *   fix_line_breaks, remove_terminal_escapes, remove_control_chars
 *   NFC
 * (fix_surrogates has nothing to do: loom's text is decoded UTF-8, and
 * fix_encoding's decoder never yields a lone surrogate.)
 *
 * fix_encoding only acts on text that ftfy's badness heuristic flags as
 * mojibake (e.g. "cafÃ©" → "café"); ordinary prompts, in any script, pass it
 * unchanged. fix_and_explain calls it with the default config whatever the
 * segment's config says; the defaults of its own options are all on. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"
#include "unicode_tables.h"

#define FTFY_MAX_SEGMENT 1000000 /* TextFixerConfig.max_decode_length */
/* ftfy loops until a round changes nothing; realistic text needs 2-3 rounds.
 * The cap bounds the work on hostile input such as "&amp;amp;amp;…". */
#define FTFY_MAX_ROUNDS 32

static bool is_alnum_ascii(uint32_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int entity_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const loom_ftfy_entity *)elem)->name);
}

/* html.unescape of "&#<body>;" (Python's html._replace_charref), as ftfy's
 * _unescape_fixup uses it: returns false to keep the reference as written. */
static bool numeric_ref(const uint32_t *body, size_t n, loom_cpbuf *out)
{
    bool hex = body[0] == 'x' || body[0] == 'X';
    size_t i = hex ? 1 : 0;
    if (i == n) return false;
    uint64_t num = 0;
    for (; i < n; i++) {
        uint32_t c = body[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
        else return false; /* html.unescape decodes only a prefix; ftfy then keeps the text */
        num = num * (hex ? 16 : 10) + d;
        if (num > 0x110000) num = 0x110000; /* saturate: everything above is U+FFFD */
    }
    for (size_t k = 0; k < loom_html_invalid_charrefs_count; k++)
        if (loom_html_invalid_charrefs[k].a == num) {
            loom_cpbuf_push(out, loom_html_invalid_charrefs[k].b);
            return true;
        }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        loom_cpbuf_push(out, 0xFFFD);
        return true;
    }
    if (loom_uc_in_ranges(loom_html_invalid_codepoints, loom_html_invalid_codepoints_count, (uint32_t)num))
        return true; /* decoded to "" */
    if (num == ';') return false; /* ftfy keeps a reference whose result contains ';' */
    loom_cpbuf_push(out, (uint32_t)num);
    return true;
}

/* ftfy.fixes.unescape_html: HTML_ENTITY_RE = &#?[0-9A-Za-z]{1,24}; */
static void unescape_html(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    for (size_t i = 0; i < n;) {
        if (in[i] != '&') {
            loom_cpbuf_push(out, in[i++]);
            continue;
        }
        size_t j = i + 1;
        bool num = j < n && in[j] == '#';
        if (num) j++;
        size_t k = j;
        while (k < n && k - j < 25 && is_alnum_ascii(in[k])) k++;
        if (k == j || k - j > 24 || k >= n || in[k] != ';') {
            loom_cpbuf_push(out, in[i++]);
            continue;
        }
        bool done = false;
        if (num) {
            done = numeric_ref(in + j, k - j, out);
        } else {
            char name[28];
            size_t m = 0;
            name[m++] = '&';
            for (size_t p = j; p < k; p++) name[m++] = (char)in[p];
            name[m++] = ';';
            name[m] = 0;
            const loom_ftfy_entity *e =
                bsearch(name, loom_ftfy_entities, loom_ftfy_entities_count, sizeof *e, entity_cmp);
            if (e) {
                loom_cpbuf_append3(out, e->to);
                done = true;
            }
        }
        if (!done) loom_cpbuf_append(out, in + i, k + 1 - i);
        i = k + 1;
    }
}

/* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes:
 * all per-character maps, so applying them in order to each character is
 * the same as applying each to the whole text. */
static uint32_t uncurl(uint32_t c)
{
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) return '\'';
    if (c >= 0x201C && c <= 0x201F) return '"';
    return c;
}

static void width_and_quotes(uint32_t c, loom_cpbuf *out)
{
    if (c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF)) {
        const loom_uc_multi *w = loom_uc_find_multi(loom_ftfy_width, loom_ftfy_width_count, c);
        if (w) {
            for (int i = 0; i < 3 && w->to[i]; i++) loom_cpbuf_push(out, uncurl(w->to[i]));
            return;
        }
    }
    loom_cpbuf_push(out, uncurl(c));
}

static void map_chars(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c >= 0x80 && c <= 0x9F) c = loom_ftfy_c1[c - 0x80];
        const loom_uc_multi *l =
            c < 0x132 ? NULL : loom_uc_find_multi(loom_ftfy_ligatures, loom_ftfy_ligatures_count, c);
        if (l) {
            for (int k = 0; k < 3 && l->to[k]; k++) width_and_quotes(l->to[k], out);
        } else {
            width_and_quotes(c, out);
        }
    }
}

/* ANSI_RE = "\033\[((?:\d|;)*)([a-zA-Z])" (re's \d: any Unicode decimal digit);
 * returns the match length at in[i] or 0. */
static size_t ansi_escape(const uint32_t *in, size_t n, size_t i)
{
    if (i + 2 >= n || in[i] != 0x1B || in[i + 1] != '[') return 0;
    size_t k = i + 2;
    while (k < n && (in[k] == ';' || loom_uc_is_decimal(in[k]))) k++;
    if (k < n && in[k] < 0x80 && (in[k] | 0x20) >= 'a' && (in[k] | 0x20) <= 'z') return k + 1 - i;
    return 0;
}

/* fix_line_breaks, remove_terminal_escapes, remove_control_chars in one pass
 * (none of them can create or break a match of the others). */
static void breaks_escapes_controls(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = in[i];
        if (c == '\r') {
            loom_cpbuf_push(out, '\n');
            i += (i + 1 < n && in[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            loom_cpbuf_push(out, '\n');
            i++;
            continue;
        }
        size_t esc = c == 0x1B ? ansi_escape(in, n, i) : 0;
        if (esc) {
            i += esc;
            continue;
        }
        if (!loom_uc_in_ranges(loom_ftfy_control, loom_ftfy_control_count, c)) loom_cpbuf_push(out, c);
        i++;
    }
}

static void swap(loom_cpbuf *a, loom_cpbuf *b)
{
    loom_cpbuf t = *a;
    *a = *b;
    *b = t;
    b->n = 0;
}

/* ftfy.fix_and_explain on one segment: rounds until the text is stable. */
static void fix_segment(const uint32_t *in, size_t n, bool unescape, loom_cpbuf *cur, loom_cpbuf *tmp,
                        loom_cpbuf *prev)
{
    cur->n = 0;
    loom_cpbuf_append(cur, in, n);
    for (int round = 0; round < FTFY_MAX_ROUNDS && !cur->oom; round++) {
        prev->n = 0;
        loom_cpbuf_append(prev, cur->v, cur->n);
        tmp->n = 0;
        if (unescape) {
            unescape_html(cur->v, cur->n, tmp);
            swap(cur, tmp);
        }
        loom_ftfy_fix_encoding(cur->v, cur->n, tmp);
        swap(cur, tmp);
        map_chars(cur->v, cur->n, tmp);
        swap(cur, tmp);
        breaks_escapes_controls(cur->v, cur->n, tmp);
        swap(cur, tmp);
        loom_nfc(cur->v, cur->n, tmp);
        swap(cur, tmp);
        if (cur->oom || tmp->oom || prev->oom) {
            cur->oom = true;
            return;
        }
        if (cur->n == prev->n && memcmp(cur->v, prev->v, cur->n * sizeof *cur->v) == 0) return;
    }
}

loom_status loom_ftfy_fix_text(const uint32_t *in, size_t n, loom_cpbuf *out)
{
    loom_cpbuf cur = {0}, tmp = {0}, prev = {0};
    bool unescape = true; /* unescape_html="auto": off from the first segment holding '<' on */
    for (size_t pos = 0; pos < n && !out->oom;) {
        size_t end = pos;
        while (end < n && in[end] != '\n' && end - pos < FTFY_MAX_SEGMENT) end++;
        if (end < n && in[end] == '\n' && end - pos < FTFY_MAX_SEGMENT) end++;
        for (size_t i = pos; i < end && unescape; i++)
            if (in[i] == '<') unescape = false;
        fix_segment(in + pos, end - pos, unescape, &cur, &tmp, &prev);
        if (cur.oom) out->oom = true;
        else loom_cpbuf_append(out, cur.v, cur.n);
        pos = end;
    }
    loom_cpbuf_free(&cur);
    loom_cpbuf_free(&tmp);
    loom_cpbuf_free(&prev);
    return loom_cpbuf_status(out, "text cleanup");
}
