/* mapped_file.h — a whole file mapped read-only (zero-copy tensor views). */
#ifndef LOOM_MAPPED_FILE_H
#define LOOM_MAPPED_FILE_H

#include "loom_base.h"

typedef struct loom_mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    uint64_t size;
    int borrowed;        /* 1: a caller-owned buffer (loom_tfile_open_memory), never unmapped */
} loom_mapped_file;

/* Errors name the path: "model.ckpt: cannot open: No such file or directory".
 * A directory is refused with a hint. */
loom_status loom_map_file(const char *path, loom_mapped_file *out);
void loom_unmap_file(loom_mapped_file *m);

#endif
