/* prompt_emphasis.c — A1111's parse_prompt_attention (addons.md §4.5).
 *
 * The text is cut by one regex whose alternatives are tried in this order:
 * the escapes \( \) \[ \] \\, a lone \, "(", "[", a weight-close
 * `:\s*([+-]?[.\d]+)\s*\)`, ")", "]", a run of characters other than
 * `\()[]:`, and a lone ":". Escapes add their character (a lone \ adds
 * nothing) at weight 1; "(" and "[" remember the current piece count; a
 * closer multiplies every piece since its opener (weight-close: by the
 * number, ")" by 1.1, "]" by 1/1.1); anything else, including a closer
 * without opener, is literal text at weight 1 after splitting on
 * `\s*\bBREAK\b\s*` (a ("BREAK", -1) piece between the parts). Openers still
 * open at the end multiply by 1.1 (round first, then square). Neighbours with
 * exactly equal weights are merged last. Weights are doubles multiplied in the
 * same order as Python does, so they match bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_util.h"

/* Multiplying a range costs its length (one multiplication per piece, kept
 * in Python's order so the doubles match). Tens of thousands of unclosed
 * brackets before tens of thousands of pieces would cost billions; such a
 * prompt is refused instead. A realistic prompt costs far below this (a 20 KB
 * prompt with 5000 pieces under 5000 open brackets: 25 million). */
#define EMPHASIS_WORK_LIMIT (1ull << 25)

typedef struct entry {
    size_t off, len; /* text in the parser's buffer; neighbours are contiguous there */
    double w;
} entry;

typedef struct emph {
    const char *s;
    size_t n;
    loom_prompt_buf text;
    entry *e;
    size_t ne, cap;
    size_t *round, *square;
    size_t nround, nsquare, cap_round, cap_square;
    unsigned long long work;
} emph;

static loom_status add(emph *p, const char *t, size_t len, double w)
{
    LOOM_TRY(loom_prompt_grow((void **)&p->e, &p->cap, p->ne + 1, sizeof *p->e));
    p->e[p->ne++] = (entry){p->text.n, len, w};
    return loom_prompt_buf_put(&p->text, t, len);
}

static loom_status scale(emph *p, size_t from, double m)
{
    p->work += p->ne - from;
    if (p->work > EMPHASIS_WORK_LIMIT)
        return loom_fail(LOOM_E_INVALID, "prompt: too many nested emphasis brackets to weigh");
    for (size_t k = from; k < p->ne; k++) p->e[k].w *= m;
    return LOOM_OK;
}

static bool word_at(const char *s, size_t n, size_t i)
{
    uint32_t cp;
    if (i >= n) return false;
    loom_prompt_utf8_at(s, n, i, &cp);
    return loom_prompt_is_word(cp);
}

/* Literal text s[a..b) split on `\s*\bBREAK\b\s*`. The split string is this
 * run alone, so \b at its ends sees the string's edge. */
static loom_status literal(emph *p, size_t a, size_t b)
{
    const char *s = p->s;
    size_t cur = a;
    for (size_t j = a; j + 5 <= b; j++) {
        if (memcmp(s + j, "BREAK", 5) != 0) continue;
        if (j > a) {
            uint32_t cp;
            loom_prompt_utf8_before(s, j, &cp);
            if (loom_prompt_is_word(cp)) continue;
        }
        if (word_at(s, b, j + 5)) continue;
        size_t start = j; /* the \s* before it, not before the previous split */
        while (start > cur) {
            uint32_t cp;
            size_t q = loom_prompt_utf8_before(s, start, &cp);
            if (q < cur || !loom_prompt_is_space(cp)) break;
            start = q;
        }
        LOOM_TRY(add(p, s + cur, start - cur, 1.0));
        LOOM_TRY(add(p, "BREAK", 5, -1.0));
        cur = j + 5 + loom_prompt_space_run(s, b, j + 5);
        j = cur - 1;
    }
    return add(p, s + cur, b - cur, 1.0);
}

/* `:\s*([+-]?[.\d]+)\s*\)` at s[i] == ':': the end, or 0; the number in [*na, *nb). */
static size_t weight_close(const char *s, size_t n, size_t i, size_t *na, size_t *nb)
{
    size_t j = i + 1 + loom_prompt_space_run(s, n, i + 1), k = j;
    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
    size_t m = k;
    while (m < n) {
        uint32_t cp;
        size_t len = loom_prompt_utf8_at(s, n, m, &cp);
        if (cp != '.' && !loom_prompt_is_digit(cp)) break;
        m += len;
    }
    if (m == k) return 0;
    size_t t = m + loom_prompt_space_run(s, n, m);
    if (t >= n || s[t] != ')') return 0;
    *na = j;
    *nb = m;
    return t + 1;
}

