/* version.c — `loom version`: build facts and what GPU (if any) is usable. */
#include <stdio.h>

#include "backend.h"
#include "commands.h"

#ifndef LOOM_VERSION
#define LOOM_VERSION "dev"
#endif

int loom_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char desc[256];
    printf("loom %s\n", LOOM_VERSION);
    printf("cuda architectures: %s\n", loom_cuda_built_archs());
    if (loom_cuda_probe(0, desc, sizeof desc) == LOOM_OK)
        printf("gpu: %s\n", desc);
    else
        printf("gpu: none usable (%s)\n", loom_last_error());
    return 0;
}
