/* pickle_reduce.c — what the object-making opcodes mean (addons.md §5.4–5.5).
 *
 * The allow-list below is a security boundary. Nothing is ever imported or
 * called; still, a checkpoint that names a global outside this list (an
 * exploit names os.system, builtins.eval, subprocess.Popen, …) is refused
 * outright, like torch.load(weights_only=True) does. The list holds what
 * torch.save and the SD tools write:
 *   - torch._utils tensor/parameter rebuilders, torch storage classes and
 *     dtypes, torch.Size, torch.device;
 *   - collections.OrderedDict, set/frozenset (builtins / __builtin__),
 *     _codecs.encode (protocol-2 bytes);
 *   - opaque training metadata: numpy scalars/dtypes/arrays, argparse.Namespace,
 *     torch.nn.modules.* (ParameterDict of original TI files, pickled modules),
 *     pytorch_lightning.* / lightning.* / lightning_fabric.* callbacks.
 * Deliberately absent: getattr, eval, exec, __import__, every other builtin,
 * functools, copyreg, os/posix/nt, subprocess, sys, importlib, io. */
#include "pickle_impl.h"

#include <string.h>

typedef enum gkind {
    G_OPAQUE = 0, /* any call gives an opaque object */
    G_TENSOR_V1,  /* _rebuild_tensor(storage, offset, size, stride) */
    G_TENSOR_V2,  /* _rebuild_tensor_v2(…, requires_grad, hooks[, metadata]) */
    G_TENSOR_V3,  /* _rebuild_tensor_v3(…, requires_grad, hooks, dtype[, metadata]) */
    G_PARAM,      /* _rebuild_parameter[_with_state](tensor, …) → the tensor */
    G_ODICT,
    G_SIZE,
    G_SET,
    G_ENCODE,
} gkind;

typedef struct allowed_global {
    const char *module, *name;
    gkind kind;
} allowed_global;

static const allowed_global allowed[] = {
    {"torch._utils", "_rebuild_tensor", G_TENSOR_V1},
    {"torch._utils", "_rebuild_tensor_v2", G_TENSOR_V2},
    {"torch._utils", "_rebuild_tensor_v3", G_TENSOR_V3},
    {"torch._utils", "_rebuild_parameter", G_PARAM},
    {"torch._utils", "_rebuild_parameter_with_state", G_PARAM},
    {"collections", "OrderedDict", G_ODICT},
    {"torch", "Size", G_SIZE},
    {"torch", "device", G_OPAQUE},
    {"torch.storage", "UntypedStorage", G_OPAQUE},
    {"builtins", "set", G_SET},
    {"builtins", "frozenset", G_SET},
    {"__builtin__", "set", G_SET},
    {"__builtin__", "frozenset", G_SET},
    {"_codecs", "encode", G_ENCODE},
    {"numpy", "dtype", G_OPAQUE},
    {"numpy", "ndarray", G_OPAQUE},
    {"numpy.core.multiarray", "scalar", G_OPAQUE},
    {"numpy.core.multiarray", "_reconstruct", G_OPAQUE},
    {"numpy._core.multiarray", "scalar", G_OPAQUE},
    {"numpy._core.multiarray", "_reconstruct", G_OPAQUE},
    {"argparse", "Namespace", G_OPAQUE},
};

/* Classes under these packages are opaque training metadata or whole
 * pickled modules; they are data, never behaviour, once nothing is called. */
static const char *const opaque_packages[] = {"torch.nn.modules.", "pytorch_lightning.", "lightning.",
                                              "lightning_fabric."};

typedef struct named_dtype {
    const char *name;
    int dtype; /* loom_dtype, or -1: known to torch but not supported by loom */
} named_dtype;

