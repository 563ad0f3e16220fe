/* test_tokenizer.c — loom's CLIP tokenizer against the reference ids of
 * tests/fixtures/tokenizer/prompts.json (HF transformers 4.30.2 slow
 * CLIPTokenizer with ftfy; scripts/gen_fixtures_tokenizer.py), plus the
 * vocabulary facts of addons.md §4.11 and bad vocabulary files. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "testlib.h"
#include "tokenizer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", label, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

/* ---- vocabulary facts (addons.md §4.11) ------------------------------------ */
static void test_vocab(const loom_tokenizer *t)
{
    T_CHECK(loom_tokenizer_vocab_size(t) == 49408, "vocab size %d", loom_tokenizer_vocab_size(t));
    T_CHECK(loom_token_id(t, "!") == 0, "'!' -> %d", loom_token_id(t, "!"));
    T_CHECK(loom_token_id(t, "*</w>") == 265, "'*</w>' -> %d", loom_token_id(t, "*</w>"));
    T_CHECK(loom_token_id(t, ",</w>") == 267, "',</w>' -> %d", loom_token_id(t, ",</w>"));
    T_CHECK(loom_token_id(t, "<|startoftext|>") == LOOM_TOKEN_BOS && LOOM_TOKEN_BOS == 49406, "BOS");
    T_CHECK(loom_token_id(t, "<|endoftext|>") == LOOM_TOKEN_EOS && LOOM_TOKEN_EOS == 49407, "EOS");
    T_CHECK(loom_token_id(t, "no such token") == -1, "absent token");
    T_CHECK(loom_token_id(t, "") == -1, "empty token");
    const char *s = loom_token_str(t, 267);
    T_CHECK(s && strcmp(s, ",</w>") == 0, "str(267) = %s", s ? s : "(null)");
    T_CHECK(loom_token_str(t, -1) == NULL && loom_token_str(t, 49408) == NULL, "out-of-range ids");
    int bad = 0;
    for (int32_t id = 0; id < 49408; id++) {
        const char *str = loom_token_str(t, id);
        if (!str || loom_token_id(t, str) != id) bad++;
    }
    T_CHECK(bad == 0, "%d ids do not round-trip through their string", bad);
}

/* ---- the reference corpus ----------------------------------------------------- */
static unsigned char *from_hex(const char *h, size_t *n)
{
    size_t len = strlen(h) / 2;
    unsigned char *b = malloc(len + 1);
    for (size_t i = 0; b && i < len; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) v = 0;
        b[i] = (unsigned char)v;
    }
    *n = len;
    return b;
}

