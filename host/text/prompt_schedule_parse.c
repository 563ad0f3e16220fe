/* prompt_schedule_parse.c — A1111's prompt-editing grammar (addons.md §4.4) and
 * the reading lark picks for it. A1111 parses with lark (Earley, dynamic lexer,
 * ambiguities resolved by lark):
 *
 *   !start: (prompt | /[][():]/+)*
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   !emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   plain: /([^\\\[\]():|]|\\.)+/        NUMBER: lark's SIGNED_NUMBER
 *
 * Inside brackets the grammar is deterministic: a prompt runs to one of
 * `) ] : |` and each `(`/`[` in it must open a well-formed construct, so the
 * construct at a position parses one way or not at all ("constructs" below).
 * Only the top level is ambiguous, because `[ ] ( ) :` may also be stray
 * characters there. lark resolves that top-down from the right end: of the
 * derivations of the text so far it prefers (1) one prompt, (2) only stray
 * characters, (3) a prompt element ending here (a construct stays intact),
 * (4) a run of stray characters ending here, trying the run lengths in the
 * order its Earley sets produce them — for a maximal run of m strays, with o
 * and e the largest odd and even numbers <= m: o, 2, 4, …, e-2, o-2, o-4, …, 1,
 * e (read off lark 1.3's forest; the fixtures check it). A length is skipped
 * when the text before it cannot be derived (it would cut an alternation's
 * `|` off from its brackets). So `[a:5]::` is literal — the run `]::` eats
 * the construct's `]` — while `[a:5]:` and `[a:5]:::` are edits.
 * A `|` outside any alternation, or a `\` at the end or before a newline,
 * matches nothing: lark fails and A1111 uses the prompt literally.
 *
 * Known gap: lark's run-length order also shifts when positions inside the run
 * are themselves derivable in more than one way — a top-level construct whose
 * first inner prompt starts with whitespace (`[ b]:`), or several closing
 * brackets of nested constructs inside the run (`[[[x|c]]]:0.5]]`). Only a
 * construct directly followed by stray `:`, `)`, `]`, `(` or `[` is affected;
 * such prompts may read a construct where A1111 reads literal text (1 in 4 000
 * of a dense random bracket soup, 1 in 25 000 without whitespace next to the
 * brackets; no realistic prompt found). Matching them exactly would take a
 * port of lark's Earley parser.
 *
 * Costs: every construct is recognized once (memoized), the resolution walks
 * the text once from the right; nesting is capped at LOOM_PROMPT_MAX_NESTING. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_schedule_impl.h"
#include "prompt_util.h"

typedef struct seq {
    int head, tail;
} seq;

typedef struct parser {
    const char *s;
    size_t n;
    int steps;
    int build;         /* 0: recognize (fill end_of), 1: build nodes */
    loom_snode *v;
    size_t nv, cap;
    long *end_of;      /* recognize: per '('/'[' position, 0 unknown, -1 fails, else end + 1 */
    size_t *bar_end;   /* per '|' that separates alternation options: that alternation's end */
    size_t *bars;      /* recognize: separator positions of the alternations being parsed */
    size_t nbars, cap_bars;
    int depth;
    loom_status abort; /* LOOM_E_NOMEM, or LOOM_E_INVALID for nesting too deep */
} parser;

/* ---- nodes (build mode only) ------------------------------------------------ */

static int new_node(parser *p, int kind)
{
    if (p->abort) return -1;
    if (p->nv >= (size_t)0x7fffffff || loom_prompt_grow((void **)&p->v, &p->cap, p->nv + 1, sizeof *p->v)) {
        p->abort = LOOM_E_NOMEM;
        return -1;
    }
    loom_snode *x = &p->v[p->nv];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->next = x->a = x->b = -1;
    return (int)p->nv++;
}

static void seq_add(parser *p, seq *q, int node)
{
    if (node < 0) return;
    if (q->tail >= 0) p->v[q->tail].next = node;
    else q->head = node;
    q->tail = node;
}

