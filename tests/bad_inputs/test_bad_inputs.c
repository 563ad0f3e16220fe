/* test_bad_inputs.c — every file of the bad-input corpus gives a clean error.
 *
 * The corpus lives in tests/bad_inputs/, made by scripts/gen_bad_inputs_*.py;
 * each generator writes a manifest <name>.tsv with lines
 *     <file name> TAB <substring the error message must contain>
 * For each listed file this checks, for the library (loom_tfile_open) and for
 * the CLI (`loom inspect FILE`):
 *   - it fails (LOOM_OK is a failure; the CLI must exit 1, not crash);
 *   - the message is exactly one line and names the file;
 *   - the message says what is wrong (the manifest's substring).
 * It also checks the manifests and the folder agree, so no corpus file goes
 * untested. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#ifndef LOOM_BIN
#define LOOM_BIN "loom"
#endif

#define MAX_FILES 512

static char *listed[MAX_FILES];
static int n_listed;

static int is_listed(const char *name)
{
    for (int i = 0; i < n_listed; i++)
        if (!strcmp(listed[i], name)) return 1;
    return 0;
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return !nl || nl[1] == 0; /* a single trailing newline is fine */
}

static void check_file(const char *dir, const char *name, const char *want)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);

    /* library */
    loom_clear_error();
    loom_tfile *tf = NULL;
    loom_status s = loom_tfile_open(path, &tf);
    const char *msg = loom_last_error();
    T_CHECK(s != LOOM_OK, "%s: loom_tfile_open accepted a bad file", name);
    if (s == LOOM_OK) {
        loom_tfile_close(tf);
    } else {
        T_CHECK(one_line(msg), "%s: message is not one line: %s", name, msg);
        T_CHECK(strstr(msg, name) != NULL, "%s: message does not name the file: %s", name, msg);
        T_CHECK(strstr(msg, want) != NULL, "%s: message lacks '%s': %s", name, want, msg);
    }

    /* CLI */
    char cmd[8300], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s'", LOOM_BIN, path);
    int rc = t_run(cmd, out, sizeof out);
    T_CHECK(rc == 1, "%s: loom inspect exited %d (want 1): %s", name, rc, out);
    T_CHECK(one_line(out), "%s: loom inspect printed more than one line: %s", name, out);
    T_CHECK(strstr(out, name) != NULL, "%s: loom inspect's error does not name the file: %s", name, out);
    T_CHECK(strstr(out, want) != NULL, "%s: loom inspect's error lacks '%s': %s", name, want, out);
    printf("ok  %-40s %s", name, out);
}

static void run_manifest(const char *dir, const char *tsv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, tsv);
    FILE *f = fopen(path, "r");
    T_CHECK(f != NULL, "cannot open manifest %s", path);
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        T_CHECK(tab != NULL, "%s: line without a tab: %s", tsv, line);
        if (!tab) continue;
        *tab = 0;
        if (n_listed < MAX_FILES) listed[n_listed++] = strdup(line);
        check_file(dir, line, tab + 1);
    }
    fclose(f);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : LOOM_SRC_DIR "/tests/bad_inputs";
    DIR *d = opendir(dir);
    T_CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return t_finish("test_bad_inputs");
    struct dirent *e;
    char *names[MAX_FILES];
    int n = 0;
    while ((e = readdir(d)) && n < MAX_FILES)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        if (has_suffix(names[i], ".tsv")) run_manifest(dir, names[i]);
    for (int i = 0; i < n; i++) {
        if (has_suffix(names[i], ".tsv") || has_suffix(names[i], ".c") || has_suffix(names[i], ".cmake")) continue;
        T_CHECK(is_listed(names[i]), "%s is in the corpus but in no manifest", names[i]);
    }
    T_CHECK(n_listed >= 30, "the corpus lists only %d files", n_listed);
    for (int i = 0; i < n; i++) free(names[i]);
    for (int i = 0; i < n_listed; i++) free(listed[i]);
    return t_finish("test_bad_inputs");
}
