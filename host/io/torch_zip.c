/* torch_zip.c — PyTorch zip checkpoints: .ckpt / .pt / .bin written by
 * torch.save since torch 1.6 (addons.md §5.1–5.7).
 *
 * The archive holds <prefix>data.pkl (the object), <prefix>data/<key> (one raw
 * storage per key) and <prefix>byteorder. We unpickle data.pkl with the
 * restricted unpickler (pickle.h), point every tensor at its storage bytes —
 * zero-copy into the mapping when the record is stored and little-endian,
 * decoded once into memory owned by the tfile otherwise — and flatten nested
 * dicts, lists and tuples of tensors into '.'-joined names, the way
 * state_dict() keys read ("model.diffusion_model.out.2.weight"; int keys and
 * indices as decimal: a hypernetwork's {768: (sd_k, sd_v)} gives
 * "768.0.linear.0.weight"). A root dict with a 'state_dict' dict is unwrapped
 * first, like A1111's checkpoint loader. Tensors inside opaque objects (the
 * ParameterDict of original TI files) are not flattened but are resolved, so
 * readers of tf->pickle_root can use them. Strides stay as written
 * (non-contiguous views are allowed, §5.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"
#include "tensor_file.h"
#include "zip.h"

#define TORCH_MAX_PICKLE (256ull << 20) /* an SD checkpoint's data.pkl is well under 1 MiB */
#define TORCH_MAX_DEPTH 100             /* containers nested deeper are hostile (or cyclic) */
#define TORCH_MAX_VISITS (4ull * LOOM_PICKLE_MAX_VALUES) /* shared sub-trees can expand a walk */
#define TORCH_MAX_NAME 65536
_Static_assert(LOOM_PICKLE_MAX_DIMS <= LOOM_TF_MAX_DIMS, "dims");

typedef struct tz {
    loom_tfile *tf;
    loom_zip zip;
    const char *prefix; /* "archive/" */
    size_t prefix_len;
    int big_endian;
    /* flattening */
    char *name;
    size_t name_cap;
    uint64_t visits;
    int fill; /* 0: count entries, 1: fill tf->tensors */
} tz;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix) && (n == m || s[n - m - 1] == '/');
}

/* <prefix>data.pkl, where the prefix is empty or one top-level folder (§5.2). */
static loom_status find_pickle(tz *t, const loom_zip_entry **out)
{
    const char *path = t->tf->path;
    *out = NULL;
    for (int i = 0; i < t->zip.n_entries; i++) {
        const char *nm = t->zip.entries[i].name;
        if (ends_with(nm, "constants.pkl"))
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: this is a TorchScript archive (torch.jit.save), not a "
                             "checkpoint saved with torch.save; loom cannot read TorchScript", path);
        if (!ends_with(nm, "data.pkl")) continue;
        const char *slash = strchr(nm, '/');
        if (slash && slash != nm + strlen(nm) - strlen("/data.pkl")) continue; /* deeper than one folder */
        if (*out)
            return loom_fail(LOOM_E_FORMAT, "%s: zip archive holds more than one data.pkl record", path);
        *out = &t->zip.entries[i];
    }
    if (!*out)
        return loom_fail(LOOM_E_FORMAT, "%s: zip archive has no data.pkl record, so it is not a PyTorch "
                         "checkpoint", path);
    t->prefix_len = strlen((*out)->name) - strlen("data.pkl");
    t->prefix = loom_arena_strndup(&t->tf->arena, (*out)->name, t->prefix_len);
    return t->prefix ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
}

/* "<prefix><rel>" in a malloc'd buffer. */
static char *record_name(const tz *t, const char *rel1, const char *rel2)
{
    size_t a = strlen(rel1), b = strlen(rel2);
    char *s = malloc(t->prefix_len + a + b + 1);
    if (!s) return NULL;
    memcpy(s, t->prefix, t->prefix_len);
    memcpy(s + t->prefix_len, rel1, a);
    memcpy(s + t->prefix_len + a, rel2, b + 1);
    return s;
}

/* <prefix>byteorder: "little" or "big"; absent before torch 2.1 ⇒ little (§5.2). */
static loom_status read_byteorder(tz *t)
{
    char *nm = record_name(t, "byteorder", "");
    if (!nm) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", t->tf->path);
    const loom_zip_entry *e = loom_zip_find(&t->zip, nm);
    free(nm);
    if (!e) return LOOM_OK;
    const uint8_t *d;
    void *owned;
    LOOM_TRY(loom_zip_read(&t->zip, e, 16, 1, &d, &owned));
    int little = e->size == 6 && !memcmp(d, "little", 6), big = e->size == 3 && !memcmp(d, "big", 3);
    free(owned);
    if (!little && !big)
        return loom_fail(LOOM_E_FORMAT, "%s: byteorder record is neither 'little' nor 'big'", t->tf->path);
    t->big_endian = big;
    return LOOM_OK;
}

