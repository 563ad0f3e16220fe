/* test_prompt.c — loom's A1111 prompt parser against expected values from
 * scripts/gen_fixtures_prompt.py (an independent Python re-implementation of
 * A1111's algorithms run over tests/fixtures/prompt/corpus.jsonl and generated
 * prompts): extra-network tags, AND parts, schedules (end steps, variant
 * texts, the variant of each denoiser call), emphasis pieces, and 77-id chunks
 * with weights and embedding fixes, with the real CLIP tokenizer. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "testlib.h"
#include "tokenizer.h"

static const loom_tokenizer *g_tok;

/* ---- JSON helpers ---------------------------------------------------------- */

static int str_eq(const json_t *j, const char *s, size_t n)
{
    return json_is_string(j) && json_string_length(j) == n && !memcmp(json_string_value(j), s, n);
}

/* Expands the generator's run-length arrays: a number, or [value, count]. */
static int rle_expand(const json_t *a, double *out, int max)
{
    int n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        double v = json_is_array(x) ? json_number_value(json_array_get(x, 0)) : json_number_value(x);
        int rep = json_is_array(x) ? (int)json_integer_value(json_array_get(x, 1)) : 1;
        for (int r = 0; r < rep; r++) {
            if (n >= max) return -1;
            out[n++] = v;
        }
    }
    return n;
}

/* A multiplier: a number, or "inf" / "-inf" / "nan" as a string. */
static int mult_eq(const json_t *j, double v)
{
    if (json_is_number(j)) return json_number_value(j) == v;
    const char *s = json_string_value(j);
    if (!s) return 0;
    if (!strcmp(s, "nan")) return isnan(v);
    if (!strcmp(s, "inf")) return v == HUGE_VAL;
    if (!strcmp(s, "-inf")) return v == -HUGE_VAL;
    return 0;
}

/* ---- extra networks, AND, schedules ------------------------------------------ */

static void check_networks(const char *p, size_t pn, const json_t *exp)
{
    char *text = NULL;
    size_t len = 0;
    loom_net_list l;
    loom_status st = loom_prompt_extract_networks(p, pn, &text, &len, &l);
    if (json_object_get(exp, "error")) {
        T_CHECK(st == LOOM_E_INVALID, "networks %s: expected error '%s', got %d", p,
                json_string_value(json_object_get(exp, "error")), st);
        free(text);
        loom_net_list_free(&l);
        return;
    }
    T_OK(st);
    if (st != LOOM_OK) return;
    T_CHECK(str_eq(json_object_get(exp, "text"), text, len), "networks %s: text '%s'", p, text);
    const json_t *tags = json_object_get(exp, "tags");
    T_CHECK((size_t)l.n == json_array_size(tags), "networks %s: %d tags", p, l.n);
    for (int i = 0; i < l.n && (size_t)i < json_array_size(tags); i++) {
        const loom_net_request *r = &l.v[i];
        const json_t *t = json_array_get(tags, i), *args = json_object_get(t, "args");
        const json_t *name = json_object_get(t, "name"), *te = json_object_get(t, "te");
        const json_t *dyn = json_object_get(t, "dyn");
        T_CHECK(str_eq(json_object_get(t, "kind"), r->kind, strlen(r->kind)), "%s: kind %s", p, r->kind);
        T_CHECK(str_eq(json_object_get(t, "tag"), r->tag, strlen(r->tag)), "%s: tag %s", p, r->tag);
        T_CHECK(json_is_null(name) ? !r->name : r->name && str_eq(name, r->name, strlen(r->name)),
                "%s: name %s", p, r->name ? r->name : "(none)");
        T_CHECK((size_t)r->n_args == json_array_size(args), "%s: %d args", p, r->n_args);
        for (int a = 0; a < r->n_args && (size_t)a < json_array_size(args); a++)
            T_CHECK(str_eq(json_array_get(args, a), r->args[a], strlen(r->args[a])), "%s: arg %d", p, a);
        T_CHECK(r->has_multipliers == !json_is_null(te), "%s: has_multipliers %d", p, r->has_multipliers);
        if (r->has_multipliers) {
            T_CHECK(mult_eq(te, r->te), "%s: te %.17g", p, r->te);
            T_CHECK(mult_eq(json_object_get(t, "unet"), r->unet), "%s: unet %.17g", p, r->unet);
        }
        T_CHECK(json_is_null(dyn) ? !r->has_dyn : r->has_dyn && r->dyn == json_integer_value(dyn),
                "%s: dyn %lld (%d)", p, r->dyn, r->has_dyn);
    }
    /* until adapters land every tag is refused, naming itself; accepted kinds pass */
    if (l.n > 0) {
        T_CHECK(loom_net_list_check(&l, NULL, "prompt") == LOOM_E_UNSUPPORTED, "%s: tags accepted", p);
        T_CHECK(strstr(loom_last_error(), l.v[0].kind) && !strchr(loom_last_error(), '\n'),
                "%s: message '%s'", p, loom_last_error());
        const char **kinds = calloc((size_t)l.n + 1, sizeof *kinds);
        for (int i = 0; i < l.n; i++) kinds[i] = l.v[i].kind;
        T_CHECK(loom_net_list_check(&l, kinds, "prompt") == LOOM_OK, "%s: accepted kinds refused", p);
        free(kinds);
    } else {
        T_CHECK(loom_net_list_check(&l, NULL, "prompt") == LOOM_OK, "%s: no tags refused", p);
    }
    free(text);
    loom_net_list_free(&l);
}

