/* commands.h — `loom <command>` entry points. Each parses its own flags,
 * prints one-line errors ("loom inspect: FILE: problem") and returns the
 * process exit code: 0 ok, 1 failure, 2 usage error. */
#ifndef LOOM_COMMANDS_H
#define LOOM_COMMANDS_H

int loom_cmd_bench(int argc, char **argv); /* bench/bench.c */
int loom_cmd_generate(int argc, char **argv);
int loom_cmd_inspect(int argc, char **argv);
int loom_cmd_make_checkpoint(int argc, char **argv);
int loom_cmd_version(int argc, char **argv);

#endif