/* addons.md §5.4 (TORCH _get_dtype_from_pickle_storage_type). */
static const named_dtype storage_types[] = {
    {"FloatStorage", LOOM_F32},       {"HalfStorage", LOOM_F16},           {"BFloat16Storage", LOOM_BF16},
    {"DoubleStorage", LOOM_F64},      {"LongStorage", LOOM_I64},           {"IntStorage", LOOM_I32},
    {"ShortStorage", LOOM_I16},       {"CharStorage", LOOM_I8},            {"ByteStorage", LOOM_U8},
    {"BoolStorage", LOOM_BOOL},       {"UntypedStorage", LOOM_U8},         {"Float8_e4m3fnStorage", LOOM_F8_E4M3},
    {"Float8_e5m2Storage", LOOM_F8_E5M2}, {"ComplexFloatStorage", -1},     {"ComplexDoubleStorage", -1},
    {"QInt8Storage", -1},             {"QUInt8Storage", -1},               {"QInt32Storage", -1},
    {"QUInt4x2Storage", -1},          {"QUInt2x4Storage", -1},
};

/* torch dtypes by pickled name (a dtype pickles as GLOBAL torch.<name>);
 * _rebuild_tensor_v3 passes one for dtypes without a typed storage class. */
static const named_dtype torch_dtypes[] = {
    {"float32", LOOM_F32},  {"float16", LOOM_F16},  {"bfloat16", LOOM_BF16},   {"float64", LOOM_F64},
    {"int64", LOOM_I64},    {"int32", LOOM_I32},    {"int16", LOOM_I16},       {"int8", LOOM_I8},
    {"uint8", LOOM_U8},     {"bool", LOOM_BOOL},    {"uint16", LOOM_U16},      {"uint32", LOOM_U32},
    {"uint64", LOOM_U64},   {"float8_e4m3fn", LOOM_F8_E4M3}, {"float8_e5m2", LOOM_F8_E5M2},
    {"complex32", -1},      {"complex64", -1},      {"complex128", -1},        {"float8_e4m3fnuz", -1},
    {"float8_e5m2fnuz", -1}, {"float8_e8m0fnu", -1}, {"qint8", -1},            {"quint8", -1},
    {"qint32", -1},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const named_dtype *find_named(const named_dtype *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

/* The class of an allowed global; -1 when it is not allowed. */
static int classify(const char *module, const char *name)
{
    for (size_t i = 0; i < COUNT(allowed); i++)
        if (!strcmp(allowed[i].module, module) && !strcmp(allowed[i].name, name)) return (int)allowed[i].kind;
    if (!strcmp(module, "torch") &&
        (find_named(storage_types, COUNT(storage_types), name) || find_named(torch_dtypes, COUNT(torch_dtypes), name)))
        return G_OPAQUE;
    for (size_t i = 0; i < COUNT(opaque_packages); i++)
        if (!strncmp(module, opaque_packages[i], strlen(opaque_packages[i]))) return G_OPAQUE;
    return -1;
}

loom_status loom_pk_global(loom_pk *p, const char *module, const char *name, loom_pickle_value **out)
{
    if (classify(module, name) < 0) {
        char a[96], b[96];
        return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "unsupported pickle global '%s.%s' (not on loom's allow-list)",
                            loom_pk_shown(module, a, sizeof a), loom_pk_shown(name, b, sizeof b));
    }
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_GLOBAL);
    if (!v) return p->err;
    v->u.global.module = module;
    v->u.global.name = name;
    *out = v;
    return LOOM_OK;
}

static int is_int(const loom_pickle_value *v, int64_t min) { return v->kind == LOOM_PV_INT && v->u.i >= min; }

static int is_str(const loom_pickle_value *v, const char *s)
{
    return v->kind == LOOM_PV_STR && (!s || (strlen(s) == v->u.str.len && !memcmp(v->u.str.data, s, v->u.str.len)));
}