static void test_corpus(const loom_tokenizer *t)
{
    json_error_t jerr;
    const char *path = t_fixture("tokenizer/prompts.json");
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    T_CHECK(doc != NULL, "%s: %s", path, jerr.text);
    if (!doc) return;
    json_t *cases = json_object_get(doc, "cases");
    size_t n_cases = json_array_size(cases);
    T_CHECK(n_cases >= 600, "only %zu prompts", n_cases);

    int32_t *ids = NULL;
    int n = 0, cap = 0, mismatches = 0;
    size_t total_tokens = 0, total_bytes = 0;
    double best = 1e9;
    for (int pass = 0; pass < 3; pass++) { /* pass 0 fills the word cache; report the best */
        double t0 = now_s();
        for (size_t c = 0; c < n_cases; c++) {
            json_t *cs = json_array_get(cases, c);
            json_t *jt = json_object_get(cs, "text"), *jh = json_object_get(cs, "hex");
            unsigned char *raw = NULL;
            const char *text;
            size_t len;
            if (jt) {
                text = json_string_value(jt);
                len = json_string_length(jt);
            } else {
                raw = from_hex(json_string_value(jh), &len);
                text = (const char *)raw;
            }
            n = 0;
            loom_status st = loom_tokenize(t, text, len, &ids, &n, &cap);
            if (pass > 0) {
                free(raw);
                continue;
            }
            total_bytes += len;
            total_tokens += (size_t)n;
            json_t *want = json_object_get(cs, "ids");
            size_t nw = json_array_size(want);
            bool same = st == LOOM_OK && (size_t)n == nw;
            for (size_t i = 0; same && i < nw; i++)
                same = ids[i] == (int32_t)json_integer_value(json_array_get(want, i));
            if (!same) {
                if (mismatches == 0) {
                    fprintf(stderr, "FAIL: prompt %zu differs from the reference (%s)\n  text: %s\n", c,
                            st == LOOM_OK ? "ids" : loom_last_error(), jt ? text : json_string_value(jh));
                    int32_t *w = malloc((nw + 1) * sizeof *w);
                    for (size_t i = 0; w && i < nw; i++) w[i] = (int32_t)json_integer_value(json_array_get(want, i));
                    if (w) print_ids("reference", w, nw);
                    print_ids("loom     ", ids, st == LOOM_OK ? (size_t)n : 0);
                    free(w);
                }
                mismatches++;
            }
            free(raw);
        }
        double dt = now_s() - t0;
        if (pass == 0) printf("corpus, cold word cache: %.2f ms\n", dt * 1e3);
        else if (dt < best) best = dt;
    }
    T_CHECK(mismatches == 0, "%d of %zu prompts differ from the reference", mismatches, n_cases);
    /* the corpus must keep exercising ftfy's mojibake repair (fix_encoding):
     * the generator counts the prompts whose reference cleanup it changes */
    json_int_t mojibake = json_integer_value(
        json_object_get(json_object_get(doc, "reference"), "fix_encoding_changes"));
    T_CHECK(mojibake >= 40, "only %lld corpus prompts need ftfy's mojibake repair", (long long)mojibake);
    printf("corpus: %zu prompts (%lld repaired by fix_encoding), %zu bytes, %zu tokens; tokenize all: %.2f ms "
           "(warm cache)\n", n_cases, (long long)mojibake, total_bytes, total_tokens, best * 1e3);
    free(ids);
    json_decref(doc);
}

/* ---- API behaviour --------------------------------------------------------------- */
static void test_api(const loom_tokenizer *t)
{
    int32_t *ids = NULL;
    int n = 0, cap = 0;
    T_OK(loom_tokenize(t, "a photo of a cat", 16, &ids, &n, &cap));
    int first = n;
    T_OK(loom_tokenize(t, ", ", 2, &ids, &n, &cap)); /* appends */
    T_CHECK(n == first + 1 && ids[n - 1] == 267, "append: n %d -> %d, last %d", first, n, n ? ids[n - 1] : -1);
    T_OK(loom_tokenize(t, NULL, 0, &ids, &n, &cap));
    T_CHECK(n == first + 1, "empty text adds nothing");
    int before = n;
    char *huge = malloc(LOOM_TOKENIZE_MAX_BYTES + 1);
    if (huge) {
        memset(huge, 'a', LOOM_TOKENIZE_MAX_BYTES + 1);
        T_CHECK(loom_tokenize(t, huge, LOOM_TOKENIZE_MAX_BYTES + 1, &ids, &n, &cap) == LOOM_E_INVALID,
                "over-long text accepted");
        T_CHECK(n == before, "a failed call changed n");
        T_CHECK(strchr(loom_last_error(), '\n') == NULL, "multi-line error");
        free(huge);
    }
    T_CHECK(loom_tokenize(NULL, "x", 1, &ids, &n, &cap) == LOOM_E_INVALID, "NULL tokenizer");
    T_CHECK(loom_tokenize(t, "x", 1, NULL, &n, &cap) == LOOM_E_INVALID, "NULL ids");
    free(ids);
}

