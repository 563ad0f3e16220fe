/* tensor_file.h — one directory of named tensors, whatever the container:
 * safetensors (safetensors.c) or a PyTorch zip checkpoint (torch_zip.c).
 *
 * loom_tfile_open() looks at the first bytes and dispatches. Every offset,
 * size and count in the file is validated before use; a bad file gives one
 * error line naming the path and the problem (loom_last_error()).
 *
 * Tensor data are zero-copy views into the mapped file where the bytes are
 * stored raw and little-endian; otherwise (deflated zip entries, big-endian
 * torch files) the loader decodes them once into memory owned by the tfile. */
#ifndef LOOM_TENSOR_FILE_H
#define LOOM_TENSOR_FILE_H

#include "loom_base.h"
#include "arena.h"
#include "mapped_file.h"

#define LOOM_TF_MAX_DIMS 8

/* Sanity limits: beyond these a file is called hostile, not big. */
#define LOOM_TF_MAX_TENSORS 1000000
#define LOOM_TF_MAX_HEADER (100u * 1024u * 1024u) /* safetensors JSON header */

typedef enum loom_tf_format {
    LOOM_TF_SAFETENSORS = 0,
    LOOM_TF_TORCH_ZIP,
    LOOM_TF_FORMAT_COUNT
} loom_tf_format;

const char *loom_tf_format_name(loom_tf_format f);

typedef struct loom_tf_entry {
    const char *name;         /* full key, e.g. "model.diffusion_model.out.2.weight" */
    loom_dtype dtype;
    int ndim;                 /* 0..LOOM_TF_MAX_DIMS */
    int64_t shape[LOOM_TF_MAX_DIMS];
    int64_t stride[LOOM_TF_MAX_DIMS]; /* in elements; row-major for safetensors */
    const uint8_t *data;      /* element [0,…,0]; NULL only when numel == 0 */
    uint64_t numel;
} loom_tf_entry;

typedef struct loom_tf_meta {
    const char *key, *value;
} loom_tf_meta;

struct loom_pickle_value; /* host/io/pickle.h */

typedef struct loom_tfile {
    const char *path;
    loom_tf_format format;
    uint64_t file_size;

    int n_tensors;
    loom_tf_entry *tensors;   /* in file order */
    int *sorted;              /* indices of tensors sorted by name, for lookup */

    int n_meta;               /* safetensors __metadata__ (strings) */
    loom_tf_meta *meta;

    /* torch files: the whole unpickled object, for readers that need more
     * than the flat tensor list (hypernetworks, embeddings). NULL otherwise. */
    struct loom_pickle_value *pickle_root;

    /* owned storage */
    loom_arena arena;         /* names, entries, pickle values */
    loom_mapped_file map;
    void **owned;             /* decoded buffers, free()d on close */
    int n_owned, cap_owned;
} loom_tfile;

/* Opens and validates `path`. On failure *out is NULL and the message names the path. */
loom_status loom_tfile_open(const char *path, loom_tfile **out);
/* The same for a caller-owned buffer (fuzzing, tests, files read some other
 * way): nothing is mapped or copied, so `data` must outlive the tfile.
 * `name` stands in for the path in messages. */
loom_status loom_tfile_open_memory(const char *name, const uint8_t *data, size_t size, loom_tfile **out);
void loom_tfile_close(loom_tfile *tf);

/* NULL when absent. */
const loom_tf_entry *loom_tfile_find(const loom_tfile *tf, const char *name);
const char *loom_tfile_meta(const loom_tfile *tf, const char *key);

/* A loom_tensor view of an entry (host memory, strides kept). Fails for more
 * than LOOM_MAX_DIMS dims, naming the tensor. */
loom_status loom_tfile_tensor(const loom_tfile *tf, const loom_tf_entry *e, loom_tensor *out);

/* For the loaders: register a malloc'd buffer to be freed on close. */
loom_status loom_tfile_own(loom_tfile *tf, void *buf);
/* For the loaders: build the sorted index; fails on duplicate names. */
loom_status loom_tfile_finish(loom_tfile *tf);

/* Loader entry points, called by loom_tfile_open after mapping. They fill
 * tf->tensors / n_tensors / meta (allocated from tf->arena) and return an
 * error naming tf->path on any problem. */
loom_status loom_safetensors_parse(loom_tfile *tf);
loom_status loom_torch_zip_parse(loom_tfile *tf);

#endif