/* size and stride tuples of non-negative ints (torch.Size already became a tuple). */
static loom_status read_dims(loom_pk *p, const loom_pickle_value *t, const char *what, int64_t **out, int *ndim)
{
    if (t->kind != LOOM_PV_TUPLE) return loom_pk_fail(p, LOOM_E_FORMAT, "tensor %s is not a tuple", what);
    if (t->u.seq.n > LOOM_PICKLE_MAX_DIMS)
        return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "tensor has %zu dims (limit %d)", t->u.seq.n, LOOM_PICKLE_MAX_DIMS);
    *ndim = (int)t->u.seq.n;
    *out = NULL;
    if (!*ndim) return LOOM_OK;
    if (!(*out = loom_pk_alloc(p, (size_t)*ndim * sizeof **out))) return p->err;
    for (int i = 0; i < *ndim; i++) {
        const loom_pickle_value *d = t->u.seq.items[i];
        if (!is_int(d, 0)) return loom_pk_fail(p, LOOM_E_FORMAT, "tensor %s[%d] is not an int >= 0", what, i);
        (*out)[i] = d->u.i;
    }
    return LOOM_OK;
}

/* torch._utils._rebuild_tensor[_v2|_v3] (addons.md §5.4). Bounds against the
 * storage's bytes are checked by the container loader, which knows them. */
static loom_status make_tensor(loom_pk *p, gkind g, const loom_pickle_value *args, loom_pickle_value **out)
{
    size_t n = args->u.seq.n;
    loom_pickle_value *const *a = args->u.seq.items;
    int ok = g == G_TENSOR_V1 ? n == 4 : g == G_TENSOR_V2 ? (n == 6 || n == 7) : (n == 7 || n == 8);
    if (!ok) return loom_pk_fail(p, LOOM_E_FORMAT, "tensor rebuild with %zu arguments", n);
    if (a[0]->kind != LOOM_PV_STORAGE)
        return loom_pk_fail(p, LOOM_E_FORMAT, "tensor storage is a %s", loom_pv_kind_name(a[0]->kind));
    if (!is_int(a[1], 0)) return loom_pk_fail(p, LOOM_E_FORMAT, "tensor storage offset is not an int >= 0");
    loom_pickle_value *t = loom_pk_new(p, LOOM_PV_TENSOR);
    if (!t) return p->err;
    int64_t *shape, *stride;
    int nd_stride;
    LOOM_TRY(read_dims(p, a[2], "size", &shape, &t->u.tensor.ndim));
    LOOM_TRY(read_dims(p, a[3], "stride", &stride, &nd_stride));
    if (nd_stride != t->u.tensor.ndim)
        return loom_pk_fail(p, LOOM_E_FORMAT, "tensor has %d sizes but %d strides", t->u.tensor.ndim, nd_stride);
    t->u.tensor.storage = a[0];
    t->u.tensor.dtype = a[0]->u.storage.dtype;
    t->u.tensor.offset = a[1]->u.i;
    t->u.tensor.shape = shape;
    t->u.tensor.stride = stride;
    if (g == G_TENSOR_V3) {
        const loom_pickle_value *dt = a[6];
        const named_dtype *nd = dt->kind == LOOM_PV_GLOBAL && !strcmp(dt->u.global.module, "torch")
                                    ? find_named(torch_dtypes, COUNT(torch_dtypes), dt->u.global.name) : NULL;
        if (!nd) return loom_pk_fail(p, LOOM_E_FORMAT, "_rebuild_tensor_v3 dtype is not a torch dtype");
        if (nd->dtype < 0)
            return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "tensor dtype torch.%s is not supported", nd->name);
        t->u.tensor.dtype = (loom_dtype)nd->dtype;
    }
    if (p->tensors_tail) p->tensors_tail->u.tensor.next_tensor = t;
    else p->tensors = t;
    p->tensors_tail = t;
    *out = t;
    return LOOM_OK;
}

/* _codecs.encode(str, encoding): how protocol 2 writes a bytes object. The
 * str is UTF-8 here; 'latin1' maps each code point (< 256) to one byte. */
