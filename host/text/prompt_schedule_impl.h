/* prompt_schedule_impl.h — the tree shared by prompt_schedule_parse.c (which
 * builds it from the text) and prompt_schedule.c (which renders variants).
 * Internal to host/text. */
#ifndef LOOM_PROMPT_SCHEDULE_IMPL_H
#define LOOM_PROMPT_SCHEDULE_IMPL_H

#include <stddef.h>

#include "loom_base.h"

/* Only editing and alternation need nodes: everything else renders as its
 * source text (brackets and escapes included), so it stays a source span. */
enum { LOOM_SN_TEXT, LOOM_SN_SCHED, LOOM_SN_ALT, LOOM_SN_OPT };

typedef struct loom_snode {
    int kind;
    int next;        /* next node of the same sequence, -1 at the end */
    size_t off, len; /* TEXT: a span of the source */
    int a, b;        /* SCHED: before, after sequences; ALT: first OPT, option count;
                        OPT: its sequence. A sequence is a node index or -1 (empty). */
    int when;        /* SCHED: min(steps, int(v)) */
} loom_snode;

typedef struct loom_stree {
    loom_snode *v;
    size_t nv;
    int head;    /* the top sequence */
    int literal; /* the grammar rejects the text: use it as it is */
} loom_stree;

/* Parses text[0..n) for `steps` steps into *t (t->v malloc'd). A rejected or
 * too deeply nested text gives t->literal = 1 and no nodes. Fails only for
 * LOOM_E_NOMEM. */
loom_status loom_prompt_schedule_tree(const char *text, size_t n, int steps, loom_stree *t);

#endif
