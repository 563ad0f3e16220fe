/* test_prompt_bad.c — hostile prompts through every prompt function: 100 KB of
 * nesting, unbalanced brackets, escapes, tags, BREAKs, invalid UTF-8, and one
 * byte over the size limit. Each must finish quickly with LOOM_OK or a
 * one-line LOOM_E_INVALID, never crash or hang (ASan/UBSan run this too).
 * Where the outcome is known from the rules alone it is checked: a prompt
 * nested past the limit is used literally, a text without brackets schedules
 * to itself, an oversized prompt is refused. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prompt.h"
#include "testlib.h"
#include "tokenizer.h"

#define BIG (100 * 1024)

static const loom_tokenizer *g_tok;

static char *repeat(const char *unit, size_t total, size_t *len)
{
    size_t u = strlen(unit), n = total / u * u;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i += u) memcpy(s + i, unit, u);
    s[n] = 0;
    *len = n;
    return s;
}

static char *wrap(size_t depth, const char *open, const char *mid, const char *close, size_t *len)
{
    size_t o = strlen(open), m = strlen(mid), c = strlen(close), n = depth * (o + c) + m, at = 0;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < depth; i++, at += o) memcpy(s + at, open, o);
    memcpy(s + at, mid, m);
    at += m;
    for (size_t i = 0; i < depth; i++, at += c) memcpy(s + at, close, c);
    s[n] = 0;
    *len = n;
    return s;
}

static void check_status(const char *what, const char *name, loom_status st)
{
    T_CHECK(st == LOOM_OK || st == LOOM_E_INVALID, "%s(%s): status %d: %s", what, name, st, loom_last_error());
    if (st != LOOM_OK) T_CHECK(!strchr(loom_last_error(), '\n'), "%s(%s): message has a newline", what, name);
}

/* Runs everything; returns the number of schedule variants (0 if it failed). */
static int run_all(const char *name, const char *s, size_t n)
{
    clock_t t0 = clock();
    char *text;
    size_t len;
    loom_net_list nets;
    loom_status st = loom_prompt_extract_networks(s, n, &text, &len, &nets);
    check_status("networks", name, st);
    if (st == LOOM_OK) {
        free(text);
        loom_net_list_free(&nets);
    }
    loom_prompt_parts parts;
    st = loom_prompt_split_and(s, n, &parts);
    check_status("AND", name, st);
    if (st == LOOM_OK) loom_prompt_parts_free(&parts);

    int variants = 0;
    loom_prompt_schedule *sc;
    st = loom_prompt_schedule_parse(s, n, 20, &sc);
    check_status("schedule", name, st);
    if (st == LOOM_OK) {
        variants = loom_prompt_schedule_count(sc);
        T_CHECK(variants >= 1 && loom_prompt_schedule_end(sc, variants - 1) == 20, "schedule(%s): %d variants",
                name, variants);
        T_OK(loom_prompt_schedule_text(sc, variants - 1, &text, &len));
        free(text);
        loom_prompt_schedule_free(sc);
    }
    loom_prompt_pieces pieces;
    st = loom_prompt_parse_emphasis(s, n, &pieces);
    check_status("emphasis", name, st);
    if (st == LOOM_OK) {
        T_CHECK(pieces.n >= 1, "emphasis(%s): no pieces", name);
        loom_prompt_pieces_free(&pieces);
    }
    loom_prompt_chunk_opts o = loom_prompt_chunk_defaults(g_tok);
    loom_prompt_chunks chunks;
    int n_chunks = 0;
    st = loom_prompt_to_chunks(s, n, &o, &chunks);
    check_status("chunks", name, st);
    if (st == LOOM_OK) {
        T_CHECK(chunks.n >= 1, "chunks(%s): none", name);
        n_chunks = chunks.n;
        loom_prompt_chunks_free(&chunks);
    }
    double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("%-28s %7zu bytes  %6d variants  %5d chunks%s  %.2f s\n", name, n, variants, n_chunks,
           st == LOOM_OK ? "" : " (refused)", sec);
    return variants;
}

/* A text the schedule grammar leaves alone comes back unchanged. */
static void check_literal_schedule(const char *name, const char *s, size_t n)
{
    loom_prompt_schedule *sc;
    T_OK(loom_prompt_schedule_parse(s, n, 10, &sc));
    if (!sc) return;
    T_CHECK(loom_prompt_schedule_count(sc) == 1, "%s: %d variants", name, loom_prompt_schedule_count(sc));
    char *t;
    size_t len;
    T_OK(loom_prompt_schedule_text(sc, 0, &t, &len));
    T_CHECK(t && len == n && !memcmp(t, s, n), "%s: the literal text changed", name);
    free(t);
    loom_prompt_schedule_free(sc);
}