static void check_and(const char *base, size_t bn, const json_t *exp)
{
    loom_prompt_parts parts;
    T_OK(loom_prompt_split_and(base, bn, &parts));
    T_CHECK((size_t)parts.n == json_array_size(exp), "AND %s: %d parts", base, parts.n);
    for (int i = 0; i < parts.n && (size_t)i < json_array_size(exp); i++) {
        const json_t *e = json_array_get(exp, i);
        T_CHECK(str_eq(json_array_get(e, 0), parts.v[i].text, parts.v[i].len), "AND %s: part %d '%s'", base, i,
                parts.v[i].text);
        T_CHECK(json_number_value(json_array_get(e, 1)) == parts.v[i].weight, "AND %s: weight %.17g", base,
                parts.v[i].weight);
    }
    loom_prompt_parts_free(&parts);
}

static void check_schedule(const json_t *part, const json_t *exp, const json_t *texts)
{
    const char *p = json_string_value(part);
    size_t pn = json_string_length(part);
    int steps = (int)json_integer_value(json_object_get(exp, "steps"));
    const json_t *ends = json_object_get(exp, "ends"), *tx = json_object_get(exp, "texts");
    const json_t *index = json_object_get(exp, "index");
    loom_prompt_schedule *s;
    T_OK(loom_prompt_schedule_parse(p, pn, steps, &s));
    if (!s) return;
    int n = loom_prompt_schedule_count(s);
    T_CHECK((size_t)n == json_array_size(ends), "schedule '%s' (%d steps): %d variants", p, steps, n);
    for (int i = 0; i < n && (size_t)i < json_array_size(ends); i++) {
        T_CHECK(loom_prompt_schedule_end(s, i) == json_integer_value(json_array_get(ends, i)),
                "schedule '%s' (%d steps): end %d = %d", p, steps, i, loom_prompt_schedule_end(s, i));
        char *t;
        size_t tn;
        T_OK(loom_prompt_schedule_text(s, i, &t, &tn));
        const json_t *want = json_object_get(json_array_get(texts, (size_t)json_integer_value(json_array_get(tx, i))),
                                             "text");
        T_CHECK(t && str_eq(want, t, tn), "schedule '%s' (%d steps): variant %d '%s', want '%s'", p, steps, i,
                t ? t : "", json_string_value(want));
        free(t);
    }
    for (size_t k = 0; k < json_array_size(index); k++)
        T_CHECK(loom_prompt_schedule_index(s, (int)k) == json_integer_value(json_array_get(index, k)),
                "schedule '%s': denoiser call %zu uses %d", p, k, loom_prompt_schedule_index(s, (int)k));
    loom_prompt_schedule_free(s);
}

/* ---- emphasis and chunks ------------------------------------------------------ */

/* Textual-inversion lookup as A1111's embedding database: names tokenized, the
 * candidates of a first id tried longest first (registration order on ties). */
typedef struct emb {
    int32_t *ids;
    int n, vectors;
} emb;
static emb g_emb[8];
static int g_n_emb;

