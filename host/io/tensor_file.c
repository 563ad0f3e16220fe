/* tensor_file.c — container detection, lookup and ownership for loom_tfile.
 * The format parsers live in safetensors.c and torch_zip.c. */
#include "tensor_file.h"

#include <stdlib.h>
#include <string.h>

static const char *const format_names[] = {"safetensors", "torch zip"};
_Static_assert(sizeof format_names / sizeof format_names[0] == LOOM_TF_FORMAT_COUNT, "format table");

const char *loom_tf_format_name(loom_tf_format f)
{
    return (unsigned)f < LOOM_TF_FORMAT_COUNT ? format_names[f] : "?";
}

/* Which container is this? Detection by content, never by extension
 * (addons.md §5.1): people rename files. */
static loom_status detect(const loom_tfile *tf, loom_tf_format *fmt)
{
    const uint8_t *d = tf->map.data;
    uint64_t n = tf->map.size;
    if (n == 0) return loom_fail(LOOM_E_FORMAT, "%s: empty file", tf->path);
    if (n >= 4 && d[0] == 'P' && d[1] == 'K' && d[2] == 3 && d[3] == 4) {
        *fmt = LOOM_TF_TORCH_ZIP;
        return LOOM_OK;
    }
    /* safetensors before the pickle test: its first byte is the low byte of
     * the header length, which is 0x80 for one header size in 256. A legacy
     * torch file has pickle's magic number, never '{', at offset 8. */
    /* Bytes 4..7 of a real safetensors header length are zero (headers are
     * far below 4 GiB); such a file goes to the parser even when its JSON is
     * broken, so the user hears what is wrong with it rather than "unknown". */
    if ((n >= 9 && d[8] == '{') || (n >= 8 && (d[4] | d[5] | d[6] | d[7]) == 0)) {
        *fmt = LOOM_TF_SAFETENSORS;
        return LOOM_OK;
    }
    if (d[0] == 0x80)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: legacy (pre-1.6, non-zip) PyTorch format; re-save this file "
                         "with a recent PyTorch (torch.save(torch.load(f), f)) or convert it to .safetensors",
                         tf->path);
    if (n >= 262 && memcmp(d + 257, "ustar", 5) == 0)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: pre-0.4 PyTorch tar format; convert it to .safetensors with a "
                         "recent PyTorch", tf->path);
    if (n >= 4 && memcmp(d, "GGUF", 4) == 0)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: GGUF file; loom reads .safetensors and PyTorch .ckpt/.pt/.bin",
                         tf->path);
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return loom_fail(LOOM_E_FORMAT, "%s: this is a PNG image, not a model or adapter file", tf->path);
    return loom_fail(LOOM_E_FORMAT, "%s: unknown file type (expected .safetensors or a PyTorch zip "
                     ".ckpt/.pt/.bin)", tf->path);
}

/* The shared body of the two open functions: `map` is either mapped from
 * `path` (mem == NULL) or borrowed from the caller's buffer. */
static loom_status tfile_open(const char *path, const uint8_t *mem, size_t mem_size, loom_tfile **out)
{
    *out = NULL;
    loom_tfile *tf = calloc(1, sizeof *tf);
    if (!tf) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    loom_arena_init(&tf->arena, 0);
    tf->path = loom_arena_strdup(&tf->arena, path);
    if (!tf->path) {
        free(tf);
        return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    }
    loom_status s = LOOM_OK;
    if (mem) {
        tf->map.data = mem_size ? mem : NULL;
        tf->map.size = mem_size;
        tf->map.borrowed = 1;
    } else {
        s = loom_map_file(path, &tf->map);
    }
    tf->file_size = tf->map.size;
    if (s == LOOM_OK) s = detect(tf, &tf->format);
    if (s == LOOM_OK) {
        s = tf->format == LOOM_TF_SAFETENSORS ? loom_safetensors_parse(tf) : loom_torch_zip_parse(tf);
        if (s == LOOM_OK) s = loom_tfile_finish(tf);
    }
    if (s != LOOM_OK) {
        loom_tfile_close(tf);
        return s;
    }
    *out = tf;
    return LOOM_OK;
}

loom_status loom_tfile_open(const char *path, loom_tfile **out)
{
    return tfile_open(path, NULL, 0, out);
}

loom_status loom_tfile_open_memory(const char *name, const uint8_t *data, size_t size, loom_tfile **out)
{
    static const uint8_t empty[1];
    return tfile_open(name, data ? data : empty, data ? size : 0, out);
}

void loom_tfile_close(loom_tfile *tf)
{
    if (!tf) return;
    for (int i = 0; i < tf->n_owned; i++) free(tf->owned[i]);
    free(tf->owned);
    free(tf->sorted);
    loom_unmap_file(&tf->map);
    loom_arena_free(&tf->arena);
    free(tf);
}

loom_status loom_tfile_own(loom_tfile *tf, void *buf)
{
    if (tf->n_owned == tf->cap_owned) {
        int cap = tf->cap_owned ? tf->cap_owned * 2 : 16;
        void **p = realloc(tf->owned, (size_t)cap * sizeof *p);
        if (!p) {
            free(buf);
            return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
        }
        tf->owned = p;
        tf->cap_owned = cap;
    }
    tf->owned[tf->n_owned++] = buf;
    return LOOM_OK;
}

static const loom_tfile *sort_tf; /* qsort has no context argument in C11 */

static int cmp_index(const void *a, const void *b)
{
    return strcmp(sort_tf->tensors[*(const int *)a].name, sort_tf->tensors[*(const int *)b].name);
}

loom_status loom_tfile_finish(loom_tfile *tf)
{
    free(tf->sorted);
    tf->sorted = malloc((size_t)(tf->n_tensors ? tf->n_tensors : 1) * sizeof(int));
    if (!tf->sorted) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
    for (int i = 0; i < tf->n_tensors; i++) tf->sorted[i] = i;
    sort_tf = tf;
    qsort(tf->sorted, (size_t)tf->n_tensors, sizeof(int), cmp_index);
    sort_tf = NULL;
    for (int i = 1; i < tf->n_tensors; i++)
        if (!strcmp(tf->tensors[tf->sorted[i]].name, tf->tensors[tf->sorted[i - 1]].name))
            return loom_fail(LOOM_E_FORMAT, "%s: tensor name '%s' appears twice", tf->path,
                             tf->tensors[tf->sorted[i]].name);
    return LOOM_OK;
}

const loom_tf_entry *loom_tfile_find(const loom_tfile *tf, const char *name)
{
    int lo = 0, hi = tf->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const loom_tf_entry *e = &tf->tensors[tf->sorted[mid]];
        int c = strcmp(name, e->name);
        if (c == 0) return e;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *loom_tfile_meta(const loom_tfile *tf, const char *key)
{
    for (int i = 0; i < tf->n_meta; i++)
        if (!strcmp(tf->meta[i].key, key)) return tf->meta[i].value;
    return NULL;
}

loom_status loom_tfile_tensor(const loom_tfile *tf, const loom_tf_entry *e, loom_tensor *out)
{
    if (e->ndim > LOOM_MAX_DIMS)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: tensor '%s' has %d dims; loom handles at most %d", tf->path,
                         e->name, e->ndim, LOOM_MAX_DIMS);
    memset(out, 0, sizeof *out);
    out->data = (void *)e->data;
    out->dtype = e->dtype;
    out->device = LOOM_HOST;
    out->ndim = e->ndim;
    for (int i = 0; i < e->ndim; i++) {
        out->shape[i] = e->shape[i];
        out->stride[i] = e->stride[i];
    }
    return LOOM_OK;
}