static loom_status encode_bytes(loom_pk *p, const loom_pickle_value *args, loom_pickle_value **out)
{
    loom_pickle_value *const *a = args->u.seq.items;
    if (args->u.seq.n != 2 || !is_str(a[0], NULL) || !is_str(a[1], NULL))
        return loom_pk_fail(p, LOOM_E_FORMAT, "_codecs.encode needs (str, encoding)");
    const unsigned char *s = (const unsigned char *)a[0]->u.str.data;
    size_t n = a[0]->u.str.len;
    if (is_str(a[1], "utf-8") || is_str(a[1], "utf8")) {
        *out = loom_pk_new_str(p, LOOM_PV_BYTES, (const char *)s, n);
        return *out ? LOOM_OK : p->err;
    }
    if (!is_str(a[1], "latin1") && !is_str(a[1], "latin-1"))
        return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "_codecs.encode with an encoding other than latin1/utf-8");
    loom_pickle_value *v = loom_pk_new_str(p, LOOM_PV_BYTES, (const char *)s, n); /* output ≤ input */
    if (!v) return p->err;
    char *o = (char *)(uintptr_t)v->u.str.data;
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        if (s[i] < 0x80) o[k] = (char)s[i++];
        else if ((s[i] & 0xFE) == 0xC2 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            o[k] = (char)((s[i] & 0x03) << 6 | (s[i + 1] & 0x3F)); /* U+0080..U+00FF */
            i += 2;
        } else return loom_pk_fail(p, LOOM_E_FORMAT, "_codecs.encode: text is not Latin-1");
    }
    o[k] = 0;
    v->u.str.len = k;
    *out = v;
    return LOOM_OK;
}

/* A new list or dict holding `src`'s items (set(list), OrderedDict(pairs)). */
static loom_status copy_items(loom_pk *p, const loom_pickle_value *args, int to_dict, loom_pickle_value **out)
{
    loom_pickle_value *r = loom_pk_new(p, to_dict ? LOOM_PV_DICT : LOOM_PV_LIST);
    if (!r) return p->err;
    *out = r;
    if (args->u.seq.n == 0) return LOOM_OK;
    const loom_pickle_value *src = args->u.seq.items[0];
    if (args->u.seq.n != 1 || (src->kind != LOOM_PV_LIST && src->kind != LOOM_PV_TUPLE))
        return loom_pk_fail(p, LOOM_E_FORMAT, "%s() needs one list or tuple argument", to_dict ? "OrderedDict" : "set");
    for (size_t i = 0; i < src->u.seq.n; i++) {
        loom_pickle_value *it = src->u.seq.items[i];
        if (!to_dict) {
            LOOM_TRY(loom_pk_seq_push(p, r, it));
            continue;
        }
        if ((it->kind != LOOM_PV_TUPLE && it->kind != LOOM_PV_LIST) || it->u.seq.n != 2)
            return loom_pk_fail(p, LOOM_E_FORMAT, "OrderedDict() item is not a (key, value) pair");
        LOOM_TRY(loom_pk_dict_set(p, r, it->u.seq.items[0], it->u.seq.items[1]));
    }
    return LOOM_OK;
}