/* ---- missing and corrupt vocabulary files ------------------------------------------ */
static void expect_open_error(const char *path, const char *what)
{
    loom_tokenizer *t = NULL;
    loom_status st = loom_tokenizer_open(path, &t);
    const char *msg = loom_last_error();
    T_CHECK(st != LOOM_OK && t == NULL, "%s: opened", what);
    T_CHECK(strstr(msg, path) != NULL, "%s: message does not name the file: %s", what, msg);
    T_CHECK(strchr(msg, '\n') == NULL, "%s: multi-line message", what);
    if (st != LOOM_OK) printf("  %-22s -> %s\n", what, msg);
    loom_tokenizer_close(t);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void write_gz(const char *path, const char *text, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (g) {
        gzwrite(g, text, (unsigned)n);
        gzclose(g);
    }
}

static void test_bad_files(const char *good_path)
{
    char dir[] = "/tmp/loom_tok_XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char p[256];

    snprintf(p, sizeof p, "%s/missing.txt.gz", dir);
    expect_open_error(p, "missing file");

    snprintf(p, sizeof p, "%s/empty.txt.gz", dir);
    write_file(p, "", 0);
    expect_open_error(p, "empty file");

    snprintf(p, sizeof p, "%s/plain.txt.gz", dir);
    write_file(p, "#version: 0.2\ni n\n", 18);
    expect_open_error(p, "not gzip");

    /* the real file cut in half: gzip reports the truncation */
    FILE *f = fopen(good_path, "rb");
    static unsigned char gz[2 << 20];
    size_t got = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f) fclose(f);
    T_CHECK(got > 1000000 && got < sizeof gz, "read %zu bytes of %s", got, good_path);
    snprintf(p, sizeof p, "%s/truncated.txt.gz", dir);
    write_file(p, gz, got / 2);
    expect_open_error(p, "truncated gzip");

    /* flipped bytes in the last third of the compressed data, past the
     * 48 895 lines loom uses: still noticed (deflate error or CRC) */
    gz[got - got / 4] ^= 0xFF;
    gz[got - got / 4 + 1] ^= 0x55;
    snprintf(p, sizeof p, "%s/flipped.txt.gz", dir);
    write_file(p, gz, got);
    expect_open_error(p, "corrupt gzip");

    snprintf(p, sizeof p, "%s/short.txt.gz", dir);
    const char *short_text = "#version: 0.2\ni n\nt h\n";
    write_gz(p, short_text, strlen(short_text));
    expect_open_error(p, "too few merges");

    snprintf(p, sizeof p, "%s/malformed.txt.gz", dir);
    const char *bad_text = "#version: 0.2\ni n\nthree fields here\n";
    write_gz(p, bad_text, strlen(bad_text));
    expect_open_error(p, "malformed merge line");

    snprintf(p, sizeof p, "%s/unknown.txt.gz", dir);
    const char *unk_text = "#version: 0.2\nin th\n";
    write_gz(p, unk_text, strlen(unk_text));
    expect_open_error(p, "merge of unknown symbol");

    /* $LOOM_DATA_DIR decides where the default file is looked for */
    setenv("LOOM_DATA_DIR", dir, 1);
    loom_tokenizer *t = NULL;
    T_CHECK(loom_tokenizer_open(NULL, &t) != LOOM_OK, "LOOM_DATA_DIR ignored");
    T_CHECK(strstr(loom_last_error(), dir) && strstr(loom_last_error(), "/clip/bpe_simple_vocab_16e6.txt.gz"),
            "default path message: %s", loom_last_error());
    unsetenv("LOOM_DATA_DIR");
    loom_tokenizer_close(t);

    const char *names[] = {"empty", "plain", "truncated", "flipped", "short", "malformed", "unknown"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s.txt.gz", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const char *good = LOOM_SRC_DIR "/data/clip/bpe_simple_vocab_16e6.txt.gz";
    loom_tokenizer *t = NULL;
    double t0 = now_s();
    T_OK(loom_tokenizer_open(good, &t));
    printf("open: %.1f ms\n", (now_s() - t0) * 1e3);
    if (!t) return t_finish("test_tokenizer");
    test_vocab(t);
    test_corpus(t);
    test_api(t);
    loom_tokenizer_close(t);

    /* the default location (compiled-in data dir, no environment override) */
    unsetenv("LOOM_DATA_DIR");
    T_OK(loom_tokenizer_open(NULL, &t));
    loom_tokenizer_close(t);

    test_bad_files(good);
    return t_finish("test_tokenizer");
}
