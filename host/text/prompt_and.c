/* prompt_and.c — composable diffusion's `AND` (addons.md §4.3): the prompt is
 * split on the regex `\bAND\b`, and each part is matched against
 * `^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$`. The lazy first
 * group makes the text as short as possible, so a part loses its trailing
 * whitespace and, when the part ends in `:number`, that weight (and the
 * whitespace around its colon). */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_util.h"

void loom_prompt_parts_free(loom_prompt_parts *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->v[i].text);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

/* `[-+]?(?:\d+\.?|\d*\.\d+)` covering s[a..b) exactly. */
static bool is_and_weight(const char *s, size_t a, size_t b)
{
    if (a < b && (s[a] == '+' || s[a] == '-')) a++;
    size_t before = 0, after = 0, dots = 0;
    while (a < b) {
        uint32_t cp;
        size_t k = loom_prompt_utf8_at(s, b, a, &cp);
        if (cp == '.') dots++;
        else if (loom_prompt_is_digit(cp)) *(dots ? &after : &before) += 1;
        else return false;
        a += k;
    }
    if (dots > 1) return false;
    return dots ? after > 0 || before > 0 : before > 0;
}

/* One part s[a..b): its text length and weight. */
static void part_weight(const char *s, size_t a, size_t b, size_t *text_end, double *w)
{
    size_t t = b; /* start of the trailing \s run */
    while (t > a) {
        uint32_t cp;
        size_t p = loom_prompt_utf8_before(s, t, &cp);
        if (p < a || !loom_prompt_is_space(cp)) break;
        t = p;
    }
    *text_end = t;
    *w = 1.0;
    size_t c = t; /* the last ':' */
    while (c > a && s[c - 1] != ':') c--;
    if (c == a) return;
    size_t num = c + loom_prompt_space_run(s, t, c);
    if (!is_and_weight(s, num, t)) return;
    double v;
    if (!loom_prompt_py_float(s + num, t - num, &v)) return;
    size_t w0 = c - 1; /* the \s* before the colon goes with the weight */
    while (w0 > a) {
        uint32_t cp;
        size_t p = loom_prompt_utf8_before(s, w0, &cp);
        if (p < a || !loom_prompt_is_space(cp)) break;
        w0 = p;
    }
    *text_end = w0;
    *w = v;
}

static bool word_before(const char *s, size_t i)
{
    uint32_t cp;
    if (i == 0) return false;
    loom_prompt_utf8_before(s, i, &cp);
    return loom_prompt_is_word(cp);
}

static bool word_at(const char *s, size_t n, size_t i)
{
    uint32_t cp;
    if (i >= n) return false;
    loom_prompt_utf8_at(s, n, i, &cp);
    return loom_prompt_is_word(cp);
}

static loom_status add_part(loom_prompt_parts *out, size_t *cap, const char *s, size_t a, size_t b)
{
    LOOM_TRY(loom_prompt_grow((void **)&out->v, cap, (size_t)out->n + 1, sizeof *out->v));
    loom_prompt_part *p = &out->v[out->n];
    size_t end;
    part_weight(s, a, b, &end, &p->weight);
    p->len = end - a;
    p->text = loom_prompt_strndup(s + a, p->len);
    if (!p->text) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    out->n++;
    return LOOM_OK;
}

loom_status loom_prompt_split_and(const char *s, size_t n, loom_prompt_parts *out)
{
    memset(out, 0, sizeof *out);
    if (n > LOOM_PROMPT_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt: %zu bytes; the limit is %u", n, LOOM_PROMPT_MAX_BYTES);
    size_t cap = 0, start = 0;
    loom_status st = LOOM_OK;
    for (size_t i = 0; i + 3 <= n && st == LOOM_OK;) {
        if (memcmp(s + i, "AND", 3) != 0 || word_before(s, i) || word_at(s, n, i + 3)) {
            i++;
            continue;
        }
        st = add_part(out, &cap, s, start, i);
        start = i = i + 3;
    }
    if (st == LOOM_OK) st = add_part(out, &cap, s, start, n);
    if (st != LOOM_OK) loom_prompt_parts_free(out);
    return st;
}