loom_status loom_pk_reduce(loom_pk *p, loom_pickle_value *callable, loom_pickle_value *args, int newobj,
                           loom_pickle_value **out)
{
    const char *op = newobj ? "NEWOBJ" : "REDUCE";
    if (callable->kind != LOOM_PV_GLOBAL)
        return loom_pk_fail(p, LOOM_E_FORMAT, "%s of a %s (only allowed globals can be called)", op,
                            loom_pv_kind_name(callable->kind));
    if (args->kind != LOOM_PV_TUPLE)
        return loom_pk_fail(p, LOOM_E_FORMAT, "%s arguments are a %s, not a tuple", op, loom_pv_kind_name(args->kind));
    int g = classify(callable->u.global.module, callable->u.global.name);
    if (newobj && g != G_OPAQUE && g != G_ODICT && g != G_SET)
        return loom_pk_fail(p, LOOM_E_FORMAT, "NEWOBJ of the function %s.%s", callable->u.global.module,
                            callable->u.global.name);
    switch (g) {
    case G_TENSOR_V1: case G_TENSOR_V2: case G_TENSOR_V3: return make_tensor(p, (gkind)g, args, out);
    case G_PARAM: /* a Parameter is its tensor (addons.md §5.4) */
        if (args->u.seq.n < 3 || args->u.seq.n > 4 || args->u.seq.items[0]->kind != LOOM_PV_TENSOR)
            return loom_pk_fail(p, LOOM_E_FORMAT, "_rebuild_parameter needs a tensor");
        *out = args->u.seq.items[0];
        return LOOM_OK;
    case G_ODICT: return copy_items(p, args, 1, out);
    case G_SET: return copy_items(p, args, 0, out);
    case G_SIZE:
        if (args->u.seq.n != 1 || args->u.seq.items[0]->kind != LOOM_PV_TUPLE)
            return loom_pk_fail(p, LOOM_E_FORMAT, "torch.Size needs one tuple");
        *out = args->u.seq.items[0];
        return LOOM_OK;
    case G_ENCODE: return encode_bytes(p, args, out);
    default: {
        loom_pickle_value *o = loom_pk_new(p, LOOM_PV_OBJECT);
        if (!o) return p->err;
        o->u.object.cls = callable;
        o->u.object.args = args;
        *out = o;
        return LOOM_OK;
    }
    }
}

loom_status loom_pk_build(loom_pk *p, loom_pickle_value *obj, loom_pickle_value *state)
{
    switch (obj->kind) {
    case LOOM_PV_OBJECT: obj->u.object.state = state; return LOOM_OK;
    /* OrderedDict state {'_metadata': …} from nn.Module.state_dict(), or the
     * __dict__ of a tensor subclass: attributes loom has no use for (§5.4). */
    case LOOM_PV_DICT: case LOOM_PV_TENSOR: return LOOM_OK;
    default: return loom_pk_fail(p, LOOM_E_FORMAT, "BUILD on a %s", loom_pv_kind_name(obj->kind));
    }
}

/* ('storage', torch.XxxStorage, key, location, numel): zip format (§5.4). */
loom_status loom_pk_persid(loom_pk *p, loom_pickle_value *pid, loom_pickle_value **out)
{
    if (pid->kind == LOOM_PV_TUPLE && pid->u.seq.n == 6)
        return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "legacy (non-zip) storage reference in a zip checkpoint");
    loom_pickle_value *const *a = pid->u.seq.items;
    if (pid->kind != LOOM_PV_TUPLE || pid->u.seq.n != 5 || !is_str(a[0], "storage") || a[1]->kind != LOOM_PV_GLOBAL ||
        !is_str(a[2], NULL) || !is_str(a[3], NULL) || !is_int(a[4], 0))
        return loom_pk_fail(p, LOOM_E_FORMAT, "persistent id is not ('storage', class, key, location, numel)");
    const char *mod = a[1]->u.global.module, *name = a[1]->u.global.name;
    const named_dtype *st = !strcmp(mod, "torch") || !strcmp(mod, "torch.storage")
                                ? find_named(storage_types, COUNT(storage_types), name) : NULL;
    char ma[96], nb[96];
    if (!st || st->dtype < 0)
        return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "storage type %s.%s is not supported",
                            loom_pk_shown(mod, ma, sizeof ma), loom_pk_shown(name, nb, sizeof nb));
    if (a[2]->u.str.len == 0 || strlen(a[2]->u.str.data) != a[2]->u.str.len)
        return loom_pk_fail(p, LOOM_E_FORMAT, "storage key is empty or holds a NUL byte");
    loom_pickle_value *s = loom_pk_new(p, LOOM_PV_STORAGE);
    if (!s) return p->err;
    s->u.storage.key = a[2]->u.str.data;
    s->u.storage.location = a[3]->u.str.data;
    s->u.storage.dtype = (loom_dtype)st->dtype;
    s->u.storage.numel = (uint64_t)a[4]->u.i;
    *out = s;
    return LOOM_OK;
}
