/* st_build.c — see st_build.h. */
#include "st_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

void st_init(st_build *b)
{
    memset(b, 0, sizeof *b);
    b->header = json_object();
}

void st_add(st_build *b, const char *name, loom_dtype dtype, int ndim, const int64_t *shape, const void *bytes)
{
    size_t n = loom_dtype_size(dtype);
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) {
        n *= (size_t)shape[i];
        json_array_append_new(sh, json_integer(shape[i]));
    }
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 1024;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            json_decref(sh);
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, bytes, n);
    json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", loom_dtype_st_name(dtype), "shape", sh, "data_offsets",
                          (json_int_t)b->len, (json_int_t)(b->len + n));
    if (!e || json_object_set_new(b->header, name, e) != 0) b->failed = 1;
    b->len += n;
}

void st_copy(st_build *b, const loom_tfile *src, st_rename_fn fn, void *ctx)
{
    for (int i = 0; i < src->n_tensors; i++) {
        const loom_tf_entry *e = &src->tensors[i];
        char buf[512];
        const char *name = fn ? fn(ctx, e->name, buf, sizeof buf) : e->name;
        if (name) st_add(b, name, e->dtype, e->ndim, e->shape, e->data);
    }
}

uint8_t *st_finish(st_build *b, size_t *size)
{
    char *hdr = b->failed ? NULL : json_dumps(b->header, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t *out = NULL;
    if (hdr) {
        const size_t hl = strlen(hdr);
        *size = 8 + hl + b->len;
        out = malloc(*size);
        if (out) {
            for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)hl >> (8 * i));
            memcpy(out + 8, hdr, hl);
            if (b->len) memcpy(out + 8 + hl, b->data, b->len);
        }
        free(hdr);
    }
    json_decref(b->header);
    free(b->data);
    memset(b, 0, sizeof *b);
    return out;
}

loom_tfile *st_open(st_build *b, const char *name, uint8_t **image)
{
    size_t size = 0;
    *image = st_finish(b, &size);
    loom_tfile *tf = NULL;
    T_CHECK(*image != NULL, "%s: could not build the safetensors image", name);
    if (*image) T_OK(loom_tfile_open_memory(name, *image, size, &tf));
    return tf;
}

static const char *drop_one(void *ctx, const char *name, char *buf, size_t n)
{
    (void)buf;
    (void)n;
    return strcmp(name, (const char *)ctx) == 0 ? NULL : name;
}

void st_copy_without(st_build *b, const loom_tfile *src, const char *key)
{
    st_copy(b, src, drop_one, (void *)key);
}

loom_tfile *st_open_replaced(const loom_tfile *src, const char *key, loom_dtype dtype, int ndim, const int64_t *shape,
                             const char *name, uint8_t **image)
{
    st_build b;
    st_init(&b);
    st_copy_without(&b, src, key);
    void *zeros = NULL;
    if (ndim) {
        loom_tensor t = loom_tensor_view(NULL, dtype, ndim, shape);
        zeros = calloc(loom_tensor_nbytes(&t) + 1, 1);
        st_add(&b, key, dtype, ndim, shape, zeros);
    }
    loom_tfile *tf = st_open(&b, name, image);
    free(zeros);
    return tf;
}
