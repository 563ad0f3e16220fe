/* test_torch_zip.c — loom's PyTorch checkpoint reader against torch itself.
 *
 * scripts/gen_fixtures_torch.py saves small checkpoints with torch.save and
 * writes what torch.load reads back from them: torch_expected.json (names in
 * file order, dtype, shape, stride, storage offset and which storage each
 * tensor views; the typed value tree of some files and of raw pickles) and
 * torch_expected.safetensors (every reference tensor, contiguous). This test
 * opens each checkpoint with loom and compares:
 *   - the flattened directory: same names in the same order, dtypes, shapes,
 *     strides (as written: views stay views), every element bit for bit;
 *   - views of one storage point into the same bytes at their offsets;
 *   - stored little-endian records are zero-copy views of the mapping,
 *     deflated and big-endian ones are decoded copies;
 *   - the pickle value tree (hypernetwork int keys, tuples, floats, None,
 *     bools, the ParameterDict object of original TI files, Lightning fields);
 *   - raw pickles of every protocol 2–5 and hand-written ones for the text
 *     opcodes, and that every truncation of them is refused. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"
#include "testlib.h"

static loom_tfile *ref; /* torch_expected.safetensors */

/* The entry's elements in row-major order, honouring strides. */
static uint8_t *gather(const loom_tf_entry *e)
{
    size_t es = loom_dtype_size(e->dtype);
    uint8_t *out = malloc((size_t)e->numel * es + 1);
    for (uint64_t i = 0; i < e->numel; i++) {
        uint64_t r = i;
        int64_t off = 0;
        for (int d = e->ndim - 1; d >= 0; d--) {
            off += (int64_t)(r % (uint64_t)e->shape[d]) * e->stride[d];
            r /= (uint64_t)e->shape[d];
        }
        memcpy(out + i * es, e->data + (size_t)off * es, es);
    }
    return out;
}

/* Same dtype, shape and bytes as the reference tensor `key`. */
static void check_values(const loom_tf_entry *e, const char *key, const char *what)
{
    const loom_tf_entry *r = loom_tfile_find(ref, key);
    T_CHECK(r != NULL, "reference %s missing (%s)", key, what);
    if (!r) return;
    T_CHECK(e->dtype == r->dtype, "%s: dtype %s, torch says %s", what, loom_dtype_name(e->dtype),
            loom_dtype_name(r->dtype));
    T_CHECK(e->ndim == r->ndim && e->numel == r->numel, "%s: %d dims / %llu elements, torch says %d / %llu", what,
            e->ndim, (unsigned long long)e->numel, r->ndim, (unsigned long long)r->numel);
    if (e->dtype != r->dtype || e->numel != r->numel || e->ndim != r->ndim) return;
    for (int d = 0; d < e->ndim; d++) T_CHECK(e->shape[d] == r->shape[d], "%s: shape[%d]", what, d);
    uint8_t *got = gather(e);
    size_t nb = (size_t)e->numel * loom_dtype_size(e->dtype);
    T_CHECK(nb == 0 || !memcmp(got, r->data, nb), "%s: values differ from torch.load", what);
    free(got);
}

static int in_map(const loom_tfile *tf, const uint8_t *p)
{
    return p >= tf->map.data && p < tf->map.data + tf->map.size;
}

static void compare_tree(const loom_pickle_value *v, const json_t *j, const char *path);

static int hex_equal(const char *data, size_t len, const char *hex)
{
    if (strlen(hex) != 2 * len) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1 || b != (unsigned char)data[i]) return 0;
    }
    return 1;
}

static void compare_seq(const loom_pickle_value *v, const json_t *arr, const char *path)
{
    T_CHECK(v->u.seq.n == json_array_size(arr), "%s: %zu items, want %zu", path, v->u.seq.n, json_array_size(arr));
    for (size_t i = 0; i < v->u.seq.n && i < json_array_size(arr); i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        compare_tree(v->u.seq.items[i], json_array_get(arr, i), sub);
    }
}