static void swap_bytes(uint8_t *p, uint64_t n, size_t esize)
{
    for (uint64_t i = 0; i + esize <= n; i += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            uint8_t c = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = c;
        }
}

/* The bytes of storage record data/<key>: numel × element size of them (§5.4). */
static loom_status load_storage(tz *t, const loom_pickle_value *st, const uint8_t **out)
{
    const char *path = t->tf->path, *key = st->u.storage.key;
    char sb[96];
    char *nm = record_name(t, "data/", key);
    if (!nm) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    const loom_zip_entry *e = loom_zip_find(&t->zip, nm);
    free(nm);
    if (!e)
        return loom_fail(LOOM_E_FORMAT, "%s: storage '%s' has no data/%s record in the archive", path,
                         loom_printable(key, sb, sizeof sb), loom_printable(key, sb, sizeof sb));
    size_t es = loom_dtype_size(st->u.storage.dtype);
    uint64_t numel = st->u.storage.numel;
    if (numel > UINT64_MAX / es || numel * es != e->size)
        return loom_fail(LOOM_E_FORMAT, "%s: storage '%s' has %llu elements of %s (%llu bytes) but its record "
                         "holds %llu bytes", path, loom_printable(key, sb, sizeof sb), (unsigned long long)numel,
                         loom_dtype_name(st->u.storage.dtype),
                         (unsigned long long)(numel <= UINT64_MAX / es ? numel * es : 0),
                         (unsigned long long)e->size);
    int swap = t->big_endian && es > 1;
    if (e->method == LOOM_ZIP_STORED && !swap) {
        *out = t->zip.data + e->data_offset; /* zero-copy view into the mapping */
        return LOOM_OK;
    }
    const uint8_t *d;
    void *owned;
    LOOM_TRY(loom_zip_read(&t->zip, e, UINT64_MAX, 1, &d, &owned));
    if (!owned) { /* stored big-endian: copy, then swap in place */
        if (e->size > SIZE_MAX - 1 || !(owned = malloc(e->size ? (size_t)e->size : 1)))
            return loom_fail(LOOM_E_NOMEM, "%s: cannot allocate %llu bytes for storage '%s'", path,
                             (unsigned long long)e->size, loom_printable(key, sb, sizeof sb));
        if (e->size) memcpy(owned, d, (size_t)e->size);
    }
    LOOM_TRY(loom_tfile_own(t->tf, owned));
    if (swap) swap_bytes(owned, e->size, es);
    *out = owned;
    return LOOM_OK;
}

static int cmp_storage(const void *a, const void *b)
{
    return strcmp((*(loom_pickle_value *const *)a)->u.storage.key, (*(loom_pickle_value *const *)b)->u.storage.key);
}

/* Loads each storage key once, however many tensors (views) use it. torch
 * can name one record with two storage types only when it holds no data
 * (serialization.py persistent_load); such a reference gets its own load,
 * which checks it against the record again. */
static loom_status load_storages(tz *t, loom_pickle_value *tensors)
{
    size_t n = 0;
    for (loom_pickle_value *v = tensors; v; v = v->u.tensor.next_tensor) n++;
    if (!n) return LOOM_OK;
    loom_pickle_value **st = malloc(n * sizeof *st);
    if (!st) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", t->tf->path);
    n = 0;
    for (loom_pickle_value *v = tensors; v; v = v->u.tensor.next_tensor) st[n++] = v->u.tensor.storage;
    qsort(st, n, sizeof *st, cmp_storage);
    loom_status s = LOOM_OK;
    for (size_t i = 0; i < n && s == LOOM_OK; i++) {
        const loom_pickle_value *prev = i ? st[i - 1] : NULL;
        if (prev && !strcmp(st[i]->u.storage.key, prev->u.storage.key) &&
            st[i]->u.storage.dtype == prev->u.storage.dtype && st[i]->u.storage.numel == prev->u.storage.numel)
            st[i]->u.storage.data = prev->u.storage.data;
        else
            s = load_storage(t, st[i], &st[i]->u.storage.data);
    }
    free(st);
    return s;
}

/* Checks a tensor's view against its storage (all in elements, §5.4) and
 * makes its directory entry. */
