/* safetensors_write.c — see safetensors_write.h. */
#include "safetensors_write.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_write.h"

#define ST_CHUNK ((size_t)8 << 20) /* a multiple of every element size */

typedef struct st_order {
    int index;
    size_t esize;
    uint64_t bytes;
} st_order;

static int cmp_order(const void *a, const void *b)
{
    const st_order *x = a, *y = b;
    if (x->esize != y->esize) return x->esize > y->esize ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Byte size of a declaration, overflow-checked. */
static loom_status decl_bytes(const char *path, const loom_st_decl *d, uint64_t *out)
{
    if (d->ndim < 0 || d->ndim > LOOM_TF_MAX_DIMS)
        return loom_fail(LOOM_E_INVALID, "%s: tensor '%s' has %d dims (0..%d)", path, d->name, d->ndim,
                         LOOM_TF_MAX_DIMS);
    uint64_t b = loom_dtype_size(d->dtype);
    for (int i = 0; i < d->ndim; i++) {
        if (d->shape[i] < 0)
            return loom_fail(LOOM_E_INVALID, "%s: tensor '%s' has a negative extent", path, d->name);
        uint64_t e = (uint64_t)d->shape[i];
        if (e && b > UINT64_MAX / e) return loom_fail(LOOM_E_INVALID, "%s: tensor '%s' is too large", path, d->name);
        b *= e;
    }
    *out = b;
    return LOOM_OK;
}

static json_t *shape_json(const loom_st_decl *d)
{
    json_t *a = json_array();
    for (int i = 0; a && i < d->ndim; i++)
        if (json_array_append_new(a, json_integer((json_int_t)d->shape[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Header JSON (unpadded) for the tensors in data order; order[] gets each
 * tensor's size. *json is malloc'd. */
static loom_status build_header(const char *path, const loom_st_decl *decl, int n, const loom_tf_meta *meta,
                                int n_meta, st_order *order, char **json)
{
    json_t *root = json_object();
    if (!root) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    loom_status s = LOOM_OK;
    if (n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m) != 0)
            s = loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
        for (int i = 0; s == LOOM_OK && i < n_meta; i++) {
            if (!meta[i].key || !meta[i].value)
                s = loom_fail(LOOM_E_INVALID, "%s: metadata entry %d has no key or value", path, i);
            else if (json_object_get(m, meta[i].key))
                s = loom_fail(LOOM_E_INVALID, "%s: metadata key '%s' given twice", path, meta[i].key);
            else if (json_object_set_new(m, meta[i].key, json_string(meta[i].value)) != 0)
                s = loom_fail(LOOM_E_INVALID, "%s: metadata '%s' is not UTF-8 text", path, meta[i].key);
        }
    }
    uint64_t pos = 0;
    for (int k = 0; s == LOOM_OK && k < n; k++) {
        const loom_st_decl *d = &decl[order[k].index];
        /* "o" hands shape's reference to the entry, also when json_pack fails (jansson ≥ 2.11) */
        json_t *shape = shape_json(d);
        json_t *e = shape ? json_pack("{s:s, s:o, s:[I, I]}", "dtype", loom_dtype_st_name(d->dtype), "shape", shape,
                                      "data_offsets", (json_int_t)pos, (json_int_t)(pos + order[k].bytes))
                          : NULL;
        if (!e) {
            s = loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
        } else if (json_object_get(root, d->name)) {
            json_decref(e);
            s = loom_fail(LOOM_E_INVALID, "%s: tensor name '%s' given twice", path, d->name);
        } else if (json_object_set_new(root, d->name, e) != 0) {
            s = loom_fail(LOOM_E_INVALID, "%s: tensor name '%s' is not UTF-8 text", path, d->name);
        }
        pos += order[k].bytes;
    }
    if (s == LOOM_OK) {
        *json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!*json) s = loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    }
    json_decref(root);
    return s;
}

/* Checks the declarations and sorts them into data order (safetensors_write.h). */
static loom_status plan(const char *path, const loom_st_decl *decl, int n, st_order *order)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const loom_st_decl *d = &decl[i];
        if (!d->name || !d->name[0] || strcmp(d->name, "__metadata__") == 0)
            return loom_fail(LOOM_E_INVALID, "%s: tensor %d has an empty or reserved name", path, i);
        if ((unsigned)d->dtype >= LOOM_DTYPE_COUNT || !loom_dtype_st_name(d->dtype))
            return loom_fail(LOOM_E_INVALID, "%s: tensor '%s' has no safetensors dtype", path, d->name);
        order[i].index = i;
        order[i].esize = loom_dtype_size(d->dtype);
        LOOM_TRY(decl_bytes(path, d, &order[i].bytes));
        if (order[i].bytes > (uint64_t)INT64_MAX - total)
            return loom_fail(LOOM_E_INVALID, "%s: the tensors are too large together", path);
        total += order[i].bytes;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_order);
    return LOOM_OK;
}

static loom_status write_data(loom_atomic_file *f, const st_order *order, int n, loom_st_fill_fn fill, void *ctx,
                              uint8_t *buf)
{
    for (int k = 0; k < n; k++) {
        for (uint64_t off = 0; off < order[k].bytes;) {
            uint64_t left = order[k].bytes - off;
            size_t len = left < ST_CHUNK ? (size_t)left : ST_CHUNK;
            loom_status s = fill(ctx, order[k].index, off, buf, len);
            if (s != LOOM_OK) return loom_fail_wrap(s, "%s", f->path);
            LOOM_TRY(loom_atomic_write(f, buf, len));
            off += len;
        }
    }
    return LOOM_OK;
}

loom_status loom_safetensors_write(const char *path, const loom_st_decl *decl, int n, const loom_tf_meta *meta,
                                   int n_meta, loom_st_fill_fn fill, void *ctx)
{
    if (n < 0 || n > LOOM_TF_MAX_TENSORS || n_meta < 0 || (n > 0 && (!decl || !fill)) || (n_meta > 0 && !meta))
        return loom_fail(LOOM_E_INVALID, "%s: bad safetensors write request (%d tensors)", path, n);
    st_order *order = calloc((size_t)n + 1, sizeof *order);
    if (!order) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    char *json = NULL;
    uint8_t *buf = NULL;
    loom_atomic_file f;
    loom_status s = plan(path, decl, n, order);
    if (s == LOOM_OK) s = build_header(path, decl, n, meta, n_meta, order, &json);
    size_t len = json ? strlen(json) : 0, padded = (len + 7) / 8 * 8;
    if (s == LOOM_OK && padded > LOOM_TF_MAX_HEADER)
        s = loom_fail(LOOM_E_INVALID, "%s: header of %zu bytes is over loom's reading limit", path, padded);
    if (s == LOOM_OK && !(buf = malloc(ST_CHUNK > padded + 8 ? ST_CHUNK : padded + 8)))
        s = loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    if (s == LOOM_OK) s = loom_atomic_open(&f, path);
    if (s == LOOM_OK) {
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i)); /* u64 little-endian */
        memcpy(buf + 8, json, len);
        memset(buf + 8 + len, ' ', padded - len); /* the reference pads with spaces */
        s = loom_atomic_write(&f, buf, padded + 8);
        if (s == LOOM_OK) s = write_data(&f, order, n, fill, ctx, buf);
        if (s == LOOM_OK) s = loom_atomic_commit(&f);
        else loom_atomic_abort(&f);
    }
    free(buf);
    free(json);
    free(order);
    return s;
}