static void seq_text(parser *p, seq *q, size_t off, size_t len)
{
    if (!p->build || !len) return;
    if (q->tail >= 0 && p->v[q->tail].kind == LOOM_SN_TEXT && p->v[q->tail].off + p->v[q->tail].len == off) {
        p->v[q->tail].len += len; /* contiguous source: one span */
        return;
    }
    int x = new_node(p, LOOM_SN_TEXT);
    if (x < 0) return;
    p->v[x].off = off;
    p->v[x].len = len;
    seq_add(p, q, x);
}

static void seq_cat(parser *p, seq *q, seq r)
{
    if (!p->build || r.head < 0) return;
    if (q->tail >= 0) p->v[q->tail].next = r.head;
    else q->head = r.head;
    q->tail = r.tail;
}

/* ---- terminals ---------------------------------------------------------------- */

static int is_delim(char c) { return c == '(' || c == '[' || c == ')' || c == ']' || c == ':' || c == '|'; }

/* lark's SIGNED_NUMBER as Python's re matches it at s[i]: a sign, then FLOAT
 * (INT exponent | INT "." INT? exponent? | "." INT exponent?) before INT; an
 * exponent is taken only when complete. Returns the end, or i for no match. */
static size_t match_number(const char *s, size_t n, size_t i)
{
    size_t p = i;
    if (p < n && (s[p] == '+' || s[p] == '-')) p++;
    size_t d = p;
    while (d < n && s[d] >= '0' && s[d] <= '9') d++;
    size_t e = d;
    if (d < n && s[d] == '.' && (d > p || (d + 1 < n && s[d + 1] >= '0' && s[d + 1] <= '9'))) {
        e = d + 1;
        while (e < n && s[e] >= '0' && s[e] <= '9') e++;
    } else if (d == p) {
        return i;
    }
    if (e < n && (s[e] == 'e' || s[e] == 'E')) {
        size_t x = e + 1;
        if (x < n && (s[x] == '+' || s[x] == '-')) x++;
        size_t y = x;
        while (y < n && s[y] >= '0' && s[y] <= '9') y++;
        if (y > x) e = y;
    }
    return e;
}

/* `when`: with a '.' a fraction of the steps, else a step; int() truncates toward
 * zero; clamped to steps (also for inf, where A1111's int() would raise). */
static int when_of(const parser *p, size_t a, size_t b)
{
    double v;
    if (!loom_prompt_py_float(p->s + a, b - a, &v)) return p->steps; /* NUMBER always parses */
    if (memchr(p->s + a, '.', b - a)) v *= (double)p->steps;
    if (!(v < (double)p->steps)) return p->steps;
    if (v < -1e9) return -1000000000;
    return (int)trunc(v);
}

/* ---- constructs ------------------------------------------------------------------ */

static int parse_construct(parser *p, size_t i, size_t *end, seq *out);

/* prompt: elements up to one of ") ] : |" or the end; -1 on failure. */
static int parse_prompt(parser *p, size_t i, size_t *end, seq *out)
{
    *out = (seq){-1, -1};
    while (i < p->n) {
        char c = p->s[i];
        if (c == ')' || c == ']' || c == ':' || c == '|') break;
        if (c == '(' || c == '[') {
            seq sub;
            if (parse_construct(p, i, &i, &sub) < 0) return -1;
            seq_cat(p, out, sub);
            continue;
        }
        size_t j = i;
        while (j < p->n && !is_delim(p->s[j])) { /* plain: ordinary characters and escapes */
            if (p->s[j] == '\\') {
                if (j + 1 >= p->n || p->s[j + 1] == '\n') break; /* `\\.` needs a character but \n */
                j += 2;
            } else {
                j++;
            }
        }
        if (j == i) return -1; /* a lone backslash: no terminal matches */
        seq_text(p, out, i, j - i);
        i = j;
    }
    *end = i;
    return p->abort ? -1 : 0;
}

