/* prompt_networks.c — extra-network tags `<kind:arg:arg…>` (addons.md §4.2,
 * adapters.md §3.4): found with A1111's regex `<(\w+):([^>]+)>` in one
 * left-to-right pass (as re.sub), removed from the text, and returned with the
 * multipliers A1111's lora (alias lyco) and hypernet handlers derive. */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "prompt_util.h"

static void request_free(loom_net_request *r)
{
    free(r->kind);
    free(r->tag);
    free(r->name);
    for (int i = 0; i < r->n_args; i++) free(r->args[i]);
    free(r->args);
    memset(r, 0, sizeof *r);
}

void loom_net_list_free(loom_net_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) request_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* An argument with exactly one '=' is named (Python: len(item.split('=', 2)) == 2). */
static const char *named_value(const char *arg, size_t klen_want, const char *key)
{
    const char *eq = strchr(arg, '=');
    if (!eq || strchr(eq + 1, '=')) return NULL;
    if (key && ((size_t)(eq - arg) != klen_want || memcmp(arg, key, klen_want) != 0)) return NULL;
    return eq + 1;
}

const char *loom_net_request_named(const loom_net_request *r, const char *key)
{
    const char *v = NULL;
    for (int i = 0; i < r->n_args; i++) { /* a repeated key: the last wins, as in a dict */
        const char *x = named_value(r->args[i], strlen(key), key);
        if (x) v = x;
    }
    return v;
}

const char *loom_net_request_positional(const loom_net_request *r, int i)
{
    for (int k = 0; k < r->n_args; k++)
        if (!named_value(r->args[k], 0, NULL) && i-- == 0) return r->args[k];
    return NULL;
}

static loom_status bad_number(const loom_net_request *r, const char *what, const char *arg)
{
    char t[160], a[64];
    return loom_fail(LOOM_E_INVALID, "extra-network tag %s: %s '%s' is not a number",
                     loom_printable(r->tag, t, sizeof t), what, loom_printable(arg, a, sizeof a));
}

static loom_status get_float(const loom_net_request *r, const char *arg, const char *what, double *v)
{
    if (!loom_prompt_py_float(arg, strlen(arg), v)) return bad_number(r, what, arg);
    return LOOM_OK;
}

/* extra_networks_lora.py / extra_networks_hypernet.py argument rules (header comment). */
static loom_status derive_multipliers(loom_net_request *r)
{
    const char *p;
    if (!strcmp(r->kind, "hypernet")) {
        r->has_multipliers = 1;
        r->te = 1.0;
        if (r->n_args > 1) LOOM_TRY(get_float(r, r->args[1], "multiplier", &r->te));
        r->unet = r->te;
        r->name = loom_prompt_strndup(r->args[0], strlen(r->args[0]));
        return r->name ? LOOM_OK : loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    }
    int lora = !strcmp(r->kind, "lora") || !strcmp(r->kind, "lyco");
    const char *first = loom_net_request_positional(r, 0);
    if (!first) {
        if (!lora) return LOOM_OK;
        char t[160];
        return loom_fail(LOOM_E_INVALID, "extra-network tag %s: no network name",
                         loom_printable(r->tag, t, sizeof t));
    }
    r->name = loom_prompt_strndup(first, strlen(first));
    if (!r->name) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    if (!lora) return LOOM_OK;
    r->has_multipliers = 1;
    r->te = 1.0;
    if ((p = loom_net_request_positional(r, 1))) LOOM_TRY(get_float(r, p, "te multiplier", &r->te));
    if ((p = loom_net_request_named(r, "te"))) LOOM_TRY(get_float(r, p, "te multiplier", &r->te));
    r->unet = r->te;
    if ((p = loom_net_request_positional(r, 2))) LOOM_TRY(get_float(r, p, "unet multiplier", &r->unet));
    if ((p = loom_net_request_named(r, "unet"))) LOOM_TRY(get_float(r, p, "unet multiplier", &r->unet));
    const char *d = loom_net_request_positional(r, 3);
    if ((p = loom_net_request_named(r, "dyn"))) d = p;
    if (d) {
        if (!loom_prompt_py_int(d, strlen(d), &r->dyn)) {
            char t[160], a[64];
            return loom_fail(LOOM_E_INVALID, "extra-network tag %s: dyn '%s' is not an integer",
                             loom_printable(r->tag, t, sizeof t), loom_printable(d, a, sizeof a));
        }
        r->has_dyn = 1;
    }
    return LOOM_OK;
}

