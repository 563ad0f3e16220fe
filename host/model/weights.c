/* weights.c — see weights.h. */
#include "weights.h"

#include <string.h>

#include "tensor_alloc.h"

void loom_weights_init(loom_weights *w, loom_backend backend)
{
    memset(w, 0, sizeof *w);
    w->backend = backend;
    w->dtype = loom_backend_ops(backend)->dtype;
}

loom_status loom_weights_set_dtype(loom_weights *w, loom_dtype dtype)
{
    if (w->backend == LOOM_BACKEND_CPU ? dtype != LOOM_F32 : dtype != LOOM_F16 && dtype != LOOM_BF16)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s weights on the %s backend (it stores %s)", loom_dtype_name(dtype),
                         loom_backend_name(w->backend), w->backend == LOOM_BACKEND_CPU ? "f32" : "f16 or bf16");
    w->dtype = dtype;
    return LOOM_OK;
}

loom_status loom_weights_add(loom_weights *w, const loom_tfile *tf, loom_key_map_fn map, void *map_ctx)
{
    if (w->n_sources == LOOM_WEIGHTS_MAX_SOURCES)
        return loom_fail(LOOM_E_INVALID, "too many weight files (at most %d)", LOOM_WEIGHTS_MAX_SOURCES);
    w->sources[w->n_sources++] = (loom_weight_source){tf, map, map_ctx};
    return LOOM_OK;
}

const char *loom_key_map_strip(void *ctx, const char *ldm_key, char *buf, size_t buf_len)
{
    const char *prefix = ctx;
    size_t n = strlen(prefix);
    (void)buf;
    (void)buf_len;
    return strncmp(ldm_key, prefix, n) == 0 ? ldm_key + n : NULL;
}

/* The entry holding `key` and its file, or NULL. */
static const loom_tf_entry *find(const loom_weights *w, const char *key, const loom_tfile **tf)
{
    char buf[512];
    for (int i = 0; i < w->n_sources; i++) {
        const loom_weight_source *s = &w->sources[i];
        const char *name = s->map ? s->map(s->map_ctx, key, buf, sizeof buf) : key;
        if (!name) continue;
        const loom_tf_entry *e = loom_tfile_find(s->tf, name);
        if (e) {
            *tf = s->tf;
            return e;
        }
    }
    return NULL;
}

static loom_status missing(const loom_weights *w, const char *key)
{
    if (!w->n_sources) return loom_fail(LOOM_E_FORMAT, "(no file): missing tensor '%s'", key);
    /* A renamed source (a diffusers folder) is told by the name it was searched for, with the LDM key. */
    const loom_weight_source *s = &w->sources[0];
    char buf[512];
    const char *name = s->map ? s->map(s->map_ctx, key, buf, sizeof buf) : NULL;
    if (name && strcmp(name, key) != 0)
        return loom_fail(LOOM_E_FORMAT, "%s: missing tensor '%s' (%s)", s->tf->path, name, key);
    return loom_fail(LOOM_E_FORMAT, "%s: missing tensor '%s'", s->tf->path, key);
}

int loom_weights_has(const loom_weights *w, const char *key)
{
    const loom_tfile *tf;
    return find(w, key, &tf) != NULL;
}

const char *loom_weights_path(const loom_weights *w, const char *key)
{
    const loom_tfile *tf;
    if (find(w, key, &tf)) return tf->path;
    return w->n_sources ? w->sources[0].tf->path : "(no file)";
}

loom_status loom_weights_shape(const loom_weights *w, const char *key, int *ndim, int64_t shape[LOOM_MAX_DIMS])
{
    const loom_tfile *tf;
    const loom_tf_entry *e = find(w, key, &tf);
    if (!e) return missing(w, key);
    if (e->ndim > LOOM_MAX_DIMS)
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' has %d dims", tf->path, e->name, e->ndim);
    *ndim = e->ndim;
    for (int i = 0; i < e->ndim; i++) shape[i] = e->shape[i];
    return LOOM_OK;
}

