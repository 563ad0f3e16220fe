/* hash_cache.c — see hash_cache.h. */
#define _XOPEN_SOURCE 700
#include "hash_cache.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_write.h"
#include "log.h"
#include "sha256.h"

static int cache_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) return snprintf(buf, n, "%s/loom", xdg) < (int)n;
    if (home && *home) return snprintf(buf, n, "%s/.cache/loom", home) < (int)n;
    return 0;
}

loom_status loom_file_sha256_cached(const char *path, char hex[65])
{
    struct stat st;
    if (stat(path, &st) != 0) return loom_fail(LOOM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    char abs[PATH_MAX];
    if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
    char dir[PATH_MAX], file[PATH_MAX + 32];
    int have_cache = cache_path(dir, sizeof dir);
    json_t *root = NULL;
    if (have_cache) {
        snprintf(file, sizeof file, "%s/hashes.json", dir);
        root = json_load_file(file, 0, NULL);
        if (root && !json_is_object(root)) {
            json_decref(root);
            root = NULL;
        }
        json_t *e = root ? json_object_get(root, abs) : NULL;
        const char *h = json_string_value(json_object_get(e, "sha256"));
        if (e && h && strlen(h) == 64 && json_integer_value(json_object_get(e, "size")) == (json_int_t)st.st_size &&
            json_integer_value(json_object_get(e, "mtime")) == (json_int_t)st.st_mtime) {
            memcpy(hex, h, 65);
            json_decref(root);
            return LOOM_OK;
        }
    }
    uint8_t d[LOOM_SHA256_BYTES];
    loom_status s = loom_sha256_file(path, 0, LOOM_SHA256_TO_EOF, d);
    if (s != LOOM_OK) {
        json_decref(root);
        return s;
    }
    loom_sha256_hex(d, LOOM_SHA256_BYTES, hex);
    if (have_cache) {
        if (!root) root = json_object();
        json_t *e = json_pack("{s:s, s:I, s:I}", "sha256", hex, "size", (json_int_t)st.st_size, "mtime",
                              (json_int_t)st.st_mtime);
        char *text = NULL;
        if (root && e && json_object_set_new(root, abs, e) == 0) text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
        /* best effort: a cache we cannot write only costs time */
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            mkdir(parent, 0755);
        }
        mkdir(dir, 0755);
        loom_atomic_file f;
        if (text && loom_atomic_open(&f, file) == LOOM_OK && loom_atomic_write(&f, text, strlen(text)) == LOOM_OK &&
            loom_atomic_commit(&f) == LOOM_OK)
            LOOM_DEBUG("hash cache: %s updated", file);
        else
            LOOM_DEBUG("hash cache: cannot write %s (%s)", file, loom_last_error());
        free(text);
    }
    json_decref(root);
    return LOOM_OK;
}
