/* prompt_util.c — buffers, UTF-8 stepping, Python `re` character classes and
 * Python's float()/int() syntax for the prompt parser (see prompt_util.h). */
#include "prompt_util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

/* ---- buffers -------------------------------------------------------------- */

loom_status loom_prompt_grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return LOOM_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
        c *= 2;
    }
    if (c > SIZE_MAX / size) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    void *p = realloc(*v, c * size);
    if (!p) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    *v = p;
    *cap = c;
    return LOOM_OK;
}

loom_status loom_prompt_buf_put(loom_prompt_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->n - 1) return loom_fail(LOOM_E_NOMEM, "prompt: out of memory");
    LOOM_TRY(loom_prompt_grow((void **)&b->p, &b->cap, b->n + n + 1, 1));
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return LOOM_OK;
}

loom_status loom_prompt_buf_take(loom_prompt_buf *b, char **out, size_t *out_len)
{
    if (!b->p) LOOM_TRY(loom_prompt_buf_put(b, "", 0));
    *out = b->p;
    if (out_len) *out_len = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    return LOOM_OK;
}

void loom_prompt_buf_free(loom_prompt_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *loom_prompt_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

size_t loom_prompt_utf8_at(const char *s, size_t n, size_t i, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t left = n - i;
    unsigned c = u[0];
    *cp = 0xFFFD;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 1;
    if (left < len) return 1;
    for (size_t k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) return 1;
        v = (v << 6) | (u[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 1;
    *cp = v;
    return len;
}

size_t loom_prompt_utf8_before(const char *s, size_t i, uint32_t *cp)
{
    /* a lead byte at most 3 bytes back whose sequence ends exactly at i */
    for (size_t back = 2; back <= 4 && back <= i; back++) {
        unsigned c = (unsigned char)s[i - back];
        if ((c & 0xC0) == 0x80) continue;
        uint32_t v;
        if (loom_prompt_utf8_at(s, i, i - back, &v) == back) {
            *cp = v;
            return i - back;
        }
        break;
    }
    unsigned c = (unsigned char)s[i - 1];
    *cp = c < 0x80 ? c : 0xFFFD;
    return i - 1;
}

/* ---- Python `re` classes ------------------------------------------------------ */

bool loom_prompt_is_space(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return cp != 0xFFFD && loom_uc_in_ranges(loom_uc_py_space, loom_uc_py_space_count, cp);
}

bool loom_prompt_is_word(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_';
    /* str.isalnum() is "a letter or has a numeric value": the L and N classes
     * (taken from the tokenizer's tables; U+FFFD, our malformed byte, is in neither) */
    return loom_uc_in_ranges(loom_uc_letter, loom_uc_letter_count, cp) ||
           loom_uc_in_ranges(loom_uc_number, loom_uc_number_count, cp);
}

bool loom_prompt_is_digit(uint32_t cp)
{
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return loom_uc_in_ranges(loom_uc_decimal, loom_uc_decimal_count, cp);
}

size_t loom_prompt_space_run(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n) {
        uint32_t cp;
        size_t k = loom_prompt_utf8_at(s, n, j, &cp);
        if (!loom_prompt_is_space(cp)) break;
        j += k;
    }
    return j - i;
}

/* ---- Python number syntax ----------------------------------------------------- */

/* The value 0-9 of a Unicode decimal digit: Unicode keeps every decimal digit
 * set in one contiguous run from 0 to 9, and the table's runs start at a 0. */
static int digit_value(uint32_t cp)
{
    if (cp < 0x80) return (int)cp - '0';
    size_t lo = 0, hi = loom_uc_decimal_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < loom_uc_decimal[mid].lo) hi = mid;
        else if (cp > loom_uc_decimal[mid].hi) lo = mid + 1;
        else return (int)((cp - loom_uc_decimal[mid].lo) % 10);
    }
    return -1;
}

/* CPython first maps Unicode spaces to ' ' and Unicode digits to ASCII (any
 * other non-ASCII character fails), strips ASCII whitespace, then drops
 * underscores that stand between two digits (any other '_' fails). The result
 * goes to `out` (n+1 bytes); returns its length, or -1 for a ValueError. */
static long py_number_ascii(const char *s, size_t n, char *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = loom_prompt_utf8_at(s, n, i, &cp);
        i += k;
        if (cp == 0) return -1;
        if (loom_prompt_is_space(cp)) out[m++] = ' ';
        else if (loom_prompt_is_digit(cp)) out[m++] = (char)('0' + digit_value(cp));
        else if (cp < 0x80) out[m++] = (char)cp;
        else return -1;
    }
    size_t a = 0, b = m;
    while (a < b && strchr(" \t\n\v\f\r", out[a])) a++;
    while (b > a && strchr(" \t\n\v\f\r", out[b - 1])) b--;
    size_t w = 0;
    char prev = 0;
    for (size_t i = a; i < b; i++) {
        char c = out[i];
        if (c == '_') {
            if (!(prev >= '0' && prev <= '9')) return -1;
        } else {
            if (prev == '_' && !(c >= '0' && c <= '9')) return -1;
            out[w++] = c;
        }
        prev = c;
    }
    if (prev == '_') return -1;
    out[w] = 0;
    return (long)w;
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n) return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return false;
    }
    return true;
}

bool loom_prompt_py_float(const char *s, size_t n, double *out)
{
    if (n > 4096) return false; /* a multiplier, never a book */
    char buf[4097];
    long m = py_number_ascii(s, n, buf);
    if (m <= 0) return false;
    const char *p = buf;
    size_t len = (size_t)m;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p == '-', p++, len--;
    if (ieq(p, len, "inf") || ieq(p, len, "infinity")) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (ieq(p, len, "nan")) {
        *out = neg ? -NAN : NAN;
        return true;
    }
    /* digits [. digits] | . digits, then an optional exponent; nothing else */
    size_t i = 0, mant = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') i++, mant++;
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9') i++, mant++;
    }
    if (mant == 0) return false;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) i++;
        size_t e = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') i++, e++;
        if (e == 0) return false;
    }
    if (i != len) return false;
    /* strtod in the C locale (loom never calls setlocale) is correctly rounded, as CPython's dtoa */
    *out = strtod(buf, NULL);
    return true;
}

bool loom_prompt_py_int(const char *s, size_t n, long long *out)
{
    if (n > 4096) return false;
    char buf[4097];
    long m = py_number_ascii(s, n, buf);
    if (m <= 0) return false;
    const char *p = buf;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p == '-', p++;
    if (!*p) return false;
    unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v) : (long long)v;
    return true;
}