static int find_embedding(void *user, const int32_t *tokens, size_t n, size_t pos, int *vectors, int *handle)
{
    int best = -1;
    for (int e = 0; e < g_n_emb; e++) {
        if ((size_t)g_emb[e].n > n - pos || memcmp(tokens + pos, g_emb[e].ids, (size_t)g_emb[e].n * 4)) continue;
        if (best < 0 || g_emb[e].n > g_emb[best].n) best = e;
    }
    if (best < 0) return 0;
    *vectors = g_emb[best].vectors;
    *handle = best;
    return g_emb[best].n;
}

static void check_chunk_ids(const char *t, const char *what, const loom_prompt_chunks *c, const json_t *ids)
{
    T_CHECK((size_t)c->n == json_array_size(ids), "%s '%.60s': %d chunks, want %zu", what, t, c->n,
            json_array_size(ids));
    for (int k = 0; k < c->n && (size_t)k < json_array_size(ids); k++) {
        double want[LOOM_CHUNK_IDS + 1];
        int n = rle_expand(json_array_get(ids, k), want, LOOM_CHUNK_IDS + 1), bad = -1;
        for (int i = 0; i < LOOM_CHUNK_IDS && bad < 0; i++)
            if (n != LOOM_CHUNK_IDS || c->v[k].ids[i] != (int32_t)want[i]) bad = i;
        T_CHECK(bad < 0, "%s '%.60s': chunk %d id %d is %d, want %g", what, t, k, bad, bad >= 0 ? c->v[k].ids[bad] : 0,
                bad >= 0 && bad < n ? want[bad] : -1.0);
    }
}

static void check_text(const json_t *e)
{
    const json_t *jt = json_object_get(e, "text");
    const char *t = json_string_value(jt);
    size_t tn = json_string_length(jt);
    loom_prompt_pieces pc;
    loom_status st = loom_prompt_parse_emphasis(t, tn, &pc);
    if (json_object_get(e, "error")) {
        T_CHECK(st == LOOM_E_INVALID, "emphasis '%s': expected an error, got %d", t, st);
        return;
    }
    T_OK(st);
    const json_t *pieces = json_object_get(e, "pieces");
    T_CHECK((size_t)pc.n == json_array_size(pieces), "emphasis '%.60s': %d pieces", t, pc.n);
    for (int i = 0; i < pc.n && (size_t)i < json_array_size(pieces); i++) {
        const json_t *x = json_array_get(pieces, i);
        T_CHECK(str_eq(json_array_get(x, 0), pc.v[i].text, pc.v[i].len), "emphasis '%.60s': piece %d '%s'", t, i,
                pc.v[i].text);
        T_CHECK(json_number_value(json_array_get(x, 1)) == pc.v[i].weight, "emphasis '%.60s': weight %d %.17g", t,
                i, pc.v[i].weight);
    }
    loom_prompt_pieces_free(&pc);

    loom_prompt_chunk_opts o = loom_prompt_chunk_defaults(g_tok);
    o.find_embedding = find_embedding;
    loom_prompt_chunks c;
    T_OK(loom_prompt_to_chunks(t, tn, &o, &c));
    check_chunk_ids(t, "chunks", &c, json_object_get(e, "ids"));
    const json_t *ws = json_object_get(e, "weights"), *fixes = json_object_get(e, "fixes");
    for (int k = 0; k < c.n && (size_t)k < json_array_size(ws); k++) {
        double want[LOOM_CHUNK_IDS + 1];
        int n = rle_expand(json_array_get(ws, k), want, LOOM_CHUNK_IDS + 1), bad = -1;
        for (int i = 0; i < LOOM_CHUNK_IDS && bad < 0; i++)
            if (n != LOOM_CHUNK_IDS || c.v[k].weights[i] != want[i]) bad = i;
        T_CHECK(bad < 0, "chunks '%.60s': chunk %d weight %d is %.17g", t, k, bad, bad >= 0 ? c.v[k].weights[bad] : 0);
        const json_t *f = json_array_get(fixes, k);
        T_CHECK((size_t)c.v[k].n_fixes == json_array_size(f), "chunks '%.60s': chunk %d has %d fixes", t, k,
                c.v[k].n_fixes);
        for (int i = 0; i < c.v[k].n_fixes && (size_t)i < json_array_size(f); i++)
            T_CHECK(c.v[k].fixes[i].offset == json_integer_value(json_array_get(json_array_get(f, i), 0)) &&
                        c.v[k].fixes[i].handle == json_integer_value(json_array_get(json_array_get(f, i), 1)),
                    "chunks '%.60s': chunk %d fix %d = (%d, %d)", t, k, i, c.v[k].fixes[i].offset,
                    c.v[k].fixes[i].handle);
    }
    T_CHECK(c.token_count == json_integer_value(json_object_get(e, "token_count")), "chunks '%.60s': %d tokens", t,
            c.token_count);
    if (json_object_get(e, "ids_pad0")) {
        loom_prompt_chunks_set_pad(&c, LOOM_TOKEN_EOS, 0);
        check_chunk_ids(t, "chunks padded with 0", &c, json_object_get(e, "ids_pad0"));
    }
    loom_prompt_chunks_free(&c);

    if (json_object_get(e, "ids_no_emphasis")) {
        o.no_emphasis = 1;
        T_OK(loom_prompt_to_chunks(t, tn, &o, &c));
        check_chunk_ids(t, "chunks without emphasis", &c, json_object_get(e, "ids_no_emphasis"));
        loom_prompt_chunks_free(&c);
    }
}