loom_status loom_weights_get(loom_weights *w, const char *key, loom_weight_kind kind, int ndim, const int64_t *want,
                             loom_tensor *out)
{
    memset(out, 0, sizeof *out);
    const loom_tfile *tf;
    const loom_tf_entry *e = find(w, key, &tf);
    if (!e) return missing(w, key);
    loom_tensor src;
    LOOM_TRY(loom_tfile_tensor(tf, e, &src));
    if (!loom_dtype_is_float(src.dtype))
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' is %s, expected a float tensor", tf->path, e->name,
                         loom_dtype_name(src.dtype));
    if (want) {
        int ok = src.ndim == ndim;
        for (int i = 0; ok && i < ndim; i++) ok = want[i] < 0 || want[i] == src.shape[i];
        if (!ok) {
            char a[96], b[96];
            loom_tensor wt = loom_tensor_view(NULL, LOOM_F32, ndim, want);
            return loom_fail(LOOM_E_FORMAT, "%s: '%s' is %s, expected %s", tf->path, e->name,
                             loom_shape_str(&src, a, sizeof a), loom_shape_str(&wt, b, sizeof b));
        }
    }
    if (kind == LOOM_W_CONV && src.ndim != 4)
        return loom_fail(LOOM_E_FORMAT, "%s: '%s' should be a 4-D conv weight", tf->path, e->name);
    int64_t shape[LOOM_MAX_DIMS];
    for (int i = 0; i < src.ndim; i++) shape[i] = src.shape[i];
    if (kind == LOOM_W_CONV) { /* [O, I, kh, kw] → [O, kh, kw, I] */
        shape[1] = src.shape[2];
        shape[2] = src.shape[3];
        shape[3] = src.shape[1];
    }
    LOOM_TRY(loom_tensor_alloc(LOOM_HOST, LOOM_F32, src.ndim, shape, out));
    if (kind == LOOM_W_CONV) {
        /* gather through a permuted view of the source: element (o, y, x, i) is src (o, i, y, x) */
        loom_tensor perm = src;
        perm.shape[1] = src.shape[2]; perm.stride[1] = src.stride[2];
        perm.shape[2] = src.shape[3]; perm.stride[2] = src.stride[3];
        perm.shape[3] = src.shape[1]; perm.stride[3] = src.stride[1];
        src = perm;
    }
    loom_status s = loom_tensor_to_f32(&src, out->data);
    if (s != LOOM_OK) {
        loom_tensor_free(out);
        return s;
    }
    if (w->backend != LOOM_BACKEND_CPU && kind != LOOM_W_HOST) {
        /* the backend's copy: f16 or bf16 on the GPU, converted there (backend.h); the host f32 goes */
        const loom_ops *ops = loom_backend_ops(w->backend);
        const size_t n = (size_t)loom_tensor_numel(out);
        loom_tensor dev;
        s = loom_tensor_alloc(ops->device, w->dtype, out->ndim, out->shape, &dev);
        if (s == LOOM_OK) {
            s = w->dtype == LOOM_F16    ? loom_device_upload_f32_as_f16(dev.data, out->data, n)
                : w->dtype == LOOM_BF16 ? loom_device_upload_f32_as_bf16(dev.data, out->data, n)
                                        : loom_fail(LOOM_E_UNSUPPORTED, "weights: %s storage on the %s backend",
                                                    loom_dtype_name(w->dtype), loom_backend_name(w->backend));
            if (s != LOOM_OK) loom_tensor_free(&dev);
        }
        loom_tensor_free(out);
        if (s != LOOM_OK) return loom_fail_wrap(s, "%s: uploading '%s'", tf->path, e->name);
        *out = dev;
    }
    w->bytes_loaded += loom_tensor_nbytes(out);
    return LOOM_OK;
}