static loom_status make_entry(tz *t, loom_pickle_value *v, const char *name, loom_tf_entry *e)
{
    const char *path = t->tf->path;
    const loom_pickle_value *st = v->u.tensor.storage;
    char sb[128], kb[64];
    size_t es = loom_dtype_size(v->u.tensor.dtype);
    /* elements of the tensor's dtype the storage holds (v3 tensors view untyped bytes) */
    uint64_t cap = st->u.storage.numel * loom_dtype_size(st->u.storage.dtype) / es;
    int64_t numel = 1, last = v->u.tensor.offset;
    int overflow = 0;
    for (int i = 0; i < v->u.tensor.ndim; i++) {
        int64_t d = v->u.tensor.shape[i], s = v->u.tensor.stride[i];
        if (d == 0) numel = 0;
        else if (numel && numel > INT64_MAX / d) overflow = 1;
        else numel *= d;
        if (d > 0 && s > 0 && (d - 1 > (INT64_MAX - last) / s)) overflow = 1;
        else if (d > 0) last += (d - 1) * s;
    }
    if (overflow && numel)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape or strides overflow", path, loom_printable(name, sb, sizeof sb));
    if (numel ? (uint64_t)last >= cap : (uint64_t)v->u.tensor.offset > cap)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s' reaches element %lld of storage '%s', which holds %llu",
                         path, loom_printable(name, sb, sizeof sb), (long long)last, loom_printable(st->u.storage.key, kb, sizeof kb),
                         (unsigned long long)cap);
    memset(e, 0, sizeof *e);
    e->name = name;
    e->dtype = v->u.tensor.dtype;
    e->ndim = v->u.tensor.ndim;
    for (int i = 0; i < e->ndim; i++) {
        e->shape[i] = v->u.tensor.shape[i];
        e->stride[i] = v->u.tensor.stride[i];
    }
    e->numel = (uint64_t)numel;
    e->data = numel ? st->u.storage.data + (size_t)v->u.tensor.offset * es : NULL;
    return LOOM_OK;
}

/* ---- flattening into names -------------------------------------------------- */

static loom_status name_append(tz *t, size_t *len, const char *s, size_t n)
{
    size_t need = *len + (*len ? 1 : 0) + n + 1;
    if (need > TORCH_MAX_NAME)
        return loom_fail(LOOM_E_FORMAT, "%s: a tensor name is longer than %d bytes", t->tf->path, TORCH_MAX_NAME);
    if (need > t->name_cap) {
        size_t nc = t->name_cap ? t->name_cap : 256;
        while (nc < need) nc *= 2;
        char *b = realloc(t->name, nc);
        if (!b) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", t->tf->path);
        t->name = b;
        t->name_cap = nc;
    }
    if (*len) t->name[(*len)++] = '.';
    memcpy(t->name + *len, s, n);
    *len += n;
    t->name[*len] = 0;
    return LOOM_OK;
}

/* The text of a dict key in a name (Python's str() of it); 0 when it has none. */
static int key_text(const loom_pickle_value *k, char *buf, size_t n, const char **s, size_t *len)
{
    switch (k->kind) {
    case LOOM_PV_STR: *s = k->u.str.data; *len = k->u.str.len; return 1;
    case LOOM_PV_INT: *len = (size_t)snprintf(buf, n, "%lld", (long long)k->u.i); break;
    case LOOM_PV_BOOL: *len = (size_t)snprintf(buf, n, "%s", k->u.b ? "True" : "False"); break;
    case LOOM_PV_NONE: *len = (size_t)snprintf(buf, n, "None"); break;
    case LOOM_PV_FLOAT: *len = (size_t)snprintf(buf, n, "%.17g", k->u.f); break;
    default: return 0; /* tuple keys and the like: that sub-tree gets no names */
    }
    *s = buf;
    return 1;
}