/* ":" [ws] NUMBER [ws] "]" at s[e] == ':'; the end, or 0. */
static size_t sched_tail(const parser *p, size_t e, size_t *na, size_t *nb)
{
    size_t q = e + 1 + loom_prompt_space_run(p->s, p->n, e + 1), m = match_number(p->s, p->n, q);
    size_t r = m + loom_prompt_space_run(p->s, p->n, m);
    if (m == q || r >= p->n || p->s[r] != ']') return 0;
    *na = q;
    *nb = m;
    return r + 1;
}

/* alternate after its first prompt, at s[e] == '|'. While recognizing, the
 * separators are stacked and, on success, marked with the alternation's end. */
static int parse_alternate(parser *p, size_t e, seq first, size_t *end, seq *out)
{
    int alt = p->build ? new_node(p, LOOM_SN_ALT) : -1, prev = -1, count = 0;
    size_t bars0 = p->nbars;
    seq opt = first;
    for (;;) {
        if (p->build) {
            int o = new_node(p, LOOM_SN_OPT);
            if (alt < 0 || o < 0) goto fail;
            p->v[o].a = opt.head;
            if (prev < 0) p->v[alt].a = o;
            else p->v[prev].next = o;
            prev = o;
        }
        count++;
        if (e < p->n && p->s[e] == ']') break;
        if (e >= p->n || p->s[e] != '|') goto fail;
        if (!p->build) {
            if (loom_prompt_grow((void **)&p->bars, &p->cap_bars, p->nbars + 1, sizeof *p->bars)) {
                p->abort = LOOM_E_NOMEM;
                goto fail;
            }
            p->bars[p->nbars++] = e;
        }
        if (parse_prompt(p, e + 1, &e, &opt) < 0) goto fail;
    }
    for (size_t k = bars0; k < p->nbars; k++) p->bar_end[p->bars[k]] = e + 1;
    p->nbars = bars0;
    if (p->build) {
        p->v[alt].b = count;
        seq_add(p, out, alt);
    }
    *end = e + 1;
    return 0;
fail:
    p->nbars = bars0;
    return -1;
}

static int parse_bracket(parser *p, size_t i, size_t *end, seq *out)
{
    const char *s = p->s;
    size_t n = p->n, e, na, nb, r;
    seq p1, p2;
    *out = (seq){-1, -1};
    if (parse_prompt(p, i + 1, &e, &p1) < 0 || e >= n) return -1;
    if (s[i] == '(') { /* emphasized: literal text around its prompts */
        seq_text(p, out, i, 1);
        seq_cat(p, out, p1);
        if (s[e] == ':') {
            seq_text(p, out, e, 1);
            if (parse_prompt(p, e + 1, &e, &p2) < 0 || e >= n) return -1;
            seq_cat(p, out, p2);
        }
        if (s[e] != ')') return -1;
        seq_text(p, out, e, 1);
        *end = e + 1;
        return p->abort ? -1 : 0;
    }
    if (s[e] == ']') { /* [x]: emphasized */
        seq_text(p, out, i, 1);
        seq_cat(p, out, p1);
        seq_text(p, out, e, 1);
        *end = e + 1;
        return p->abort ? -1 : 0;
    }
    if (s[e] == '|') return parse_alternate(p, e, p1, end, out);
    if (s[e] != ':') return -1;
    /* scheduled: "[" to ":" NUMBER "]", else "[" from ":" to ":" NUMBER "]" */
    seq before = {-1, -1}, after = p1;
    if (!(r = sched_tail(p, e, &na, &nb))) {
        before = p1;
        if (parse_prompt(p, e + 1, &e, &after) < 0 || e >= n || s[e] != ':' || !(r = sched_tail(p, e, &na, &nb)))
            return -1;
    }
    if (p->build) {
        int x = new_node(p, LOOM_SN_SCHED);
        if (x < 0) return -1;
        p->v[x].a = before.head;
        p->v[x].b = after.head;
        p->v[x].when = when_of(p, na, nb);
        seq_add(p, out, x);
    }
    *end = r;
    return 0;
}