int main(void)
{
    loom_tokenizer *tok = NULL;
    T_OK(loom_tokenizer_open(NULL, &tok));
    if (!tok) return t_finish("test_prompt_bad");
    g_tok = tok;
    size_t n;
    char *s;

    static const char *const units[] = {
        "(", ")", "[", "]", ":", "|", "((a:1.1)", "(a", "[a:", "[a:b:", "[a|", "[a:b:5]", "[a|b]", "\\(", "\\",
        "<lora:x:1>", "<lora:", "<a:b", "BREAK ", "a AND ", "(x:1.2.3)", "[[a:5]::", "a, ", "\xff\xfe", "\xe2\x82",
        "\xf0\x9f\x94\xa5", ":1)", "(:", "[:1]", "[)", "cat dog tree ",
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        char name[64];
        snprintf(name, sizeof name, "repeat '%.12s'", units[i]);
        for (char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
        s = repeat(units[i], BIG, &n);
        run_all(name, s, n);
        free(s);
    }

    /* nesting past LOOM_PROMPT_MAX_NESTING: the schedule grammar gives up, literally */
    s = wrap(20000, "[", "[a:b:5]", "]", &n);
    run_all("nested [ ]", s, n);
    check_literal_schedule("nested [ ]", s, n);
    free(s);
    s = wrap(20000, "(", "[a|b]", ")", &n);
    run_all("nested ( )", s, n);
    check_literal_schedule("nested ( )", s, n);
    free(s);
    s = wrap(20000, "[a:", "x", ":1]", &n);
    run_all("nested edits", s, n);
    check_literal_schedule("nested edits", s, n);
    free(s);
    s = wrap(100, "[a:", "x", ":1]", &n); /* within the limit: nested edits keep working */
    T_CHECK(run_all("nested edits (100)", s, n) == 2, "nested edits (100): 2 variants expected");
    free(s);

    /* no brackets at all: invalid UTF-8 and control bytes are text */
    s = malloc(BIG);
    srand(7);
    for (size_t i = 0; i < BIG; i++) {
        unsigned char c = (unsigned char)(rand() & 0xff);
        s[i] = (char)(strchr("()[]:|\\", c) || c == 0 ? 'x' : c);
    }
    run_all("random bytes", s, BIG);
    check_literal_schedule("random bytes", s, BIG);
    for (size_t i = 0; i < BIG; i++) s[i] = (char)(rand() & 0xff); /* everything, NULs included */
    run_all("random bytes with brackets", s, BIG);
    free(s);

    /* one byte over the limit is refused by every function */
    n = LOOM_PROMPT_MAX_BYTES + 1;
    s = malloc(n);
    memset(s, 'a', n);
    char *text;
    size_t len;
    loom_net_list nets;
    loom_prompt_parts parts;
    loom_prompt_schedule *sc;
    loom_prompt_pieces pieces;
    loom_prompt_chunks chunks;
    loom_prompt_chunk_opts o = loom_prompt_chunk_defaults(tok);
    T_CHECK(loom_prompt_extract_networks(s, n, &text, &len, &nets) == LOOM_E_INVALID, "networks: over the limit");
    T_CHECK(loom_prompt_split_and(s, n, &parts) == LOOM_E_INVALID, "AND: over the limit");
    T_CHECK(loom_prompt_schedule_parse(s, n, 20, &sc) == LOOM_E_INVALID, "schedule: over the limit");
    T_CHECK(loom_prompt_parse_emphasis(s, n, &pieces) == LOOM_E_INVALID, "emphasis: over the limit");
    T_CHECK(loom_prompt_to_chunks(s, n, &o, &chunks) == LOOM_E_INVALID, "chunks: over the limit");
    T_CHECK(loom_prompt_schedule_parse("a", 1, 0, &sc) == LOOM_E_INVALID, "schedule: 0 steps");
    T_CHECK(loom_prompt_schedule_parse("a", 1, LOOM_PROMPT_MAX_STEPS + 1, &sc) == LOOM_E_INVALID, "too many steps");
    free(s);

    /* many steps with alternation: variants are rendered on demand */
    s = repeat("[a|b|c] ", 8 * 1000, &n);
    T_OK(loom_prompt_schedule_parse(s, n, LOOM_PROMPT_MAX_STEPS, &sc));
    if (sc) {
        T_CHECK(loom_prompt_schedule_count(sc) == LOOM_PROMPT_MAX_STEPS, "alternation: %d variants",
                loom_prompt_schedule_count(sc));
        T_OK(loom_prompt_schedule_text(sc, 77777, &text, &len));
        T_CHECK(len == 1000 * 2, "alternation text: %zu bytes", len); /* 1000 × "x " */
        free(text);
        T_CHECK(loom_prompt_schedule_index(sc, 5 * LOOM_PROMPT_MAX_STEPS) == 0, "past the end: variant 0");
        loom_prompt_schedule_free(sc);
    }
    free(s);

    loom_tokenizer_close(tok);
    return t_finish("test_prompt_bad");
}
