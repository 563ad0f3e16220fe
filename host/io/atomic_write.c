/* atomic_write.c — see atomic_write.h. */
#define _POSIX_C_SOURCE 200809L
#include "atomic_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void release(loom_atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}

loom_status loom_atomic_open(loom_atomic_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp = malloc(n + 32);
    if (!f->path || !f->tmp) {
        release(f);
        return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->path, path, n + 1);
    snprintf(f->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f->fd < 0) {
        int err = errno;
        release(f);
        return loom_fail(LOOM_E_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return LOOM_OK;
}

/* Removes the temp file, frees f and reports `err` against the target path. */
static loom_status fail(loom_atomic_file *f, int err)
{
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    loom_status s = loom_fail(LOOM_E_IO, "%s: cannot write: %s", f->path, strerror(err));
    release(f);
    return s;
}

loom_status loom_atomic_write(loom_atomic_file *f, const void *data, size_t len)
{
    if (f->fd < 0) return loom_fail(LOOM_E_INVALID, "atomic write: file is not open");
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(f, w < 0 ? errno : EIO);
        p += w;
        len -= (size_t)w;
        f->written += (uint64_t)w;
    }
    return LOOM_OK;
}

loom_status loom_atomic_commit(loom_atomic_file *f)
{
    if (f->fd < 0) return loom_fail(LOOM_E_INVALID, "atomic write: file is not open");
    if (fsync(f->fd) != 0) return fail(f, errno);
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 || rename(f->tmp, f->path) != 0) return fail(f, errno);
    release(f);
    return LOOM_OK;
}

void loom_atomic_abort(loom_atomic_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        unlink(f->tmp);
    }
    release(f);
}