/* ---- in-memory tensors --------------------------------------------------- */

typedef struct mem_ctx {
    const loom_tensor *t;
} mem_ctx;

static loom_status fill_mem(void *ctx, int index, uint64_t offset, void *buf, size_t len)
{
    const loom_tensor *t = &((const mem_ctx *)ctx)->t[index];
    const size_t es = loom_dtype_size(t->dtype);
    const uint8_t *src = t->data;
    if (loom_tensor_is_contiguous(t)) {
        memcpy(buf, src + offset, len);
        return LOOM_OK;
    }
    int64_t k = (int64_t)(offset / es), end = (int64_t)((offset + len) / es);
    for (uint8_t *dst = buf; k < end; k++, dst += es) { /* logical row-major index → strided element */
        int64_t rem = k, at = 0;
        for (int d = t->ndim - 1; d >= 0; d--) {
            at += rem % t->shape[d] * t->stride[d];
            rem /= t->shape[d];
        }
        memcpy(dst, src + at * (int64_t)es, es);
    }
    return LOOM_OK;
}

loom_status loom_safetensors_write_tensors(const char *path, const char *const *names, const loom_tensor *tensors,
                                           int n, const loom_tf_meta *meta, int n_meta)
{
    if (n < 0 || n > 4096 || (n > 0 && (!names || !tensors)))
        return loom_fail(LOOM_E_INVALID, "%s: bad safetensors write request (%d tensors)", path, n);
    loom_st_decl *decl = calloc((size_t)n + 1, sizeof *decl);
    if (!decl) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    loom_status s = LOOM_OK;
    for (int i = 0; s == LOOM_OK && i < n; i++) {
        const loom_tensor *t = &tensors[i];
        if (t->device != LOOM_HOST || t->ndim < 0 || t->ndim > LOOM_MAX_DIMS || (!t->data && loom_tensor_numel(t)))
            s = loom_fail(LOOM_E_INVALID, "%s: tensor '%s' is not a host tensor", path, names[i] ? names[i] : "?");
        decl[i].name = names[i];
        decl[i].dtype = t->dtype;
        decl[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim && d < LOOM_MAX_DIMS; d++) decl[i].shape[d] = t->shape[d];
    }
    mem_ctx ctx = {tensors};
    if (s == LOOM_OK) s = loom_safetensors_write(path, decl, n, meta, n_meta, fill_mem, &ctx);
    free(decl);
    return s;
}
