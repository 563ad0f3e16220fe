/* testlib.h — small helpers shared by loom's test programs.
 *
 * A test program returns t_finish(): 0 when every check passed, 1 otherwise.
 * GPU tests call t_skip("why") when there is no usable GPU (exit 77, which
 * ctest reports as skipped, never as passed). */
#ifndef LOOM_TESTLIB_H
#define LOOM_TESTLIB_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "loom_base.h"
#include "tensor_file.h"

extern int t_failures, t_checks;

#define T_CHECK(cond, ...)                                                     \
    do {                                                                       \
        t_checks++;                                                            \
        if (!(cond)) {                                                         \
            t_failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* Check a loom_status is LOOM_OK, printing loom_last_error() otherwise. */
#define T_OK(expr)                                                             \
    do {                                                                       \
        loom_status t_s_ = (expr);                                             \
        T_CHECK(t_s_ == LOOM_OK, "%s -> %s", #expr, loom_last_error());        \
    } while (0)

/* `status` failed and the last error holds every string given, on one line. */
#define T_EXPECT_FAILED(status, what, ...)                                                                  \
    do {                                                                                                    \
        const char *m_ = loom_last_error();                                                                 \
        const char *want_[] = {__VA_ARGS__};                                                                \
        T_CHECK((status) != LOOM_OK, "%s succeeded", what);                                                 \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof want_[0]; i_++)                                      \
            T_CHECK(strstr(m_, want_[i_]) != NULL, "%s: message \"%s\" lacks \"%s\"", what, m_, want_[i_]); \
        T_CHECK(strchr(m_, '\n') == NULL, "%s: message has a newline", what);                               \
    } while (0)
#define T_EXPECT_FAIL(expr, ...)                                                                            \
    do {                                                                                                    \
        loom_clear_error();                                                                                 \
        loom_status s_ = (expr);                                                                            \
        T_EXPECT_FAILED(s_, #expr, __VA_ARGS__);                                                            \
    } while (0)

int t_finish(const char *name);
void t_skip(const char *why); /* exits 77 */

/* Relative L2 error ‖a−b‖/‖b‖ (b is the reference), in double. */
double t_rel_l2(const float *a, const float *ref, int64_t n);
/* Max |a−b|. */
double t_max_abs(const float *a, const float *ref, int64_t n);
/* Count of NaN/Inf in a. */
int64_t t_count_nonfinite(const float *a, int64_t n);

/* Path to a fixture: LOOM_FIXTURES "/" rel, in a static buffer. */
const char *t_fixture(const char *rel);

/* Open a fixture file, failing the test (and returning NULL) if it is missing. */
loom_tfile *t_open_fixture(const char *rel);
/* Copy a named tensor of an open file into a malloc'd f32 array; NULL (and a failure) if absent. */
float *t_load_f32(const loom_tfile *tf, const char *name, loom_tensor *shape_out);

/* Run a shell command; returns its exit status (or -1), stdout+stderr into
 * `out` (NUL-terminated, truncated to n). */
int t_run(const char *cmd, char *out, size_t n);

/* Small text helpers for TSV fixtures: the whole file (malloc'd, NUL-terminated; NULL if
 * unreadable), the next line of a buffer (terminated in place; NULL at the end), and a line split
 * in place on tabs into at most max fields (returns the count). */
char *t_read_text(const char *path);
char *t_next_line(char **p);
int t_split_tabs(char *line, char **f, int max);

#endif
