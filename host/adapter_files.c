/* adapter_files.c — `--lora-model-dir` listing and A1111's name lookup (adapter_files.h).
 *
 * A1111 (extensions-builtin/Lora/networks.py: list_available_networks) walks the folder, keys
 * every file by its name without extension and again by its alias (network.py: NetworkOnDisk,
 * alias = metadata ss_output_name, read from .safetensors only), later files overwriting
 * earlier ones. loom looks the name up among file names first, then among aliases, and calls a
 * tie an error instead of depending on walk order (adapters.md §3.4). */
#define _POSIX_C_SOURCE 200809L
#include "adapter_files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "tensor_file.h"

#define MAX_DEPTH 32        /* folder nesting followed; deeper is a link loop or hostile */
#define MAX_FILES 1000000
#define MAX_LISTED 4        /* candidates named in one error line */

typedef struct walk {
    loom_adapter_dir *d;
    int cap;
    dev_t dev[MAX_DEPTH + 1]; /* the folders on the current path, to stop at symlink cycles */
    ino_t ino[MAX_DEPTH + 1];
} walk;

static char *dup_str(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SIZE_MAX - lb - 2) return NULL;
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Python's os.path.splitext: the last dot, unless only dots precede it (".pt" has no extension).
 * Returns the extension's offset, or the length when there is none. */
static size_t ext_start(const char *f)
{
    const char *dot = strrchr(f, '.');
    if (!dot) return strlen(f);
    for (const char *p = f; p < dot; p++)
        if (*p != '.') return (size_t)(dot - f);
    return strlen(f);
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* A1111's allowed_extensions, compared lower-cased (modules/util.py: walk_files). */
static int adapter_ext(const char *e)
{
    return ieq(e, ".safetensors") || ieq(e, ".pt") || ieq(e, ".ckpt");
}

static loom_status add_file(walk *w, const char *path, const char *rel, const char *fname)
{
    loom_adapter_dir *d = w->d;
    if (d->n >= MAX_FILES) return loom_fail(LOOM_E_INVALID, "%s: more than %d adapter files", d->root, MAX_FILES);
    if (d->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        loom_adapter_dir_file *v = realloc(d->v, (size_t)cap * sizeof *v);
        if (!v) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", d->root);
        d->v = v;
        w->cap = cap;
    }
    loom_adapter_dir_file *f = &d->v[d->n];
    memset(f, 0, sizeof *f);
    f->path = dup_str(path, strlen(path));
    f->rel = dup_str(rel, strlen(rel));
    f->name = dup_str(fname, ext_start(fname));
    d->n++; /* counted before the check so that free releases what was allocated */
    if (!f->path || !f->rel || !f->name) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", d->root);
    return LOOM_OK;
}

static loom_status walk_dir(walk *w, const char *path, const char *rel, int depth)
{
    DIR *dir = opendir(path);
    if (!dir) {
        if (depth == 0) return loom_fail(LOOM_E_IO, "%s: cannot open adapter folder: %s", path, strerror(errno));
        LOOM_DEBUG("%s: skipped, cannot open: %s", path, strerror(errno));
        return LOOM_OK;
    }
    loom_status st = LOOM_OK;
    struct dirent *de;
    while (!st && (de = readdir(dir)) != NULL) {
        const char *fname = de->d_name;
        if (!strcmp(fname, ".") || !strcmp(fname, "..")) continue;
        char *full = join(path, fname);
        char *r = rel[0] ? join(rel, fname) : dup_str(fname, strlen(fname));
        struct stat sb;
        if (!full || !r) st = loom_fail(LOOM_E_NOMEM, "%s: out of memory", w->d->root);
        else if (stat(full, &sb) != 0) LOOM_DEBUG("%s: skipped: %s", full, strerror(errno)); /* dangling link */
        else if (S_ISDIR(sb.st_mode)) {
            int seen = depth >= MAX_DEPTH;
            for (int i = 0; i <= depth && !seen; i++) seen = w->dev[i] == sb.st_dev && w->ino[i] == sb.st_ino;
            if (seen) LOOM_DEBUG("%s: skipped (link loop or nested too deep)", full);
            else {
                w->dev[depth + 1] = sb.st_dev;
                w->ino[depth + 1] = sb.st_ino;
                st = walk_dir(w, full, r, depth + 1);
            }
        } else if (S_ISREG(sb.st_mode) && adapter_ext(fname + ext_start(fname)))
            st = add_file(w, full, r, fname);
        free(full);
        free(r);
    }
    closedir(dir);
    return st;
}

static int by_rel(const void *a, const void *b)
{
    return strcmp(((const loom_adapter_dir_file *)a)->rel, ((const loom_adapter_dir_file *)b)->rel);
}

void loom_adapter_dir_free(loom_adapter_dir *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        free(d->v[i].path);
        free(d->v[i].rel);
        free(d->v[i].name);
        free(d->v[i].alias);
    }
    free(d->v);
    free(d->root);
    memset(d, 0, sizeof *d);
}

