/* safetensors.c — the safetensors container (addons.md §5.8).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the
 * data area. The JSON is parsed with jansson; every number in it is checked
 * against the file before it is used, and each tensor becomes a zero-copy view
 * into the mapping (tf->map.data).
 *
 * Alignment: the format only promises that the data area starts 8-aligned
 * (the reference writer pads the header with spaces and orders tensors by
 * dtype alignment); other writers may leave a tensor at any byte offset. We
 * keep such views as they are instead of copying: loom's CPU accessors read
 * elements with memcpy (loom_tensor_get) and uploads to the GPU are byte
 * copies, so an unaligned entry->data is legal for them. Code that casts
 * entry->data to a typed pointer must check alignment first. */
#include "tensor_file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A name from the file, made safe for a one-line message: control bytes become
 * '?', and very long names are cut with "...". */
typedef struct st_span {
    uint64_t begin, end;
    int index; /* into tf->tensors */
} st_span;

static int cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer ≥ 0, or -1 when the value is not one. */
static int64_t json_count(const json_t *v)
{
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    return i < 0 ? -1 : (int64_t)i;
}

/* Fills e->shape/stride/ndim/numel from the "shape" array. */
static loom_status parse_shape(const loom_tfile *tf, const char *name, const json_t *shape, loom_tf_entry *e)
{
    if (!json_is_array(shape))
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape is not an array", tf->path, name);
    size_t nd = json_array_size(shape);
    if (nd > LOOM_TF_MAX_DIMS)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape has %zu dims; loom reads at most %d", tf->path,
                         name, nd, LOOM_TF_MAX_DIMS);
    e->ndim = (int)nd;
    /* The product of the non-zero dims bounds every stride, so checking it
     * keeps the strides of an empty tensor such as [0, 2^40, 2^40] in range. */
    int64_t prod = 1;
    int has_zero = 0;
    for (int i = 0; i < e->ndim; i++) {
        int64_t d = json_count(json_array_get(shape, (size_t)i));
        if (d < 0)
            return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", tf->path,
                             name, i);
        e->shape[i] = d;
        if (d == 0) has_zero = 1;
        else if (prod > INT64_MAX / d)
            return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape is too large (element count overflows)",
                             tf->path, name);
        else prod *= d;
    }
    int64_t s = 1; /* row-major, in elements */
    for (int i = e->ndim - 1; i >= 0; i--) {
        e->stride[i] = s;
        if (e->shape[i]) s *= e->shape[i];
    }
    e->numel = has_zero ? 0 : (uint64_t)prod;
    return LOOM_OK;
}

/* One header entry → one loom_tf_entry. `data`/`data_size` describe the data area. */
static loom_status parse_entry(loom_tfile *tf, const char *key, const json_t *val, const uint8_t *data,
                               uint64_t data_size, loom_tf_entry *e, st_span *span)
{
    char nb[96];
    const char *name = loom_printable(key, nb, sizeof nb);
    if (!json_is_object(val))
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': entry is not an object", tf->path, name);
    const json_t *dtype = NULL, *shape = NULL, *offs = NULL;
    const char *field;
    json_t *v;
    /* Stricter than the reference reader, which ignores extra fields: a field
     * we do not know ("strides", "byteorder") could change what the bytes mean. */
    json_object_foreach((json_t *)val, field, v) {
        if (!strcmp(field, "dtype")) dtype = v;
        else if (!strcmp(field, "shape")) shape = v;
        else if (!strcmp(field, "data_offsets")) offs = v;
        else {
            char fb[64];
            return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': unknown field '%s'", tf->path, name,
                             loom_printable(field, fb, sizeof fb));
        }
    }
    const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing) return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': missing '%s'", tf->path, name, missing);

    if (!json_is_string(dtype))
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': dtype is not a string", tf->path, name);
    if (loom_dtype_from_st_name(json_string_value(dtype), &e->dtype) != 0) {
        char db[32];
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'", tf->path, name,
                         loom_printable(json_string_value(dtype), db, sizeof db));
    }
    LOOM_TRY(parse_shape(tf, name, shape, e));

    int64_t begin = -1, end = -1;
    if (json_is_array(offs) && json_array_size(offs) == 2) {
        begin = json_count(json_array_get(offs, 0));
        end = json_count(json_array_get(offs, 1));
    }
    if (begin < 0 || end < 0)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': data_offsets is not a pair of non-negative integers",
                         tf->path, name);
    if (begin > end)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': data_offsets begin %lld is after end %lld", tf->path,
                         name, (long long)begin, (long long)end);
    if ((uint64_t)end > data_size)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': data_offsets end %lld runs past the end of the data "
                         "area (%llu bytes)", tf->path, name, (long long)end, (unsigned long long)data_size);
    size_t esize = loom_dtype_size(e->dtype);
    /* numel ≤ INT64_MAX, but × 8 can still wrap a u64. */
    if (e->numel > UINT64_MAX / esize)
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': shape is too large (byte count overflows)", tf->path,
                         name);
    if (e->numel * esize != (uint64_t)(end - begin))
        return loom_fail(LOOM_E_FORMAT, "%s: tensor '%s': data_offsets span %lld bytes, but %llu elements of %s "
                         "need %llu", tf->path, name, (long long)(end - begin), (unsigned long long)e->numel,
                         loom_dtype_st_name(e->dtype), (unsigned long long)(e->numel * esize));
    e->data = e->numel ? data + begin : NULL;
    span->begin = (uint64_t)begin;
    span->end = (uint64_t)end;
    return LOOM_OK;
}