/* The tag s[i..end) with kind s[i+1..colon) and arguments s[colon+1..end-1). */
static loom_status add_request(loom_net_list *l, size_t *cap, const char *s, size_t i, size_t colon,
                               size_t end)
{
    LOOM_TRY(loom_prompt_grow((void **)&l->v, cap, (size_t)l->n + 1, sizeof *l->v));
    loom_net_request *r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    r->kind = loom_prompt_strndup(s + i + 1, colon - i - 1);
    r->tag = loom_prompt_strndup(s + i, end - i);
    size_t a = colon + 1, b = end - 1, count = 1;
    for (size_t k = a; k < b; k++) count += s[k] == ':';
    r->args = calloc(count, sizeof *r->args);
    if (!r->kind || !r->tag || !r->args) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    for (size_t k = a;; k++) {
        if (k == b || s[k] == ':') {
            if (!(r->args[r->n_args++] = loom_prompt_strndup(s + a, k - a)))
                return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
            if (k == b) break;
            a = k + 1;
        }
    }
    return derive_multipliers(r);
}

loom_status loom_prompt_extract_networks(const char *s, size_t n, char **out_text, size_t *out_len,
                                         loom_net_list *out)
{
    memset(out, 0, sizeof *out);
    *out_text = NULL;
    if (n > LOOM_PROMPT_MAX_BYTES)
        return loom_fail(LOOM_E_INVALID, "prompt: %zu bytes; the limit is %u", n, LOOM_PROMPT_MAX_BYTES);
    loom_prompt_buf text = {0};
    size_t cap = 0, copied = 0, gt = 0; /* gt: the first '>' at or after the last search point */
    loom_status st = LOOM_OK;
    for (size_t i = 0; i < n && st == LOOM_OK;) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        size_t k = i + 1;
        while (k < n) { /* \w+ */
            uint32_t cp;
            size_t len = loom_prompt_utf8_at(s, n, k, &cp);
            if (!loom_prompt_is_word(cp)) break;
            k += len;
        }
        if (k == i + 1 || k >= n || s[k] != ':') {
            i++;
            continue;
        }
        /* [^>]+ then '>': the first '>' after the colon, at least one byte on */
        if (gt <= k) {
            const char *g = memchr(s + k + 1, '>', n - k - 1);
            gt = g ? (size_t)(g - s) : n;
        }
        if (gt >= n || gt == k + 1) {
            i++;
            continue;
        }
        st = loom_prompt_buf_put(&text, s + copied, i - copied);
        if (st == LOOM_OK) st = add_request(out, &cap, s, i, k, gt + 1);
        copied = i = gt + 1;
    }
    if (st == LOOM_OK) st = loom_prompt_buf_put(&text, s + copied, n - copied);
    if (st == LOOM_OK) st = loom_prompt_buf_take(&text, out_text, out_len);
    if (st != LOOM_OK) {
        loom_prompt_buf_free(&text);
        loom_net_list_free(out);
    }
    return st;
}

loom_status loom_net_list_check(const loom_net_list *l, const char *const *accepted, const char *where)
{
    for (int i = 0; i < l->n; i++) {
        const loom_net_request *r = &l->v[i];
        int ok = 0;
        for (const char *const *a = accepted; a && *a && !ok; a++) ok = !strcmp(*a, r->kind);
        if (ok) continue;
        char t[160], k[64];
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: extra-network tag %s is not supported (no '%s' support yet)",
                         where, loom_printable(r->tag, t, sizeof t), loom_printable(r->kind, k, sizeof k));
    }
    return LOOM_OK;
}
