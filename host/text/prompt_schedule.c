/* prompt_schedule.c — prompt editing `[from:to:when]` and alternation `[a|b]`
 * (addons.md §4.4): the variants of a prompt over the sampling steps and the
 * variant each denoiser call uses. The grammar and lark's reading of it are in
 * prompt_schedule_parse.c; this file turns the tree into end steps and texts.
 *
 * A1111 (get_learned_conditioning_prompt_schedules): every scheduled `when`
 * that is >= 1 (also one nested in a branch never shown) and `steps` are end
 * steps; any alternation makes every step 1…steps an end step. Variant t shows
 * `from` of [from:to:when] while t <= when, else `to`, and option (t-1) mod count
 * of an alternation. */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_schedule_impl.h"
#include "prompt_util.h"

struct loom_prompt_schedule {
    char *src;
    size_t n;
    loom_stree tree;
    int n_ends;
    int *ends; /* sorted, distinct; the last is `steps` */
};

void loom_prompt_schedule_free(loom_prompt_schedule *s)
{
    if (!s) return;
    free(s->src);
    free(s->tree.v);
    free(s->ends);
    free(s);
}

/* The end steps: `steps`, every scheduled `when` ≥ 1 (also those nested in a
 * branch that is never shown), and 1…steps when any alternation exists. */
static loom_status collect_ends(loom_prompt_schedule *s, int steps)
{
    unsigned char *mark = calloc((size_t)steps + 1, 1);
    if (!mark) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    mark[steps] = 1;
    for (size_t i = 0; i < s->tree.nv; i++) {
        const loom_snode *x = &s->tree.v[i];
        if (x->kind == LOOM_SN_SCHED && x->when >= 1) mark[x->when] = 1;
        if (x->kind == LOOM_SN_ALT) memset(mark + 1, 1, (size_t)steps);
    }
    int count = 0;
    for (int t = 1; t <= steps; t++) count += mark[t];
    s->ends = malloc((size_t)count * sizeof *s->ends);
    if (!s->ends) {
        free(mark);
        return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    }
    for (int t = 1; t <= steps; t++)
        if (mark[t]) s->ends[s->n_ends++] = t;
    free(mark);
    return LOOM_OK;
}

loom_status loom_prompt_schedule_parse(const char *text, size_t len, int steps, loom_prompt_schedule **out)
{
    *out = NULL;
    if (steps < 1 || steps > LOOM_PROMPT_MAX_STEPS)
        return loom_fail(LOOM_E_INVALID, "prompt schedule: %d steps; expected 1 to %d", steps,
                         LOOM_PROMPT_MAX_STEPS);
    if (len > LOOM_PROMPT_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt: %zu bytes; the limit is %u", len, LOOM_PROMPT_MAX_BYTES);
    loom_prompt_schedule *s = calloc(1, sizeof *s);
    if (!s || !(s->src = loom_prompt_strndup(text, len))) {
        loom_prompt_schedule_free(s);
        return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    }
    s->n = len;
    loom_status st = loom_prompt_schedule_tree(text, len, steps, &s->tree);
    if (st != LOOM_OK) {
        loom_prompt_schedule_free(s);
        return st;
    }
    st = collect_ends(s, steps);
    if (st != LOOM_OK) {
        loom_prompt_schedule_free(s);
        return st;
    }
    *out = s;
    return LOOM_OK;
}

int loom_prompt_schedule_count(const loom_prompt_schedule *s) { return s->n_ends; }

int loom_prompt_schedule_end(const loom_prompt_schedule *s, int i)
{
    return i >= 0 && i < s->n_ends ? s->ends[i] : -1;
}

int loom_prompt_schedule_index(const loom_prompt_schedule *s, int k)
{
    int lo = 0, hi = s->n_ends; /* the first end >= k (ends are sorted) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s->ends[mid] < k) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n_ends ? lo : 0; /* past the last end: A1111 falls back to the first */
}

/* Depth is bounded by the parser's nesting cap. */
static loom_status render(const loom_prompt_schedule *s, int node, int step, loom_prompt_buf *b)
{
    const loom_snode *v = s->tree.v;
    for (; node >= 0; node = v[node].next) {
        const loom_snode *x = &v[node];
        if (x->kind == LOOM_SN_TEXT) {
            LOOM_TRY(loom_prompt_buf_put(b, s->src + x->off, x->len));
        } else if (x->kind == LOOM_SN_SCHED) {
            LOOM_TRY(render(s, step <= x->when ? x->a : x->b, step, b));
        } else if (x->kind == LOOM_SN_ALT) {
            int k = ((step - 1) % x->b + x->b) % x->b, o = x->a; /* Python's modulo */
            while (k-- > 0) o = v[o].next;
            LOOM_TRY(render(s, v[o].a, step, b));
        }
    }
    return LOOM_OK;
}

loom_status loom_prompt_schedule_text(const loom_prompt_schedule *s, int i, char **text, size_t *len)
{
    *text = NULL;
    if (i < 0 || i >= s->n_ends)
        return loom_fail(LOOM_E_INVALID, "prompt schedule: variant %d of %d", i, s->n_ends);
    loom_prompt_buf b = {0};
    loom_status st = s->tree.literal ? loom_prompt_buf_put(&b, s->src, s->n)
                                     : render(s, s->tree.head, s->ends[i], &b);
    if (st == LOOM_OK) st = loom_prompt_buf_take(&b, text, len);
    if (st != LOOM_OK) loom_prompt_buf_free(&b);
    return st;
}