static void check_pad(const json_t *empty)
{
    loom_prompt_chunk_opts o = loom_prompt_chunk_defaults(g_tok);
    loom_prompt_chunks c;
    T_OK(loom_prompt_to_chunks("a cat", 5, &o, &c));
    T_OK(loom_prompt_chunks_pad(&c, 3, LOOM_TOKEN_BOS, LOOM_TOKEN_EOS));
    T_CHECK(c.n == 3, "padded to %d chunks", c.n);
    json_t *two = json_array();
    json_array_append(two, (json_t *)empty);
    json_array_append(two, (json_t *)empty);
    loom_prompt_chunks tail = {2, c.v + 1, 0};
    check_chunk_ids("a cat", "empty chunks", &tail, two);
    for (int k = 1; k < c.n; k++)
        for (int i = 0; i < LOOM_CHUNK_IDS; i++) T_CHECK(c.v[k].weights[i] == 1.0, "pad weight %d %d", k, i);
    json_decref(two);
    loom_prompt_chunks_free(&c);
}

int main(void)
{
    json_error_t err;
    json_t *root = json_load_file(t_fixture("prompt/expected.json"), 0, &err);
    T_CHECK(root != NULL, "expected.json: %s (line %d)", err.text, err.line);
    if (!root) return t_finish("test_prompt");
    loom_tokenizer *tok = NULL;
    T_OK(loom_tokenizer_open(NULL, &tok));
    if (!tok) return t_finish("test_prompt");
    g_tok = tok;
    T_CHECK(json_integer_value(json_object_get(root, "comma_padding_backtrack")) ==
                loom_prompt_chunk_defaults(tok).comma_backtrack,
            "comma backtrack");

    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(root, "embeddings"), i, x) {
        const json_t *name = json_array_get(x, 0);
        int cap = 0;
        emb *e = &g_emb[g_n_emb++];
        T_OK(loom_tokenize(tok, json_string_value(name), json_string_length(name), &e->ids, &e->n, &cap));
        e->vectors = (int)json_integer_value(json_array_get(x, 1));
    }

    const json_t *texts = json_object_get(root, "texts");
    json_array_foreach(json_object_get(root, "cases"), i, x) {
        const json_t *jp = json_object_get(x, "prompt"), *net = json_object_get(x, "networks");
        const json_t *parts = json_object_get(x, "and");
        check_networks(json_string_value(jp), json_string_length(jp), net);
        if (!json_is_true(json_object_get(x, "negative"))) {
            const json_t *base = json_object_get(net, "text");
            check_and(json_string_value(base), json_string_length(base), parts);
        }
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(x, "schedules"), k, s)
            check_schedule(json_array_get(json_array_get(parts, (size_t)json_integer_value(json_object_get(s, "part"))), 0),
                           s, texts);
    }
    json_array_foreach(texts, i, x) check_text(x);
    check_pad(json_object_get(root, "empty_chunk"));

    printf("%zu cases, %zu texts\n", json_array_size(json_object_get(root, "cases")), json_array_size(texts));
    for (int e = 0; e < g_n_emb; e++) free(g_emb[e].ids);
    loom_tokenizer_close(tok);
    json_decref(root);
    return t_finish("test_prompt");
}
