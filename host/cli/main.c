/* main.c — `loom <command> [options]`. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"bench", "time the UNet step: loom's kernels vs cuBLAS/cuDNN, live adapters' overhead", loom_cmd_bench},
    {"generate", "text to image: -m MODEL -p PROMPT (A1111 prompt syntax, seeds and PNG info)", loom_cmd_generate},
    {"inspect", "say what a model / adapter / embedding file is", loom_cmd_inspect},
    {"make-checkpoint", "write a random-weights SD1.x checkpoint (demo and tests)", loom_cmd_make_checkpoint},
    {"version", "print the version, CUDA architectures and the GPU found", loom_cmd_version},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: loom <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'loom <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return loom_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "loom: unknown command '%s' (try 'loom --help')\n", argv[1]);
    return 2;
}