/* v against the typed JSON written by the generator ({"int": 5}, {"dict": [[k, v], …]}, …). */
static void compare_tree(const loom_pickle_value *v, const json_t *j, const char *path)
{
    const char *tag = json_object_iter_key(json_object_iter((json_t *)j));
    const json_t *x = json_object_get(j, tag);
    loom_pv_kind want = !strcmp(tag, "none") ? LOOM_PV_NONE : !strcmp(tag, "bool") ? LOOM_PV_BOOL
                      : !strcmp(tag, "int") ? LOOM_PV_INT : !strcmp(tag, "bigint") ? LOOM_PV_BIGINT
                      : !strcmp(tag, "float") ? LOOM_PV_FLOAT : !strcmp(tag, "str") ? LOOM_PV_STR
                      : !strcmp(tag, "bytes") ? LOOM_PV_BYTES : !strcmp(tag, "tuple") ? LOOM_PV_TUPLE
                      : !strcmp(tag, "list") ? LOOM_PV_LIST : !strcmp(tag, "dict") ? LOOM_PV_DICT
                      : !strcmp(tag, "tensor") ? LOOM_PV_TENSOR : LOOM_PV_OBJECT;
    T_CHECK(v->kind == want, "%s: a %s, want %s", path, loom_pv_kind_name(v->kind), tag);
    if (v->kind != want) return;
    switch (want) {
    case LOOM_PV_BOOL: T_CHECK(v->u.b == json_is_true(x), "%s: bool", path); break;
    case LOOM_PV_INT: T_CHECK(v->u.i == json_integer_value(x), "%s: %lld, want %lld", path, (long long)v->u.i,
                              (long long)json_integer_value(x)); break;
    case LOOM_PV_FLOAT: T_CHECK(v->u.f == json_number_value(x), "%s: %.17g, want %.17g", path, v->u.f,
                                json_number_value(x)); break;
    case LOOM_PV_STR:
        T_CHECK(v->u.str.len == json_string_length(x) && !memcmp(v->u.str.data, json_string_value(x), v->u.str.len),
                "%s: '%s', want '%s'", path, v->u.str.data, json_string_value(x));
        break;
    case LOOM_PV_BIGINT: case LOOM_PV_BYTES:
        T_CHECK(hex_equal(v->u.str.data, v->u.str.len, json_string_value(x)), "%s: bytes differ", path);
        break;
    case LOOM_PV_TUPLE: case LOOM_PV_LIST: compare_seq(v, x, path); break;
    case LOOM_PV_DICT:
        T_CHECK(v->u.dict.n == json_array_size(x), "%s: %zu keys, want %zu", path, v->u.dict.n, json_array_size(x));
        for (size_t i = 0; i < v->u.dict.n && i < json_array_size(x); i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s{%zu}", path, i);
            compare_tree(v->u.dict.keys[i], json_array_get(json_array_get(x, i), 0), sub);
            compare_tree(v->u.dict.vals[i], json_array_get(json_array_get(x, i), 1), sub);
        }
        break;
    case LOOM_PV_TENSOR:
        T_CHECK(v->u.tensor.entry != NULL, "%s: tensor not resolved", path);
        if (v->u.tensor.entry) check_values(v->u.tensor.entry, json_string_value(x), path);
        break;
    case LOOM_PV_OBJECT: {
        char cls[256];
        snprintf(cls, sizeof cls, "%s.%s", v->u.object.cls->u.global.module, v->u.object.cls->u.global.name);
        T_CHECK(!strcmp(cls, json_string_value(x)), "%s: object of %s, want %s", path, cls, json_string_value(x));
        const loom_pickle_value *state = loom_pv_state(v);
        const json_t *items = json_object_get(j, "state_items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            const char *k = json_string_value(json_array_get(json_array_get(items, i), 0));
            const loom_pickle_value *sv = loom_pv_get(state, k);
            T_CHECK(sv != NULL, "%s: state has no '%s'", path, k);
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (sv) compare_tree(sv, json_array_get(json_array_get(items, i), 1), sub);
        }
        break;
    }
    default: break;
    }
}