loom_status loom_adapter_dir_scan(const char *root, loom_adapter_dir *out)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(root, &sb) != 0) return loom_fail(LOOM_E_IO, "%s: adapter folder: %s", root, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return loom_fail(LOOM_E_IO, "%s: adapter folder is not a folder", root);
    out->root = dup_str(root, strlen(root));
    if (!out->root) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", root);
    walk w = {.d = out};
    w.dev[0] = sb.st_dev;
    w.ino[0] = sb.st_ino;
    loom_status st = walk_dir(&w, root, "", 0);
    if (st) {
        loom_adapter_dir_free(out);
        return st;
    }
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, by_rel);
    return LOOM_OK;
}

/* network.py: the alias is read from .safetensors metadata only; a file whose header does not
 * parse just has no alias here (A1111 reports and carries on) — loading it will say why. */
static const char *alias_of(loom_adapter_dir_file *f)
{
    if (f->alias_read) return f->alias;
    f->alias_read = 1;
    if (!ieq(f->rel + ext_start(f->rel), ".safetensors")) return NULL;
    loom_tfile *tf = NULL;
    if (loom_tfile_open(f->path, &tf)) {
        LOOM_DEBUG("%s: no alias: %s", f->path, loom_last_error());
        loom_clear_error();
        return NULL;
    }
    const char *a = loom_tfile_meta(tf, "ss_output_name");
    if (a) f->alias = dup_str(a, strlen(a)); /* out of memory here only loses the alias */
    loom_tfile_close(tf);
    return f->alias;
}

/* Appends "a/x.pt, b/x.safetensors (alias y)" to buf, at most MAX_LISTED files, then "…". */
static void list_append(char *buf, size_t cap, int *listed, const loom_adapter_dir_file *f)
{
    size_t used = strlen(buf);
    if (*listed == MAX_LISTED) snprintf(buf + used, cap - used, ", ...");
    else if (*listed < MAX_LISTED) {
        int note = f->alias && strcmp(f->alias, f->name) != 0;
        snprintf(buf + used, cap - used, "%s%s%s%s%s", *listed ? ", " : "", f->rel, note ? " (alias " : "",
                 note ? f->alias : "", note ? ")" : "");
    }
    (*listed)++;
}

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n) return 0;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int same_but_case(loom_adapter_dir_file *f, const char *name)
{
    const char *a = alias_of(f);
    return ieq(f->name, name) || (a && ieq(a, name));
}

static int overlaps(loom_adapter_dir_file *f, const char *name)
{
    const char *a = alias_of(f);
    return icontains(f->name, name) || icontains(name, f->name) || (a && (icontains(a, name) || icontains(name, a)));
}

static loom_status not_found(loom_adapter_dir *d, const char *name)
{
    char list[1024] = "";
    int listed = 0;
    /* close names: equal but for case first (the usual slip), then names containing the other */
    for (int i = 0; i < d->n; i++)
        if (same_but_case(&d->v[i], name)) list_append(list, sizeof list, &listed, &d->v[i]);
    for (int i = 0; i < d->n; i++)
        if (!same_but_case(&d->v[i], name) && overlaps(&d->v[i], name))
            list_append(list, sizeof list, &listed, &d->v[i]);
    return loom_fail(LOOM_E_IO, "adapter '%s': no file or ss_output_name alias of that name in %s (%d files)%s%s",
                     name, d->root, d->n, listed ? "; close: " : "", list);
}

loom_status loom_adapter_dir_resolve(loom_adapter_dir *d, const char *name, const loom_adapter_dir_file **out)
{
    *out = NULL;
    for (int by_alias = 0; by_alias < 2; by_alias++) {
        int found = -1, count = 0;
        for (int i = 0; i < d->n; i++) {
            const char *key = by_alias ? alias_of(&d->v[i]) : d->v[i].name;
            if (key && !strcmp(key, name)) {
                if (!count++) found = i;
            }
        }
        if (count == 1) {
            *out = &d->v[found];
            return LOOM_OK;
        }
        if (count > 1) {
            char list[1024] = "";
            int listed = 0;
            for (int i = 0; i < d->n; i++) {
                const char *key = by_alias ? d->v[i].alias : d->v[i].name;
                if (key && !strcmp(key, name)) list_append(list, sizeof list, &listed, &d->v[i]);
            }
            return loom_fail(LOOM_E_INVALID, "adapter '%s' is ambiguous in %s: %d files %s: %s", name, d->root,
                             count, by_alias ? "have that ss_output_name alias" : "have that name", list);
        }
    }
    return not_found(d, name);
}

loom_status loom_adapter_file_identity(const char *path, loom_adapter_file_id *out)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return loom_fail(LOOM_E_IO, "%s: %s", path, strerror(errno));
    if (sb.st_size < 0) return loom_fail(LOOM_E_IO, "%s: negative file size", path);
    out->path = path;
    out->size = (uint64_t)sb.st_size;
    out->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + (int64_t)sb.st_mtim.tv_nsec;
    return LOOM_OK;
}