static loom_status parse_metadata(loom_tfile *tf, const json_t *md)
{
    if (!json_is_object(md)) return loom_fail(LOOM_E_FORMAT, "%s: __metadata__ is not an object", tf->path);
    size_t n = json_object_size(md);
    tf->meta = loom_arena_alloc(&tf->arena, (n ? n : 1) * sizeof *tf->meta);
    if (!tf->meta) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)md, key, v) {
        if (!json_is_string(v)) {
            char kb[96];
            return loom_fail(LOOM_E_FORMAT, "%s: __metadata__ value for '%s' is not a string", tf->path,
                             loom_printable(key, kb, sizeof kb));
        }
        loom_tf_meta *m = &tf->meta[tf->n_meta];
        m->key = loom_arena_strdup(&tf->arena, key);
        m->value = loom_arena_strdup(&tf->arena, json_string_value(v));
        if (!m->key || !m->value) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
        tf->n_meta++;
    }
    return LOOM_OK;
}

/* Sorted spans must not overlap. Gaps and trailing bytes are accepted, unlike
 * the reference reader (which demands that the spans tile the data area):
 * some third-party writers pad tensors to an alignment or leave slack at the
 * end, and a gap cannot make a view read outside the file. Empty tensors own
 * no bytes and take no part. */
static loom_status check_spans(loom_tfile *tf, st_span *sp, int n, uint64_t data_size)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (sp[i].end > sp[i].begin) sp[k++] = sp[i];
    qsort(sp, (size_t)k, sizeof *sp, cmp_span);
    uint64_t covered = 0;
    for (int i = 0; i < k; i++) {
        if (i > 0 && sp[i].begin < sp[i - 1].end) {
            char a[64], b[64];
            return loom_fail(LOOM_E_FORMAT, "%s: tensors '%s' and '%s' overlap in the data area (bytes %llu-%llu "
                             "and %llu-%llu)", tf->path, loom_printable(tf->tensors[sp[i - 1].index].name, a, sizeof a),
                             loom_printable(tf->tensors[sp[i].index].name, b, sizeof b),
                             (unsigned long long)sp[i - 1].begin, (unsigned long long)sp[i - 1].end,
                             (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end);
        }
        covered += sp[i].end - sp[i].begin;
    }
    if (covered != data_size)
        LOOM_DEBUG("%s: %llu of %llu data bytes belong to no tensor (padding)", tf->path,
                   (unsigned long long)(data_size - covered), (unsigned long long)data_size);
    return LOOM_OK;
}

/* Everything after json_loadb; `root` is freed by the caller. */
static loom_status parse_root(loom_tfile *tf, const json_t *root, const uint8_t *data, uint64_t data_size)
{
    if (!json_is_object(root)) return loom_fail(LOOM_E_FORMAT, "%s: header is not a JSON object", tf->path);
    const json_t *md = json_object_get(root, "__metadata__");
    size_t n = json_object_size(root) - (md != NULL);
    if (n > LOOM_TF_MAX_TENSORS)
        return loom_fail(LOOM_E_FORMAT, "%s: header lists %zu tensors; the limit is %d", tf->path, n,
                         LOOM_TF_MAX_TENSORS);
    if (md) LOOM_TRY(parse_metadata(tf, md));
    tf->tensors = loom_arena_alloc(&tf->arena, (n ? n : 1) * sizeof *tf->tensors);
    st_span *spans = malloc((n ? n : 1) * sizeof *spans);
    if (!tf->tensors || !spans) {
        free(spans);
        return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
    }
    loom_status s = LOOM_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        if (v == md) continue;
        loom_tf_entry *e = &tf->tensors[tf->n_tensors];
        s = parse_entry(tf, key, v, data, data_size, e, &spans[tf->n_tensors]);
        if (s != LOOM_OK) break;
        spans[tf->n_tensors].index = tf->n_tensors;
        e->name = loom_arena_strdup(&tf->arena, key);
        if (!e->name) {
            s = loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
            break;
        }
        tf->n_tensors++;
    }
    if (s == LOOM_OK) s = check_spans(tf, spans, tf->n_tensors, data_size);
    free(spans);
    return s;
}

loom_status loom_safetensors_parse(loom_tfile *tf)
{
    const uint8_t *d = tf->map.data;
    uint64_t size = tf->map.size;
    if (size < 8)
        return loom_fail(LOOM_E_FORMAT, "%s: file is %llu bytes, too short for a safetensors header (8 bytes "
                         "minimum)", tf->path, (unsigned long long)size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | d[i];
    if (hlen > LOOM_TF_MAX_HEADER)
        return loom_fail(LOOM_E_FORMAT, "%s: header length %llu exceeds the limit of %u bytes", tf->path,
                         (unsigned long long)hlen, LOOM_TF_MAX_HEADER);
    if (hlen > size - 8)
        return loom_fail(LOOM_E_FORMAT, "%s: header length %llu runs past the end of the file (size %llu)",
                         tf->path, (unsigned long long)hlen, (unsigned long long)size);

    /* Duplicate keys would silently hide a tensor; NULs inside strings stay
     * rejected (jansson's default) because names are C strings. jansson also
     * validates UTF-8 and caps nesting depth. */
    json_error_t err;
    json_t *root = json_loadb((const char *)d + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        char eb[160];
        return loom_fail(LOOM_E_FORMAT, "%s: header is not valid JSON: %s (at byte %d of the header)", tf->path,
                         loom_printable(err.text, eb, sizeof eb), err.position);
    }
    loom_status s = parse_root(tf, root, d + 8 + hlen, size - 8 - hlen);
    json_decref(root);
    return s;
}
