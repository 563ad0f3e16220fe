/* infotext.c — see infotext.h. */
#include "infotext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

const char *loom_py_float_repr(double v, char *buf, size_t n)
{
    if (isnan(v)) return snprintf(buf, n, "nan"), buf;
    if (isinf(v)) return snprintf(buf, n, v < 0 ? "-inf" : "inf"), buf;
    /* shortest digits that round-trip (Python's repr uses the same criterion) */
    char e[40];
    int prec = 0;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = "-d.ddde±XX": split into sign, digits and exponent */
    int neg = e[0] == '-';
    const char *m = e + neg;
    char digits[24];
    int nd = 0;
    for (const char *c = m; *c && *c != 'e'; c++)
        if (*c != '.') digits[nd++] = *c;
    digits[nd] = 0;
    int exp10 = atoi(strchr(e, 'e') + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    char out[64];
    size_t k = 0;
    if (neg) out[k++] = '-';
    if (exp10 >= -5 + 1 && exp10 < 16) { /* Python: fixed notation when -4 <= exp < 16 */
        if (exp10 < 0) {
            out[k++] = '0';
            out[k++] = '.';
            for (int i = 0; i < -exp10 - 1; i++) out[k++] = '0';
            for (int i = 0; i < nd; i++) out[k++] = digits[i];
        } else {
            for (int i = 0; i <= exp10; i++) out[k++] = i < nd ? digits[i] : '0';
            out[k++] = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++) out[k++] = digits[i];
            else
                out[k++] = '0';
        }
        out[k] = 0;
    } else { /* d[.ddd]e±XX with at least two exponent digits */
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < nd; i++) out[k++] = digits[i];
        }
        snprintf(out + k, sizeof out - k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    snprintf(buf, n, "%s", out);
    return buf;
}

/* json.dumps(value, ensure_ascii=False) */
static void put_json_string(sbuf *b, const char *s)
{
    puts_(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        case '\b': puts_(b, "\\b"); break;
        case '\f': puts_(b, "\\f"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                puts_(b, esc);
            } else {
                put(b, (const char *)c, 1);
            }
        }
    }
    puts_(b, "\"");
}

/* One "key: value" pair; A1111 quotes values holding ',', '\n' or ':'
 * (infotext_utils.quote) and writes only the key when value == key. */
static void put_pair(sbuf *b, int *first, const char *key, const char *value)
{
    if (!*first) puts_(b, ", ");
    *first = 0;
    if (!strcmp(key, value)) {
        puts_(b, key);
        return;
    }
    puts_(b, key);
    puts_(b, ": ");
    if (strpbrk(value, ",\n:"))
        put_json_string(b, value);
    else
        puts_(b, value);
}

/* Python's str.strip(): ASCII whitespace at both ends (enough for our text). */
static char *strip(char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n && strchr(" \t\n\r\v\f", s[i])) i++;
    while (n > i && strchr(" \t\n\r\v\f", s[n - 1])) n--;
    memmove(s, s + i, n - i);
    s[n - i] = 0;
    return s;
}

char *loom_infotext_format(const loom_infotext *p)
{
    sbuf b = {0};
    char v[64];
    int first = 1;
    puts_(&b, p->prompt ? p->prompt : "");
    if (p->negative_prompt && p->negative_prompt[0]) {
        puts_(&b, "\nNegative prompt: ");
        puts_(&b, p->negative_prompt);
    }
    puts_(&b, "\n");
    snprintf(v, sizeof v, "%d", p->steps);
    put_pair(&b, &first, "Steps", v);
    if (p->sampler) put_pair(&b, &first, "Sampler", p->sampler);
    if (p->schedule_type) put_pair(&b, &first, "Schedule type", p->schedule_type);
    put_pair(&b, &first, "CFG scale", loom_py_float_repr(p->cfg_scale, v, sizeof v));
    snprintf(v, sizeof v, "%lld", (long long)p->seed);
    put_pair(&b, &first, "Seed", v);
    snprintf(v, sizeof v, "%dx%d", p->width, p->height);
    put_pair(&b, &first, "Size", v);
    if (p->model_hash) put_pair(&b, &first, "Model hash", p->model_hash);
    if (p->model) put_pair(&b, &first, "Model", p->model);
    if (p->vae_hash) put_pair(&b, &first, "VAE hash", p->vae_hash);
    if (p->vae) put_pair(&b, &first, "VAE", p->vae);
    if (p->denoising_strength >= 0)
        put_pair(&b, &first, "Denoising strength", loom_py_float_repr(p->denoising_strength, v, sizeof v));
    if (p->clip_skip > 1) {
        snprintf(v, sizeof v, "%d", p->clip_skip);
        put_pair(&b, &first, "Clip skip", v);
    }
    if (p->rng) put_pair(&b, &first, "RNG", p->rng);
    for (int i = 0; i < p->n_extra && i < LOOM_INFOTEXT_MAX_EXTRA; i++)
        if (p->extra[i].key && p->extra[i].value) put_pair(&b, &first, p->extra[i].key, p->extra[i].value);
    if (p->version) put_pair(&b, &first, "Version", p->version);
    if (b.oom) {
        free(b.p);
        loom_fail(LOOM_E_NOMEM, "infotext: out of memory");
        return NULL;
    }
    return strip(b.p);
}