static void check_file(const char *name, const json_t *exp)
{
    char rel[256];
    snprintf(rel, sizeof rel, "loader/%s", name);
    loom_tfile *tf = t_open_fixture(rel);
    if (!tf) return;
    T_CHECK(tf->format == LOOM_TF_TORCH_ZIP, "%s: format %s", name, loom_tf_format_name(tf->format));
    const json_t *list = json_object_get(exp, "tensors");
    size_t n = json_array_size(list);
    T_CHECK((size_t)tf->n_tensors == n, "%s: %d tensors, torch lists %zu", name, tf->n_tensors, n);
    int deflated = !strcmp(name, "pt_deflated.pt"), big = !strcmp(name, "pt_bigendian.pt");
    for (size_t i = 0; i < n && i < (size_t)tf->n_tensors; i++) {
        const json_t *t = json_array_get(list, i);
        const char *tname = json_string_value(json_object_get(t, "name"));
        const loom_tf_entry *e = &tf->tensors[i];
        char what[512];
        snprintf(what, sizeof what, "%s: '%s'", name, tname);
        T_CHECK(!strcmp(e->name, tname), "%s: entry %zu is '%s' (file order)", what, i, e->name);
        T_CHECK(loom_tfile_find(tf, tname) == e, "%s: lookup by name", what);
        loom_dtype dt;
        T_CHECK(loom_dtype_from_st_name(json_string_value(json_object_get(t, "dtype")), &dt) == 0 && dt == e->dtype,
                "%s: dtype %s", what, loom_dtype_name(e->dtype));
        const json_t *shape = json_object_get(t, "shape"), *stride = json_object_get(t, "stride");
        T_CHECK((size_t)e->ndim == json_array_size(shape), "%s: %d dims", what, e->ndim);
        for (int d = 0; d < e->ndim && d < (int)json_array_size(shape); d++) {
            T_CHECK(e->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)), "%s: shape[%d]", what, d);
            T_CHECK(e->stride[d] == json_integer_value(json_array_get(stride, (size_t)d)), "%s: stride[%d] = %lld",
                    what, d, (long long)e->stride[d]);
        }
        check_values(e, json_string_value(json_object_get(t, "ref")), what);
        if (!e->numel) continue;
        size_t es = loom_dtype_size(e->dtype);
        /* torch swaps by the storage's type (serialization.py load_tensor), and
         * _rebuild_tensor_v3 tensors (uint16/32/64, float8) view untyped bytes,
         * which it never swaps: torch.load is the reference, so loom does the same */
        int v3 = e->dtype == LOOM_U16 || e->dtype == LOOM_U32 || e->dtype == LOOM_U64;
        int copy = deflated || (big && es > 1 && !v3);
        T_CHECK(in_map(tf, e->data) == !copy, "%s: %s", what,
                copy ? "should be a decoded copy" : "should be zero-copy");
        /* views of one storage: same base address once their offsets are removed */
        const uint8_t *base = e->data - json_integer_value(json_object_get(t, "offset")) * (int64_t)es;
        for (size_t k = 0; k < i; k++) {
            const json_t *o = json_array_get(list, k);
            const loom_tf_entry *f = &tf->tensors[k];
            if (!f->numel || json_integer_value(json_object_get(o, "storage")) !=
                                 json_integer_value(json_object_get(t, "storage")))
                continue;
            T_CHECK(f->data - json_integer_value(json_object_get(o, "offset")) * (int64_t)es == base,
                    "%s and '%s' should view one storage", what, f->name);
        }
    }
    const json_t *tree = json_object_get(exp, "tree");
    if (tree) compare_tree(tf->pickle_root, tree, name);

    if (!strcmp(name, "pt_hypernet.pt")) { /* the reader API used by the hypernetwork loader */
        const loom_pickle_value *hn = loom_pv_get_int(tf->pickle_root, 768);
        T_CHECK(hn && hn->kind == LOOM_PV_TUPLE && hn->u.seq.n == 2, "hypernet: key 768 is not a pair");
        const loom_pickle_value *w = hn ? loom_pv_get(hn->u.seq.items[1], "linear.2.weight") : NULL;
        const loom_tf_entry *e = loom_tfile_find(tf, "768.1.linear.2.weight");
        T_CHECK(w && w->kind == LOOM_PV_TENSOR && e && w->u.tensor.entry && w->u.tensor.entry->data == e->data,
                "hypernet: tree tensor and directory entry differ");
        T_CHECK(loom_pv_get_int(tf->pickle_root, 1024) == NULL, "hypernet: absent width found");
    }
    if (!strcmp(name, "pt_ti_orig.pt")) {
        const loom_pickle_value *sp = loom_pv_get(tf->pickle_root, "string_to_param");
        T_CHECK(sp && sp->kind == LOOM_PV_OBJECT &&
                loom_pv_is_global(sp->u.object.cls, "torch.nn.modules.container", "ParameterDict"),
                "TI: string_to_param is not a ParameterDict object");
        const loom_pickle_value *star = loom_pv_get(loom_pv_get(loom_pv_state(sp), "_parameters"), "*");
        T_CHECK(star && star->kind == LOOM_PV_TENSOR && star->u.tensor.entry && star->u.tensor.entry->numel == 16,
                "TI: _parameters['*'] is not a resolved [2, 8] tensor");
    }
    loom_tfile_close(tf);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    T_CHECK(f != NULL, "cannot open %s", path);
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    T_CHECK(fread(b, 1, *n, f) == *n, "short read %s", path);
    fclose(f);
    return b;
}

