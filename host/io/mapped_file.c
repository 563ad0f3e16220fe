/* mapped_file.c — see mapped_file.h. */
#define _POSIX_C_SOURCE 200809L
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

loom_status loom_map_file(const char *path, loom_mapped_file *out)
{
    out->data = NULL;
    out->size = 0;
    out->borrowed = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return loom_fail(LOOM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return loom_fail(LOOM_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return loom_fail(LOOM_E_IO, "%s: is a directory (for a diffusers model folder, pass the folder to -m; "
                                    "for a single file, pass the .safetensors/.ckpt file)", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return loom_fail(LOOM_E_IO, "%s: not a regular file", path);
    }
    out->size = (uint64_t)st.st_size;
    if (out->size == 0) {
        close(fd);
        return LOOM_OK;
    }
    void *p = mmap(NULL, (size_t)out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return loom_fail(LOOM_E_IO, "%s: cannot map: %s", path, strerror(e));
    out->data = p;
    return LOOM_OK;
}

void loom_unmap_file(loom_mapped_file *m)
{
    if (m->data && !m->borrowed) munmap((void *)m->data, (size_t)m->size);
    m->data = NULL;
    m->size = 0;
}