static int parse_construct(parser *p, size_t i, size_t *end, seq *out)
{
    if (!p->build && p->end_of[i]) { /* recognized before */
        if (p->end_of[i] < 0) return -1;
        *end = (size_t)p->end_of[i] - 1;
        *out = (seq){-1, -1};
        return 0;
    }
    if (p->depth >= LOOM_PROMPT_MAX_NESTING) {
        p->abort = LOOM_E_INVALID;
        return -1;
    }
    p->depth++;
    int r = parse_bracket(p, i, end, out);
    p->depth--;
    if (!p->build && !p->abort) p->end_of[i] = r < 0 ? -1 : (long)*end + 1;
    return r;
}

/* ---- the top level ------------------------------------------------------------------ */

typedef struct top {
    unsigned char *esc;  /* esc[i]: s[i] is the second character of an escape */
    unsigned char *reach;/* reach[k]: s[0..k) is one prompt */
    size_t *maxbar;      /* maxbar[k]: the largest bar_end of a '|' before k (n+1: none covers it) */
    long *start_at;      /* start_at[e]: the construct ending at e, or -1 */
    size_t *chosen;      /* top-level constructs read as constructs, right to left */
    size_t nchosen;
} top;

static int stray(const parser *p, const top *t, size_t i)
{
    char c = p->s[i];
    return !t->esc[i] && (c == '(' || c == '[' || c == ')' || c == ']' || c == ':');
}

/* The k-th (0-based) stray-run length lark tries for a maximal run of m, or 0. */
static size_t run_length(size_t m, size_t k)
{
    size_t o = m % 2 ? m : m - 1, e = m % 2 ? m - 1 : m;
    size_t evens = e >= 4 ? (e - 2) / 2 : 0, odds = (o - 1) / 2;
    if (k == 0) return o;
    k--;
    if (k < evens) return 2 * (k + 1);
    k -= evens;
    if (k < odds) return o - 2 * (k + 1);
    k -= odds;
    return k == 0 && e >= 2 ? e : 0;
}

/* Walk from the right end as lark's resolution does (file comment); records the
 * constructs that keep their meaning. */
