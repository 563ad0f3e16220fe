/* json_file.c — see json_file.h. */
#define _POSIX_C_SOURCE 200809L
#include "json_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

loom_status loom_json_load_object(const char *path, json_t **root)
{
    *root = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return loom_fail(LOOM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return loom_fail(LOOM_E_IO, "%s: not a regular file", path);
    if ((unsigned long long)st.st_size > LOOM_JSON_FILE_MAX)
        return loom_fail(LOOM_E_FORMAT, "%s: %lld bytes is too big for a JSON config", path, (long long)st.st_size);
    json_error_t err;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        char buf[160];
        if (err.line < 1) return loom_fail(LOOM_E_IO, "%s: %s", path, loom_printable(err.text, buf, sizeof buf));
        return loom_fail(LOOM_E_FORMAT, "%s: line %d: %s", path, err.line, loom_printable(err.text, buf, sizeof buf));
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return loom_fail(LOOM_E_FORMAT, "%s: expected a JSON object", path);
    }
    *root = j;
    return LOOM_OK;
}