static void check_pickle(const char *name, const json_t *tree)
{
    char rel[256];
    snprintf(rel, sizeof rel, "loader/%s", name);
    size_t n = 0;
    uint8_t *data = read_all(t_fixture(rel), &n);
    if (!data) return;
    loom_arena arena;
    loom_arena_init(&arena, 0);
    loom_pickle_result res;
    T_OK(loom_pickle_load(data, n, &arena, name, &res));
    if (res.root) compare_tree(res.root, tree, name);
    const loom_pickle_value *shared = loom_pv_get(res.root, "shared");
    if (shared) /* memo references are shared objects, not copies */
        T_CHECK(shared->kind == LOOM_PV_LIST && shared->u.seq.n == 2 &&
                    shared->u.seq.items[0] == shared->u.seq.items[1],
                "%s: memoised list was copied", name);
    loom_arena_free(&arena);

    /* every strict prefix is a truncated pickle: refused, never read past */
    size_t step = n > 4000 ? 13 : 1;
    int refused = 0, tried = 0;
    for (size_t k = 0; k < n; k += step) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, data, k);
        loom_arena_init(&arena, 0);
        loom_status s = loom_pickle_load(cut, k, &arena, name, &res);
        refused += s != LOOM_OK && strstr(loom_last_error(), name) && !strchr(loom_last_error(), '\n');
        tried++;
        loom_arena_free(&arena);
        free(cut);
    }
    T_CHECK(refused == tried, "%s: %d of %d truncations accepted or badly reported", name, tried - refused, tried);
    free(data);
}

int main(void)
{
    json_error_t err;
    json_t *exp = json_load_file(t_fixture("loader/torch_expected.json"), 0, &err);
    T_CHECK(exp != NULL, "torch_expected.json: %s (run scripts/gen_fixtures_torch.py)", err.text);
    ref = t_open_fixture("loader/torch_expected.safetensors");
    if (!exp || !ref) return t_finish("test_torch_zip");
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(exp, "files"), key, v) check_file(key, v);
    json_object_foreach(json_object_get(exp, "pickles"), key, v) check_pickle(key, v);
    T_CHECK(json_object_size(json_object_get(exp, "files")) >= 11 &&
                json_object_size(json_object_get(exp, "pickles")) >= 8,
            "expected-value file lists too few fixtures");
    loom_tfile_close(ref);
    json_decref(exp);
    return t_finish("test_torch_zip");
}
