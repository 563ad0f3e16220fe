/* test_layout.c — the SD1.x key enumeration and the safetensors writer.
 *
 *  - the sd15 preset's keys, dtypes and shapes equal those of the reference
 *    models (diffusers / transformers at SD1.5 size, LDM names):
 *    tests/fixtures/layout/sd15_keys.tsv (scripts/gen_fixtures_layout.py);
 *  - loom's writer produces the reference safetensors writer's bytes for the
 *    same tensors (writer_ref.safetensors), including a strided view, and
 *    the file reads back through loom_tfile_open;
 *  - the random fill is chunk-independent and seed-dependent;
 *  - failures (missing folder, a fill error mid-file, bad declarations) give
 *    one line and leave nothing behind. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors_write.h"
#include "sd1_layout.h"
#include "testlib.h"

#define OUT_DIR LOOM_TEST_OUT

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "name\tdtype\td0,d1,..." for tensor t, malloc'd. */
static char *layout_line(const loom_sd1_tensor *t)
{
    char *s = malloc(256);
    int n = snprintf(s, 256, "%s\t%s\t", t->name, loom_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
        n += snprintf(s + n, (size_t)(256 - n), d ? ",%lld" : "%lld", (long long)t->shape[d]);
    return s;
}

static void test_sd15_layout(void)
{
    FILE *f = fopen(t_fixture("layout/sd15_keys.tsv"), "r");
    T_CHECK(f != NULL, "cannot open the sd15 key fixture");
    if (!f) return;
    char **want = NULL, line[512];
    int nw = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        want = realloc(want, (size_t)(nw + 1) * sizeof *want);
        want[nw++] = strdup(line);
    }
    fclose(f);
    loom_sd1_config cfg;
    loom_sd1_layout l;
    T_OK(loom_sd1_preset("sd15", &cfg));
    T_OK(loom_sd1_layout_build(&cfg, &l));
    T_CHECK(l.n == nw, "sd15 layout has %d tensors, the reference %d", l.n, nw);
    char **got = calloc((size_t)l.n + 1, sizeof *got);
    for (int i = 0; i < l.n; i++) got[i] = layout_line(&l.t[i]);
    qsort(got, (size_t)l.n, sizeof *got, cmp_str);
    int bad = 0;
    for (int i = 0, j = 0; i < l.n || j < nw;) { /* merge: report what only one side has */
        int c = i == l.n ? 1 : j == nw ? -1 : strcmp(got[i], want[j]);
        if (c && bad++ < 5)
            fprintf(stderr, "  %s: %s\n", c < 0 ? "only loom" : "only reference", c < 0 ? got[i] : want[j]);
        i += c <= 0;
        j += c >= 0;
    }
    T_CHECK(bad == 0, "%d lines differ between the sd15 layout and the reference", bad);
    /* the data size the reference list implies: 2 bytes per f16 element, 8 per i64 (position_ids) */
    uint64_t params = 0;
    for (int j = 0; j < nw; j++) {
        char *shape = strrchr(want[j], '\t') + 1;
        uint64_t n = 1;
        for (char *p = shape; *p; p = *p ? p + 1 : p) n *= strtoull(p, &p, 10);
        if (!strstr(want[j], "\ti64\t")) params += n;
    }
    T_CHECK(l.bytes == params * 2 + 77 * 8, "sd15 layout bytes %llu, reference %llu", (unsigned long long)l.bytes,
            (unsigned long long)(params * 2 + 77 * 8));
    for (int i = 0; i < l.n; i++) free(got[i]);
    for (int j = 0; j < nw; j++) free(want[j]);
    free(got);
    free(want);
    loom_sd1_layout_free(&l);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* The tensors of writer_ref.safetensors, built from the generator's formulas
 * (gen_fixtures_layout.py writer_tensors), declared in the reference's data
 * order (element size, then name). w.f32 is a transposed view of a [4, 3]
 * buffer, so the strided path must gather it. */
static void test_writer_reference(void)
{
    int64_t emb[6];
    float w_store[12], s = 2.5f;
    uint16_t bf[5], h[7];
    uint8_t mask[3];
    for (int i = 0; i < 6; i++) emb[i] = (int64_t)i * 1000003 - 7;
    for (int i = 0; i < 12; i++) { /* logical w[r][c] = (4r + c − 5)·0.375 lives at w_store[c·3 + r] */
        int r = i / 4, c = i % 4;
        w_store[c * 3 + r] = (float)(i - 5) * 0.375f;
    }
    for (int i = 0; i < 5; i++) bf[i] = loom_f32_to_bf16((float)i * 0.5f - 1.0f);
    for (int i = 0; i < 7; i++) h[i] = loom_f32_to_f16((float)i * 0.25f - 1.0f);
    for (int i = 0; i < 3; i++) mask[i] = (uint8_t)(i * 50);
    loom_tensor t[7];
    t[0] = loom_tensor_view(emb, LOOM_I64, 2, (int64_t[]){2, 3});
    t[1] = loom_tensor_view(NULL, LOOM_F32, 2, (int64_t[]){0, 3});
    t[2] = loom_tensor_view(&s, LOOM_F32, 0, NULL);
    t[3] = loom_tensor_view(w_store, LOOM_F32, 2, (int64_t[]){3, 4});
    t[3].stride[0] = 1;
    t[3].stride[1] = 3;
    t[4] = loom_tensor_view(bf, LOOM_BF16, 1, (int64_t[]){5});
    t[5] = loom_tensor_view(h, LOOM_F16, 1, (int64_t[]){7});
    t[6] = loom_tensor_view(mask, LOOM_U8, 1, (int64_t[]){3});
    const char *names[7] = {"emb.i64", "empty.f32", "s.f32", "w.f32", "h.bf16", "h.f16", "mask.u8"};
    const loom_tf_meta meta[1] = {{"loom.test", "writer \xe2\x9c\x93"}};
    const char *path = OUT_DIR "/mk_writer.safetensors";
    T_OK(loom_safetensors_write_tensors(path, names, t, 7, meta, 1));
    size_t n_got = 0, n_want = 0;
    uint8_t *got = read_all(path, &n_got), *want = read_all(t_fixture("layout/writer_ref.safetensors"), &n_want);
    T_CHECK(got && want && n_got == n_want && memcmp(got, want, n_got) == 0,
            "writer output (%zu bytes) differs from the reference writer's (%zu bytes)", n_got, n_want);
    free(got);
    free(want);

    /* read back through loom's reader: same bytes per tensor, metadata, aligned data */
    loom_tfile *tf = NULL;
    T_OK(loom_tfile_open(path, &tf));
    if (!tf) return;
    T_CHECK(tf->n_tensors == 7, "%d tensors read back", tf->n_tensors);
    for (int i = 0; i < 7; i++) {
        const loom_tf_entry *e = loom_tfile_find(tf, names[i]);
        T_CHECK(e != NULL, "'%s' missing after the round trip", names[i]);
        if (!e) continue;
        T_CHECK(e->dtype == t[i].dtype && e->ndim == t[i].ndim, "'%s': dtype/rank changed", names[i]);
        T_CHECK(e->numel == (uint64_t)loom_tensor_numel(&t[i]), "'%s': %llu elements", names[i],
                (unsigned long long)e->numel);
        T_CHECK(!e->data || (uintptr_t)e->data % loom_dtype_size(e->dtype) == 0, "'%s' is not aligned", names[i]);
        for (uint64_t k = 0; k < e->numel; k++) {
            loom_tensor v;
            T_OK(loom_tfile_tensor(tf, e, &v));
            double a = loom_tensor_get(&v, (int64_t)k), b = loom_tensor_get(&t[i], (int64_t)k);
            if (a != b) {
                T_CHECK(a == b, "'%s'[%llu]: %g read back, %g written", names[i], (unsigned long long)k, a, b);
                break;
            }
        }
    }
    const char *m = loom_tfile_meta(tf, "loom.test");
    T_CHECK(m && strcmp(m, meta[0].value) == 0, "metadata read back as '%s'", m ? m : "(none)");
    loom_tfile_close(tf);
    unlink(path);
}

/* No file named `path` nor any "<path>.tmp.*" next to it. */
static int nothing_left(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return 1;
    int found = 0;
    size_t n = strlen(base);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, base, n) == 0) found = 1;
    closedir(d);
    return !found;
}