static loom_status resolve(const parser *p, top *t)
{
    const char *s = p->s;
    size_t k = p->n, lead = 0;
    while (lead < p->n && stray(p, t, lead)) lead++;
    while (k > 0) {
        if (t->reach[k]) { /* (1) one prompt: its top-level constructs */
            for (size_t c = 0; c < k;) {
                long e = (s[c] == '(' || s[c] == '[') ? p->end_of[c] : 0;
                if (e > 0) {
                    t->chosen[t->nchosen++] = c;
                    c = (size_t)e - 1;
                } else {
                    c++;
                }
            }
            return LOOM_OK;
        }
        if (k <= lead) return LOOM_OK; /* (2) all strays */
        if (t->start_at[k] >= 0 && !t->esc[k - 1]) { /* (3) a construct ends here */
            t->chosen[t->nchosen++] = (size_t)t->start_at[k];
            k = (size_t)t->start_at[k];
            continue;
        }
        if (t->esc[k - 1] || !is_delim(s[k - 1])) { /* (3) text ends here */
            while (k > 0 && (t->esc[k - 1] || !is_delim(s[k - 1]))) k--;
            continue;
        }
        size_t m = 0; /* (4) strays: the first length whose prefix derives */
        while (m < k && stray(p, t, k - 1 - m)) m++;
        size_t len = 0;
        for (size_t i = 0; (len = run_length(m, i)) != 0; i++)
            if (t->maxbar[k - len] <= k - len) break;
        if (len == 0) return loom_fail(LOOM_E_INVALID, "prompt schedule: no derivation"); /* cannot happen */
        k -= len;
    }
    return LOOM_OK;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Recognizes every construct, checks that lark can derive the text at all,
 * resolves the top level, then builds the nodes of the chosen constructs. */
static loom_status parse_top(parser *p, top *t, seq *out, int *literal)
{
    const char *s = p->s;
    size_t n = p->n;
    *literal = 1;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && s[i - 1] == '\\' && !t->esc[i - 1]) t->esc[i] = 1;
        if (s[i] == '\\' && !t->esc[i] && (i + 1 >= n || s[i + 1] == '\n')) return LOOM_OK; /* no terminal */
    }
    for (size_t i = 0; i < n; i++) {
        size_t e;
        seq dummy;
        if ((s[i] == '(' || s[i] == '[') && !t->esc[i]) parse_construct(p, i, &e, &dummy);
        if (p->abort == LOOM_E_NOMEM) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
        if (p->abort) return LOOM_OK; /* nested too deep: literal */
    }
    for (size_t i = 0; i <= n; i++) t->start_at[i] = -1;
    for (size_t i = 0; i < n; i++)
        if (p->end_of[i] > 0) t->start_at[p->end_of[i] - 1] = (long)i;
    t->maxbar[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        if (s[i] == '|' && !t->esc[i]) b = p->bar_end[i] ? p->bar_end[i] : n + 1;
        t->maxbar[i + 1] = t->maxbar[i] > b ? t->maxbar[i] : b;
    }
    if (t->maxbar[n] > n) return LOOM_OK; /* a '|' outside every alternation */
    for (size_t c = 0; c < n;) { /* the prompt that starts at 0, element by element */
        size_t e = c;
        if ((s[c] == '(' || s[c] == '[') && !t->esc[c]) {
            if (p->end_of[c] <= 0) break;
            e = (size_t)p->end_of[c] - 1;
        } else if (t->esc[c] || !is_delim(s[c])) {
            while (e < n && (t->esc[e] || !is_delim(s[e]))) e++; /* a text run */
        } else {
            break;
        }
        t->reach[e] = 1;
        c = e;
    }
    LOOM_TRY(resolve(p, t));
    qsort(t->chosen, t->nchosen, sizeof *t->chosen, cmp_size);
    p->build = 1;
    *out = (seq){-1, -1};
    size_t at = 0;
    for (size_t k = 0; k < t->nchosen; k++) {
        size_t c = t->chosen[k], e;
        seq sub;
        seq_text(p, out, at, c - at);
        if (parse_construct(p, c, &e, &sub) < 0) { /* recognized before, so only out of memory */
            if (!p->abort) p->abort = LOOM_E_NOMEM;
            break;
        }
        seq_cat(p, out, sub);
        at = e;
    }
    seq_text(p, out, at, n - at);
    if (p->abort == LOOM_E_NOMEM) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    if (p->abort) return LOOM_OK;
    *literal = 0;
    return LOOM_OK;
}

loom_status loom_prompt_schedule_tree(const char *text, size_t n, int steps, loom_stree *out)
{
    memset(out, 0, sizeof *out);
    out->head = -1;
    parser p = {.s = text, .n = n, .steps = steps};
    top t = {0};
    p.end_of = calloc(n + 1, sizeof *p.end_of);
    p.bar_end = calloc(n + 1, sizeof *p.bar_end);
    t.esc = calloc(n + 1, 1);
    t.reach = calloc(n + 1, 1);
    t.maxbar = calloc(n + 1, sizeof *t.maxbar);
    t.start_at = calloc(n + 1, sizeof *t.start_at);
    t.chosen = calloc(n + 1, sizeof *t.chosen);
    loom_status st = LOOM_OK;
    seq head = {-1, -1};
    int literal = 1;
    if (!p.end_of || !p.bar_end || !t.esc || !t.reach || !t.maxbar || !t.start_at || !t.chosen)
        st = loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    else
        st = parse_top(&p, &t, &head, &literal);
    free(p.end_of);
    free(p.bar_end);
    free(p.bars);
    free(t.esc);
    free(t.reach);
    free(t.maxbar);
    free(t.start_at);
    free(t.chosen);
    if (st != LOOM_OK || literal) {
        free(p.v);
        out->literal = 1;
        return st;
    }
    out->v = p.v;
    out->nv = p.nv;
    out->head = head.head;
    return LOOM_OK;
}
