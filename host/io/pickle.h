/* pickle.h — a restricted unpickler for PyTorch checkpoints (addons.md §5.3–5.5).
 *
 * It interprets the opcodes torch.save and the SD tools emit (protocols 2–5)
 * and builds a tree of values; it never imports or calls anything. A GLOBAL
 * only names something, and only names on an allow-list (pickle_reduce.c)
 * are accepted: anything else, e.g. 'os.system', is an error. REDUCE / NEWOBJ
 * of an allowed global is interpreted for the few that matter (tensors,
 * OrderedDict, torch.Size, set, _codecs.encode) and otherwise gives an
 * opaque object that keeps its arguments and state.
 *
 * Every size is bounded (stack depth, memo, value count, memory); a
 * truncated or malformed pickle is an error naming the opcode and offset. */
#ifndef LOOM_PICKLE_H
#define LOOM_PICKLE_H

#include "arena.h"
#include "loom_base.h"

#define LOOM_PICKLE_MAX_STACK (1 << 20)   /* stack entries plus marks */
#define LOOM_PICKLE_MAX_VALUES (1 << 22)  /* values created */
#define LOOM_PICKLE_MAX_MEMORY (1ull << 30) /* arena bytes for the value tree */
#define LOOM_PICKLE_MAX_DIMS 8

typedef enum loom_pv_kind {
    LOOM_PV_NONE = 0,
    LOOM_PV_BOOL,
    LOOM_PV_INT,
    LOOM_PV_BIGINT,  /* an integer beyond int64: little-endian two's complement bytes in .str */
    LOOM_PV_FLOAT,
    LOOM_PV_STR,     /* UTF-8 in .str (may hold NUL bytes; always NUL-terminated too) */
    LOOM_PV_BYTES,   /* .str */
    LOOM_PV_TUPLE,   /* .seq */
    LOOM_PV_LIST,    /* .seq (also sets and frozensets) */
    LOOM_PV_DICT,    /* .dict, in insertion order, keys of any kind */
    LOOM_PV_GLOBAL,  /* .global: a reference to module.name, never resolved */
    LOOM_PV_STORAGE, /* .storage: a persistent id ('storage', class, key, location, numel) */
    LOOM_PV_TENSOR,  /* .tensor */
    LOOM_PV_OBJECT,  /* .object: an allowed class applied to arguments (opaque) */
    LOOM_PV_KIND_COUNT
} loom_pv_kind;

const char *loom_pv_kind_name(loom_pv_kind k);

typedef struct loom_pickle_value loom_pickle_value;

struct loom_pickle_value {
    loom_pv_kind kind;
    union {
        int b;
        int64_t i;
        double f;
        struct { const char *data; size_t len; } str;
        struct { loom_pickle_value **items; size_t n, cap; } seq;
        struct { loom_pickle_value **keys, **vals; size_t n, cap; } dict;
        struct { const char *module, *name; } global;
        struct {
            const char *key, *location;
            loom_dtype dtype;  /* from the storage class (UntypedStorage: u8) */
            uint64_t numel;    /* elements of dtype */
            const uint8_t *data; /* set by the container loader (torch_zip.c) */
        } storage;
        struct {
            loom_pickle_value *storage;
            loom_dtype dtype;  /* storage dtype, or the explicit one of _rebuild_tensor_v3 */
            int64_t offset;    /* in elements of dtype (addons.md §5.4) */
            int ndim;          /* 0..LOOM_PICKLE_MAX_DIMS */
            const int64_t *shape, *stride; /* ndim each; stride in elements */
            loom_pickle_value *next_tensor;       /* all tensors of one load, in creation order */
            const struct loom_tf_entry *entry;    /* set by the container loader */
        } tensor;
        struct {
            const loom_pickle_value *cls;   /* LOOM_PV_GLOBAL */
            loom_pickle_value *args;        /* tuple (NEWOBJ_EX: kwargs dropped) */
            loom_pickle_value *state;       /* from BUILD, or NULL */
            loom_pickle_value *items;       /* dict from SETITEM(S) on the object, or NULL */
            loom_pickle_value *list;        /* list from APPEND(S) on the object, or NULL */
        } object;
    } u;
};

typedef struct loom_pickle_result {
    loom_pickle_value *root;
    loom_pickle_value *tensors;  /* every tensor value, linked by u.tensor.next_tensor */
} loom_pickle_result;

/* Unpickles data[0..size). Values live in `arena`. `what` names the source in
 * messages ("model.ckpt: archive/data.pkl"). */
loom_status loom_pickle_load(const uint8_t *data, size_t size, loom_arena *arena, const char *what,
                             loom_pickle_result *out);

/* Lookups for readers of the tree (hypernetworks, embeddings). NULL when
 * absent or when `d` is not a dict. A dict keeps every pair it was given (a
 * pickler writes each key once); a repeated key finds the last pair, which is
 * what Python's dict would hold. */
const loom_pickle_value *loom_pv_get(const loom_pickle_value *d, const char *key);
const loom_pickle_value *loom_pv_get_int(const loom_pickle_value *d, int64_t key);
/* For an opaque object: its BUILD state, else NULL. */
const loom_pickle_value *loom_pv_state(const loom_pickle_value *obj);
/* 1 when v is a global module.name (e.g. "torch.nn.modules.container", "ParameterDict"). */
int loom_pv_is_global(const loom_pickle_value *v, const char *module, const char *name);

#endif