static loom_status fail_fill(void *ctx, int index, uint64_t offset, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0, len);
    if (index == 1) return loom_fail(LOOM_E_IO, "source went away at byte %llu", (unsigned long long)offset);
    return LOOM_OK;
}

static void test_writer_failures(void)
{
    loom_st_decl d[2] = {{"a", LOOM_F32, 1, {1 << 20}}, {"b", LOOM_F16, 2, {3, 5}}};
    loom_status s = loom_safetensors_write(OUT_DIR "/mk_fail.safetensors", d, 2, NULL, 0, fail_fill, NULL);
    T_CHECK(s == LOOM_E_IO && strstr(loom_last_error(), "mk_fail.safetensors: source went away"),
            "fill error: %s", loom_last_error());
    T_CHECK(nothing_left(OUT_DIR, "mk_fail.safetensors"), "a failed write left a file behind");

    s = loom_safetensors_write(OUT_DIR "/no-such-dir/x.safetensors", d, 1, NULL, 0, fail_fill, NULL);
    T_CHECK(s == LOOM_E_IO && strstr(loom_last_error(), "no-such-dir/x.safetensors: cannot write") &&
                !strchr(loom_last_error(), '\n'), "missing folder: %s", loom_last_error());

    loom_st_decl dup[2] = {{"a", LOOM_F32, 1, {2}}, {"a", LOOM_F16, 1, {2}}};
    s = loom_safetensors_write(OUT_DIR "/mk_dup.safetensors", dup, 2, NULL, 0, fail_fill, NULL);
    T_CHECK(s == LOOM_E_INVALID && strstr(loom_last_error(), "'a' given twice"), "dup: %s", loom_last_error());
    loom_st_decl reserved[1] = {{"__metadata__", LOOM_F32, 1, {2}}};
    s = loom_safetensors_write(OUT_DIR "/mk_dup.safetensors", reserved, 1, NULL, 0, fail_fill, NULL);
    T_CHECK(s == LOOM_E_INVALID, "a tensor named __metadata__ was accepted");
    loom_st_decl neg[1] = {{"n", LOOM_F32, 2, {2, -1}}};
    s = loom_safetensors_write(OUT_DIR "/mk_dup.safetensors", neg, 1, NULL, 0, fail_fill, NULL);
    T_CHECK(s == LOOM_E_INVALID, "a negative extent was accepted");
    T_CHECK(nothing_left(OUT_DIR, "mk_dup.safetensors"), "a refused write left a file behind");
}

