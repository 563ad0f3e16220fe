/* pickle_impl.h — internals shared by the unpickler's two halves:
 * pickle.c (the opcode machine: stack, marks, memo) and pickle_reduce.c (what
 * GLOBAL, REDUCE, NEWOBJ, BUILD and BINPERSID mean: the allow-list, tensors,
 * storages). Not for use outside those files. */
#ifndef LOOM_PICKLE_IMPL_H
#define LOOM_PICKLE_IMPL_H

#include "pickle.h"

typedef struct loom_pk {
    const uint8_t *data;
    size_t size, pos;
    size_t op_pos; /* offset of the opcode being run, for messages */
    uint8_t op;
    int have_op;        /* 0 before the first opcode and at the end of the data */
    loom_status err;    /* code of the last loom_pk_fail */
    const char *what;
    loom_arena *arena;
    size_t arena_start; /* arena->used_total before the load */
    size_t n_values;
    loom_pickle_value **stack;
    size_t sp, stack_cap;
    size_t *marks; /* stack heights */
    size_t n_marks, marks_cap;
    loom_pickle_value **memo;
    size_t memo_cap, memo_count;
    loom_pickle_value *tensors, *tensors_tail;
} loom_pk;

/* "<what>: <message> (opcode 'R' at offset 123)"; returns code. */
loom_status loom_pk_fail(loom_pk *p, loom_status code, const char *fmt, ...) LOOM_PRINTF(3, 4);
/* Arena allocation counted against LOOM_PICKLE_MAX_MEMORY; NULL + error when over. */
void *loom_pk_alloc(loom_pk *p, size_t n);
/* A new value of kind k (zeroed); NULL + error past the limits. */
loom_pickle_value *loom_pk_new(loom_pk *p, loom_pv_kind k);
/* A str/bytes value holding a copy of s[0..n) (NUL-terminated). */
loom_pickle_value *loom_pk_new_str(loom_pk *p, loom_pv_kind k, const char *s, size_t n);
/* Appends to a LIST or TUPLE under construction. */
loom_status loom_pk_seq_push(loom_pk *p, loom_pickle_value *seq, loom_pickle_value *item);
/* Appends a key/value pair (no de-duplication: a pickler writes each key once,
 * and lookups take the last match, which is what Python's dict keeps). */
loom_status loom_pk_dict_set(loom_pk *p, loom_pickle_value *d, loom_pickle_value *k, loom_pickle_value *v);
/* Control bytes replaced and long strings cut, for one-line messages. */
const char *loom_pk_shown(const char *s, char *buf, size_t n);

/* pickle_reduce.c */
loom_status loom_pk_global(loom_pk *p, const char *module, const char *name, loom_pickle_value **out);
loom_status loom_pk_reduce(loom_pk *p, loom_pickle_value *callable, loom_pickle_value *args, int newobj,
                           loom_pickle_value **out);
loom_status loom_pk_build(loom_pk *p, loom_pickle_value *obj, loom_pickle_value *state);
loom_status loom_pk_persid(loom_pk *p, loom_pickle_value *pid, loom_pickle_value **out);

#endif
