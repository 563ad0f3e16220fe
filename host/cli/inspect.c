/* inspect.c — `loom inspect FILE... [--json] [-v]`: say what each file is.
 *
 * Exit status: 0 when every file was read, 1 when any could not be (one line
 * "loom inspect: FILE: problem" each, and nothing else printed for that
 * file), 2 on a usage error. The JSON fields are documented in inspect_json.c. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "inspect_report.h"
#include "log.h"

#define USAGE_LINE "usage: loom inspect FILE... [--json] [-v]\n"

static void usage(FILE *f)
{
    fprintf(f, USAGE_LINE
               "  say what a model, adapter or embedding file is: SD1.x / SD2.x / SDXL checkpoint and its\n"
               "  parts, LoRA / LoCon / LoHa / LoKr / (IA)3 / full / DoRA adapter, hypernetwork, textual-\n"
               "  inversion or aesthetic embedding; tensors, dtypes and size.\n"
               "  --json     one JSON object per file, one per line\n"
               "  -v         all metadata keys, not only the main ones\n");
}

static int inspect_one(const char *path, int json, int verbose)
{
    loom_tfile *tf = NULL;
    loom_model_info info;
    if (loom_tfile_open(path, &tf) != LOOM_OK || loom_model_detect(tf, &info) != LOOM_OK) {
        fprintf(stderr, "loom inspect: %s\n", loom_last_error());
        loom_tfile_close(tf);
        return 1;
    }
    int rc = 0;
    if (json) {
        json_t *o = loom_inspect_json(tf, &info, verbose);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (s) {
            printf("%s\n", s);
            free(s);
        } else {
            fprintf(stderr, "loom inspect: %s: out of memory writing JSON\n", path);
            rc = 1;
        }
        json_decref(o);
    } else {
        loom_inspect_print(stdout, tf, &info, verbose);
    }
    loom_tfile_close(tf);
    return rc;
}

int loom_cmd_inspect(int argc, char **argv)
{
    int json = 0, verbose = 0, n_files = 0, flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || !a[1]) n_files++;
        else if (!strcmp(a, "--")) flags_done = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
            loom_log_set_level(LOOM_LOG_DEBUG);
        }
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "loom inspect: unknown option '%s'; usage: loom inspect FILE... [--json] [-v]\n", a);
            return 2;
        }
    }
    if (!n_files) {
        fputs(USAGE_LINE, stderr);
        return 2;
    }
    int rc = 0;
    flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!flags_done && !strcmp(a, "--")) flags_done = 1;
        else if (flags_done || a[0] != '-' || !a[1]) rc |= inspect_one(a, json, verbose);
        fflush(stdout);
    }
    return rc;
}