/* Chunks of a tensor equal the same range of one whole fill; the seed and the
 * name change the values; init kinds and scales hold. */
static void test_fill(void)
{
    loom_sd1_tensor t = {.name = "x.weight", .dtype = LOOM_F16, .ndim = 1, .shape = {1000},
                         .init = LOOM_SD1_INIT_UNIFORM, .scale = 0.125f};
    uint16_t whole[1000], part[1000], other[1000];
    loom_sd1_fill(&t, 5, 0, 1000, whole);
    loom_sd1_fill(&t, 5, 0, 333, part);
    loom_sd1_fill(&t, 5, 333, 667, part + 333);
    T_CHECK(memcmp(whole, part, sizeof whole) == 0, "a chunked fill differs from a whole one");
    loom_sd1_fill(&t, 6, 0, 1000, other);
    int same = 0;
    double sum = 0, sq = 0, mx = 0;
    for (int i = 0; i < 1000; i++) {
        same += whole[i] == other[i];
        double v = loom_f16_to_f32(whole[i]);
        sum += v, sq += v * v, mx = fabs(v) > mx ? fabs(v) : mx;
    }
    T_CHECK(same < 50, "seeds 5 and 6 agree on %d of 1000 values", same);
    T_CHECK(mx <= 0.125 && mx > 0.12, "uniform ±0.125 reached %g", mx);
    /* uniform(±a): mean 0, variance a²/3 (0.0052): loose bounds for 1000 draws */
    T_CHECK(fabs(sum / 1000) < 0.01 && fabs(sq / 1000 - 0.125 * 0.125 / 3) < 0.001, "mean %g, var %g", sum / 1000,
            sq / 1000);
    loom_sd1_tensor ids = {.name = "p", .dtype = LOOM_I64, .ndim = 2, .shape = {1, 77}, .init = LOOM_SD1_INIT_ARANGE};
    int64_t v[77];
    loom_sd1_fill(&ids, 1, 0, 77, v);
    T_CHECK(v[0] == 0 && v[76] == 76, "position_ids %lld..%lld", (long long)v[0], (long long)v[76]);
    loom_sd1_tensor ones = {.name = "n.weight", .dtype = LOOM_F16, .ndim = 1, .shape = {4}, .init = LOOM_SD1_INIT_ONES};
    loom_sd1_fill(&ones, 1, 0, 4, part);
    T_CHECK(part[0] == 0x3c00 && part[3] == 0x3c00, "norm weights are not 1");
}

int main(void)
{
    test_sd15_layout();
    test_writer_reference();
    test_writer_failures();
    test_fill();
    loom_sd1_config c;
    T_CHECK(loom_sd1_preset("sd3", &c) == LOOM_E_INVALID && strstr(loom_last_error(), "'sd3'"), "unknown preset: %s",
            loom_last_error());
    return t_finish("test_layout");
}
