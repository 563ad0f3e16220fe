/* testlib.c — see testlib.h. */
#define _POSIX_C_SOURCE 200809L
#include "testlib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef LOOM_FIXTURES
#define LOOM_FIXTURES "tests/fixtures"
#endif

int t_failures, t_checks;

int t_finish(const char *name)
{
    if (t_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, t_failures, t_checks);
        return 1;
    }
    if (t_checks == 0) {
        fprintf(stderr, "%s: no checks ran: a test that checks nothing is a failure\n", name);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, t_checks);
    return 0;
}

void t_skip(const char *why)
{
    printf("SKIPPED: %s\n", why);
    exit(77);
}

double t_rel_l2(const float *a, const float *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

double t_max_abs(const float *a, const float *ref, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

int64_t t_count_nonfinite(const float *a, int64_t n)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += !isfinite(a[i]);
    return c;
}

const char *t_fixture(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", LOOM_FIXTURES, rel);
    return buf;
}

loom_tfile *t_open_fixture(const char *rel)
{
    loom_tfile *tf = NULL;
    loom_status s = loom_tfile_open(t_fixture(rel), &tf);
    T_CHECK(s == LOOM_OK, "cannot open fixture %s: %s (run scripts/gen_fixtures.py)", rel, loom_last_error());
    return tf;
}

float *t_load_f32(const loom_tfile *tf, const char *name, loom_tensor *shape_out)
{
    const loom_tf_entry *e = loom_tfile_find(tf, name);
    T_CHECK(e != NULL, "fixture %s has no tensor %s", tf->path, name);
    if (!e) return NULL;
    loom_tensor t;
    loom_status s = loom_tfile_tensor(tf, e, &t);
    T_CHECK(s == LOOM_OK, "%s", loom_last_error());
    if (s != LOOM_OK) return NULL;
    int64_t n = loom_tensor_numel(&t);
    float *out = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!out) return NULL;
    loom_tensor_to_f32(&t, out);
    if (shape_out) *shape_out = loom_tensor_view(out, LOOM_F32, t.ndim, t.shape);
    return out;
}

int t_run(const char *cmd, char *out, size_t n)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t k = 0;
    if (n) out[0] = 0;
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (n && k + 1 < n) {
            size_t c = r < n - 1 - k ? r : n - 1 - k;
            memcpy(out + k, chunk, c);
            k += c;
            out[k] = 0;
        }
    }
    int st = pclose(p);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char *t_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

char *t_next_line(char **p)
{
    if (!*p || !**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    *p = nl ? nl + 1 : NULL;
    return line;
}

int t_split_tabs(char *line, char **f, int max)
{
    int n = 0;
    while (n < max) {
        f[n++] = line;
        char *t = strchr(line, '\t');
        if (!t) break;
        *t = 0;
        line = t + 1;
    }
    return n;
}