static loom_status walk(tz *t, loom_pickle_value *v, size_t len, int depth)
{
    loom_tfile *tf = t->tf;
    if (++t->visits > TORCH_MAX_VISITS)
        return loom_fail(LOOM_E_FORMAT, "%s: pickled object graph is too large (shared containers expand past "
                         "%llu nodes)", tf->path, (unsigned long long)TORCH_MAX_VISITS);
    if (depth > TORCH_MAX_DEPTH)
        return loom_fail(LOOM_E_FORMAT, "%s: pickled containers are nested deeper than %d levels (or cyclic)",
                         tf->path, TORCH_MAX_DEPTH);
    char buf[40];
    const char *s;
    size_t n;
    if (v->kind == LOOM_PV_TENSOR) {
        if (!t->fill) {
            if (tf->n_tensors >= LOOM_TF_MAX_TENSORS)
                return loom_fail(LOOM_E_FORMAT, "%s: more than %d tensors", tf->path, LOOM_TF_MAX_TENSORS);
            tf->n_tensors++;
            return LOOM_OK;
        }
        const char *name = len ? t->name : "";
        if (strlen(name) != len)
            return loom_fail(LOOM_E_FORMAT, "%s: a tensor name holds a NUL byte", tf->path);
        char *copy = loom_arena_strndup(&tf->arena, name, len);
        if (!copy) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
        loom_tf_entry *e = &tf->tensors[tf->n_tensors];
        LOOM_TRY(make_entry(t, v, copy, e));
        tf->n_tensors++;
        if (!v->u.tensor.entry) v->u.tensor.entry = e;
        return LOOM_OK;
    }
    if (v->kind == LOOM_PV_DICT) {
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (!key_text(v->u.dict.keys[i], buf, sizeof buf, &s, &n)) continue;
            size_t l = len;
            LOOM_TRY(name_append(t, &l, s, n));
            LOOM_TRY(walk(t, v->u.dict.vals[i], l, depth + 1));
        }
    } else if (v->kind == LOOM_PV_LIST || v->kind == LOOM_PV_TUPLE) {
        for (size_t i = 0; i < v->u.seq.n; i++) {
            size_t l = len;
            LOOM_TRY(name_append(t, &l, buf, (size_t)snprintf(buf, sizeof buf, "%zu", i)));
            LOOM_TRY(walk(t, v->u.seq.items[i], l, depth + 1));
        }
    }
    return LOOM_OK;
}

static loom_status flatten(tz *t, loom_pickle_value *root)
{
    loom_tfile *tf = t->tf;
    for (t->fill = 0; t->fill < 2; t->fill++) {
        tf->n_tensors = 0;
        t->visits = 0;
        LOOM_TRY(walk(t, root, 0, 0));
        if (!t->fill) {
            size_t n = (size_t)(tf->n_tensors ? tf->n_tensors : 1);
            tf->tensors = loom_arena_alloc(&tf->arena, n * sizeof *tf->tensors);
            if (!tf->tensors) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
        }
    }
    return LOOM_OK;
}

/* Tensors that no name reaches (inside opaque objects) still get an entry,
 * so tree readers can use them. */
static loom_status resolve_unnamed(tz *t, loom_pickle_value *tensors)
{
    for (loom_pickle_value *v = tensors; v; v = v->u.tensor.next_tensor) {
        if (v->u.tensor.entry) continue;
        loom_tf_entry *e = loom_arena_alloc(&t->tf->arena, sizeof *e);
        if (!e) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", t->tf->path);
        LOOM_TRY(make_entry(t, v, "", e));
        v->u.tensor.entry = e;
    }
    return LOOM_OK;
}

static loom_status parse(tz *t)
{
    loom_tfile *tf = t->tf;
    LOOM_TRY(loom_zip_open(&t->zip, tf->path, tf->map.data, tf->map.size, &tf->arena));
    const loom_zip_entry *pkl;
    LOOM_TRY(find_pickle(t, &pkl));
    LOOM_TRY(read_byteorder(t));
    size_t wn = strlen(tf->path) + strlen(pkl->name) + 3;
    char *what = loom_arena_alloc(&tf->arena, wn);
    if (!what) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
    snprintf(what, wn, "%s: %s", tf->path, pkl->name);

    const uint8_t *d;
    void *owned;
    LOOM_TRY(loom_zip_read(&t->zip, pkl, TORCH_MAX_PICKLE, 1, &d, &owned));
    loom_pickle_result res;
    loom_status s = loom_pickle_load(d, (size_t)pkl->size, &tf->arena, what, &res);
    free(owned); /* the value tree holds copies of every string */
    LOOM_TRY(s);
    tf->pickle_root = res.root;

    LOOM_TRY(load_storages(t, res.tensors));
    loom_pickle_value *root = res.root;
    const loom_pickle_value *sd = loom_pv_get(root, "state_dict");
    if (sd && sd->kind == LOOM_PV_DICT) root = (loom_pickle_value *)(uintptr_t)sd; /* SD .ckpt (§5.7) */
    LOOM_TRY(flatten(t, root));
    return resolve_unnamed(t, res.tensors);
}

loom_status loom_torch_zip_parse(loom_tfile *tf)
{
    tz t;
    memset(&t, 0, sizeof t);
    t.tf = tf;
    loom_status s = parse(&t);
    free(t.name);
    return s;
}
