/* atomic_write.h — streaming output that appears all at once or not at all.
 *
 * Bytes go to a temp file next to the target ("<path>.tmp.<pid>", same folder
 * so the final rename cannot cross file systems); commit fsyncs and renames
 * it over `path`; abort (or any failed write) removes it. A crash leaves at
 * most the temp file, never a partial `path`. loom_write_file_atomic
 * (png_write.h) is the one-buffer form of the same rule; this one is for
 * output too big to hold in memory (a 2.1 GB checkpoint). */
#ifndef LOOM_ATOMIC_WRITE_H
#define LOOM_ATOMIC_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

typedef struct loom_atomic_file {
    char *path, *tmp;
    int fd;         /* -1 once closed */
    uint64_t written;
} loom_atomic_file;

/* Creates the temp file. Fails naming `path` (e.g. its folder is missing). */
loom_status loom_atomic_open(loom_atomic_file *f, const char *path);
/* Appends; on failure the temp file is removed and f is closed. */
loom_status loom_atomic_write(loom_atomic_file *f, const void *data, size_t len);
/* fsync + rename to the target; on failure nothing is left at either name. */
loom_status loom_atomic_commit(loom_atomic_file *f);
/* Drops the temp file; safe on a closed or failed file, and twice. */
void loom_atomic_abort(loom_atomic_file *f);

#endif
