/* make_checkpoint.c — `loom make-checkpoint --preset demo|sd15 [--seed N] OUT`:
 * an SD1.x single-file checkpoint with random weights (sd1_layout.h), fp16
 * safetensors. The demo preset gives the README's command a model to run
 * when the user has none; sd15 gives the tests a full-size file with real key
 * names and shapes without committing 2.1 GB. Random weights render noise:
 * __metadata__ says so. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sd1_layout.h"

#define USAGE_LINE "usage: loom make-checkpoint --preset demo|sd15 [--seed N] OUT.safetensors\n"

static void usage(FILE *f)
{
    fprintf(f, USAGE_LINE
               "  write an SD1.x checkpoint (real key names and shapes, fp16 safetensors) with random\n"
               "  weights: it loads and runs like a real model and renders noise.\n"
               "  --preset demo   a small model of SD1.x's structure (about 16 MB)\n"
               "  --preset sd15   SD1.5's full size (2.1 GB)\n"
               "  --seed N        the weights' seed, 0..2^64-1 (default 0)\n");
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+') {
        fprintf(stderr, "loom make-checkpoint: --seed: expected an integer from 0 to 2^64-1, got '%s'\n", s);
        return 2;
    }
    *out = (uint64_t)v;
    return 0;
}

int loom_cmd_make_checkpoint(int argc, char **argv)
{
    const char *preset = NULL, *out = NULL;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--preset") || !strcmp(a, "--seed")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "loom make-checkpoint: %s needs a value; " USAGE_LINE, a);
                return 2;
            }
            if (a[2] == 'p') preset = argv[++i];
            else if (parse_seed(argv[++i], &seed)) return 2;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "loom make-checkpoint: unknown option '%s'; " USAGE_LINE, a);
            return 2;
        } else if (out) {
            fprintf(stderr, "loom make-checkpoint: one output file only (got '%s' and '%s')\n", out, a);
            return 2;
        } else {
            out = a;
        }
    }
    if (!preset || !out) {
        fputs(USAGE_LINE, stderr);
        return 2;
    }
    loom_sd1_config cfg;
    if (loom_sd1_preset(preset, &cfg) != LOOM_OK) {
        fprintf(stderr, "loom make-checkpoint: --preset: %s\n", loom_last_error());
        return 2;
    }
    loom_sd1_layout l;
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%" PRIu64, seed);
    const loom_tf_meta meta[] = {
        {"loom.generator", "make-checkpoint"},
        {"loom.preset", preset},
        {"loom.seed", seed_s},
        {"loom.note", "random weights: renders noise"},
    };
    loom_status s = loom_sd1_layout_build(&cfg, &l);
    if (s == LOOM_OK) s = loom_sd1_write_random(out, &l, seed, meta, (int)(sizeof meta / sizeof meta[0]));
    if (s != LOOM_OK) {
        fprintf(stderr, "loom make-checkpoint: %s\n", loom_last_error());
        loom_sd1_layout_free(&l);
        return 1;
    }
    printf("%s: SD1.x checkpoint, preset %s, seed %s, %d tensors, %.1f MB (random weights)\n", out, preset, seed_s, l.n,
           (double)l.bytes / 1e6);
    loom_sd1_layout_free(&l);
    return 0;
}