static loom_status push(size_t **v, size_t *count, size_t *cap, size_t x)
{
    LOOM_TRY(loom_prompt_grow((void **)v, cap, *count + 1, sizeof **v));
    (*v)[(*count)++] = x;
    return LOOM_OK;
}

static loom_status run(emph *p)
{
    const char *s = p->s;
    size_t n = p->n;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        size_t na, nb, end;
        if (c == '\\') {
            if (i + 1 < n && s[i + 1] && strchr("()[]\\", s[i + 1])) {
                LOOM_TRY(add(p, s + i + 1, 1, 1.0));
                i += 2;
            } else { /* a lone backslash: its text minus the backslash is empty */
                LOOM_TRY(add(p, "", 0, 1.0));
                i++;
            }
        } else if (c == '(') {
            LOOM_TRY(push(&p->round, &p->nround, &p->cap_round, p->ne));
            i++;
        } else if (c == '[') {
            LOOM_TRY(push(&p->square, &p->nsquare, &p->cap_square, p->ne));
            i++;
        } else if (c == ':' && (end = weight_close(s, n, i, &na, &nb)) != 0) {
            if (p->nround) {
                double w;
                if (!loom_prompt_py_float(s + na, nb - na, &w)) {
                    char b[64];
                    char *num = loom_prompt_strndup(s + na, nb - na);
                    if (!num) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
                    loom_printable(num, b, sizeof b);
                    free(num);
                    return loom_fail(LOOM_E_INVALID, "prompt: emphasis weight '%s' is not a number", b);
                }
                LOOM_TRY(scale(p, p->round[--p->nround], w));
            } else {
                LOOM_TRY(literal(p, i, end));
            }
            i = end;
        } else if (c == ')' && p->nround) {
            LOOM_TRY(scale(p, p->round[--p->nround], 1.1));
            i++;
        } else if (c == ']' && p->nsquare) {
            LOOM_TRY(scale(p, p->square[--p->nsquare], 1 / 1.1));
            i++;
        } else if (c == ')' || c == ']' || c == ':') {
            LOOM_TRY(literal(p, i, i + 1));
            i++;
        } else {
            size_t j = i;
            while (j < n && !memchr("\\()[]:", s[j], 6)) j++;
            LOOM_TRY(literal(p, i, j));
            i = j;
        }
    }
    for (size_t k = 0; k < p->nround; k++) LOOM_TRY(scale(p, p->round[k], 1.1));
    for (size_t k = 0; k < p->nsquare; k++) LOOM_TRY(scale(p, p->square[k], 1 / 1.1));
    if (p->ne == 0) LOOM_TRY(add(p, "", 0, 1.0));
    /* merge neighbours of exactly equal weight (their texts are adjacent) */
    size_t w = 0;
    for (size_t k = 1; k < p->ne; k++) {
        if (p->e[k].w == p->e[w].w) p->e[w].len += p->e[k].len;
        else p->e[++w] = p->e[k];
    }
    p->ne = w + 1;
    return LOOM_OK;
}

void loom_prompt_pieces_free(loom_prompt_pieces *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->v[i].text);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

int loom_prompt_piece_is_break(const loom_prompt_piece *p)
{
    return p->weight == -1.0 && p->len == 5 && !memcmp(p->text, "BREAK", 5);
}

loom_status loom_prompt_parse_emphasis(const char *text, size_t len, loom_prompt_pieces *out)
{
    memset(out, 0, sizeof *out);
    if (len > LOOM_PROMPT_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt: %zu bytes; the limit is %u", len, LOOM_PROMPT_MAX_BYTES);
    emph p = {.s = text, .n = len};
    loom_status st = run(&p);
    if (st == LOOM_OK && !(out->v = calloc(p.ne, sizeof *out->v)))
        st = loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    for (size_t k = 0; st == LOOM_OK && k < p.ne; k++) {
        loom_prompt_piece *q = &out->v[out->n];
        q->len = p.e[k].len;
        q->weight = p.e[k].w;
        if (!(q->text = loom_prompt_strndup(p.text.p ? p.text.p + p.e[k].off : "", q->len)))
            st = loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
        else
            out->n++;
    }
    if (st != LOOM_OK) loom_prompt_pieces_free(out);
    loom_prompt_buf_free(&p.text);
    free(p.e);
    free(p.round);
    free(p.square);
    return st;
}
