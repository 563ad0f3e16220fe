/* pickle.c — the opcode machine of the restricted unpickler (see pickle.h):
 * reading operands, the stack with its marks, the memo, and the opcodes of
 * addons.md §5.3 — exactly those; any other opcode is an error. What the
 * object-making opcodes mean (GLOBAL, REDUCE, NEWOBJ, BUILD, BINPERSID) is
 * decided in pickle_reduce.c. */
#include "pickle_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"None", "bool",  "int",   "int",    "float",   "str",    "bytes",
                                         "tuple", "list", "dict", "global", "storage", "tensor", "object"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == LOOM_PV_KIND_COUNT, "kind table");

const char *loom_pv_kind_name(loom_pv_kind k) { return (unsigned)k < LOOM_PV_KIND_COUNT ? kind_names[k] : "?"; }

const char *loom_pk_shown(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = 0;
    if (s[i] && n >= 4) memcpy(buf + n - 4, "...", 4);
    return buf;
}

loom_status loom_pk_fail(loom_pk *p, loom_status code, const char *fmt, ...)
{
    char msg[400], where[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!p->have_op) snprintf(where, sizeof where, "at offset %zu", p->op_pos);
    else if (p->op >= 0x21 && p->op < 0x7f)
        snprintf(where, sizeof where, "opcode 0x%02x '%c' at offset %zu", p->op, p->op, p->op_pos);
    else snprintf(where, sizeof where, "opcode 0x%02x at offset %zu", p->op, p->op_pos);
    p->err = code;
    return loom_fail(code, "%s: %s (%s)", p->what, msg, where);
}

void *loom_pk_alloc(loom_pk *p, size_t n)
{
    if (n > LOOM_PICKLE_MAX_MEMORY || p->arena->used_total - p->arena_start > LOOM_PICKLE_MAX_MEMORY - n) {
        loom_pk_fail(p, LOOM_E_FORMAT, "pickle needs more than %llu bytes of values",
                     (unsigned long long)LOOM_PICKLE_MAX_MEMORY);
        return NULL;
    }
    void *r = loom_arena_alloc(p->arena, n);
    if (!r) loom_pk_fail(p, LOOM_E_NOMEM, "out of memory");
    return r;
}

loom_pickle_value *loom_pk_new(loom_pk *p, loom_pv_kind k)
{
    if (p->n_values >= LOOM_PICKLE_MAX_VALUES) {
        loom_pk_fail(p, LOOM_E_FORMAT, "pickle has more than %d values", LOOM_PICKLE_MAX_VALUES);
        return NULL;
    }
    loom_pickle_value *v = loom_pk_alloc(p, sizeof *v);
    if (!v) return NULL;
    p->n_values++;
    v->kind = k;
    return v;
}

loom_pickle_value *loom_pk_new_str(loom_pk *p, loom_pv_kind k, const char *s, size_t n)
{
    loom_pickle_value *v = loom_pk_new(p, k);
    char *c = v && n < SIZE_MAX ? loom_pk_alloc(p, n + 1) : NULL;
    if (!c) return NULL;
    if (n) memcpy(c, s, n);
    v->u.str.data = c;
    v->u.str.len = n;
    return v;
}

/* Grows an array of value pointers in the arena (the old copy stays there:
 * doubling keeps the waste below the final size). */
static loom_status grow(loom_pk *p, loom_pickle_value ***arr, size_t n, size_t *cap)
{
    if (n < *cap) return LOOM_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    loom_pickle_value **a = nc < SIZE_MAX / sizeof *a ? loom_pk_alloc(p, nc * sizeof *a) : NULL;
    if (!a) return p->err ? p->err : LOOM_E_NOMEM;
    if (n) memcpy(a, *arr, n * sizeof *a);
    *arr = a;
    *cap = nc;
    return LOOM_OK;
}

loom_status loom_pk_seq_push(loom_pk *p, loom_pickle_value *seq, loom_pickle_value *item)
{
    LOOM_TRY(grow(p, &seq->u.seq.items, seq->u.seq.n, &seq->u.seq.cap));
    seq->u.seq.items[seq->u.seq.n++] = item;
    return LOOM_OK;
}

loom_status loom_pk_dict_set(loom_pk *p, loom_pickle_value *d, loom_pickle_value *k, loom_pickle_value *v)
{
    size_t cap = d->u.dict.cap;
    LOOM_TRY(grow(p, &d->u.dict.keys, d->u.dict.n, &cap));
    LOOM_TRY(grow(p, &d->u.dict.vals, d->u.dict.n, &d->u.dict.cap));
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return LOOM_OK;
}

/* ---- operands ------------------------------------------------------------ */

static loom_status truncated(loom_pk *p) { return loom_pk_fail(p, LOOM_E_FORMAT, "pickle is truncated"); }

static loom_status rd_bytes(loom_pk *p, uint64_t n, const uint8_t **out)
{
    if (n > p->size - p->pos) return truncated(p);
    *out = p->data + p->pos;
    p->pos += (size_t)n;
    return LOOM_OK;
}

static loom_status rd_uint(loom_pk *p, int nbytes, uint64_t *out)
{
    const uint8_t *b = NULL;
    LOOM_TRY(rd_bytes(p, (uint64_t)nbytes, &b));
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--) v = v << 8 | b[i];
    *out = v;
    return LOOM_OK;
}

/* A protocol-0 text operand: the bytes up to '\n' (excluded). */
static loom_status rd_line(loom_pk *p, const char **s, size_t *n)
{
    const uint8_t *start = p->data + p->pos, *nl = memchr(start, '\n', p->size - p->pos);
    if (!nl) return truncated(p);
    *s = (const char *)start;
    *n = (size_t)(nl - start);
    p->pos += *n + 1;
    return LOOM_OK;
}

/* ---- stack, marks, memo --------------------------------------------------- */

static size_t fence(const loom_pk *p) { return p->n_marks ? p->marks[p->n_marks - 1] : 0; }

static loom_status push(loom_pk *p, loom_pickle_value *v)
{
    if (!v) return p->err ? p->err : LOOM_E_NOMEM;
    if (p->sp + p->n_marks >= LOOM_PICKLE_MAX_STACK)
        return loom_pk_fail(p, LOOM_E_FORMAT, "pickle stack deeper than %d entries", LOOM_PICKLE_MAX_STACK);
    if (p->sp == p->stack_cap) {
        size_t nc = p->stack_cap ? p->stack_cap * 2 : 64;
        loom_pickle_value **s = realloc(p->stack, nc * sizeof *s);
        if (!s) return loom_pk_fail(p, LOOM_E_NOMEM, "out of memory");
        p->stack = s;
        p->stack_cap = nc;
    }
    p->stack[p->sp++] = v;
    return LOOM_OK;
}

static loom_status underflow(loom_pk *p) { return loom_pk_fail(p, LOOM_E_FORMAT, "pickle stack underflow"); }

static loom_status pop(loom_pk *p, loom_pickle_value **v)
{
    if (p->sp <= fence(p)) return underflow(p);
    *v = p->stack[--p->sp];
    return LOOM_OK;
}

static loom_status peek(loom_pk *p, loom_pickle_value **v)
{
    if (p->sp <= fence(p)) return underflow(p);
    *v = p->stack[p->sp - 1];
    return LOOM_OK;
}

static loom_status push_mark(loom_pk *p)
{
    if (p->sp + p->n_marks >= LOOM_PICKLE_MAX_STACK)
        return loom_pk_fail(p, LOOM_E_FORMAT, "pickle stack deeper than %d entries", LOOM_PICKLE_MAX_STACK);
    if (p->n_marks == p->marks_cap) {
        size_t nc = p->marks_cap ? p->marks_cap * 2 : 16;
        size_t *m = realloc(p->marks, nc * sizeof *m);
        if (!m) return loom_pk_fail(p, LOOM_E_NOMEM, "out of memory");
        p->marks = m;
        p->marks_cap = nc;
    }
    p->marks[p->n_marks++] = p->sp;
    return LOOM_OK;
}

/* Items since the last MARK are stack[*base .. p->sp); the caller drops them. */
static loom_status pop_mark(loom_pk *p, size_t *base)
{
    if (!p->n_marks) return loom_pk_fail(p, LOOM_E_FORMAT, "no MARK on the pickle stack");
    *base = p->marks[--p->n_marks];
    return LOOM_OK;
}

static loom_status memo_put(loom_pk *p, uint64_t idx)
{
    loom_pickle_value *v = NULL;
    LOOM_TRY(peek(p, &v));
    /* A pickler numbers memo entries 0, 1, 2, … so an index never exceeds
     * the number of values; the bound keeps the memo array small. */
    if (idx >= LOOM_PICKLE_MAX_VALUES)
        return loom_pk_fail(p, LOOM_E_FORMAT, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= p->memo_cap) {
        size_t nc = p->memo_cap ? p->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        loom_pickle_value **m = realloc(p->memo, nc * sizeof *m);
        if (!m) return loom_pk_fail(p, LOOM_E_NOMEM, "out of memory");
        memset(m + p->memo_cap, 0, (nc - p->memo_cap) * sizeof *m);
        p->memo = m;
        p->memo_cap = nc;
    }
    if (!p->memo[idx]) p->memo_count++;
    p->memo[idx] = v;
    return LOOM_OK;
}

static loom_status memo_get(loom_pk *p, uint64_t idx)
{
    if (idx >= p->memo_cap || !p->memo[idx])
        return loom_pk_fail(p, LOOM_E_FORMAT, "memo entry %llu is not set", (unsigned long long)idx);
    return push(p, p->memo[idx]);
}

/* ---- scalars -------------------------------------------------------------- */

static loom_status push_int(loom_pk *p, int64_t i)
{
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_INT);
    if (v) v->u.i = i;
    return push(p, v);
}

static loom_status push_bool(loom_pk *p, int b)
{
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_BOOL);
    if (v) v->u.b = b;
    return push(p, v);
}

static loom_status push_float(loom_pk *p, double f)
{
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_FLOAT);
    if (v) v->u.f = f;
    return push(p, v);
}

/* LONG1/LONG4: little-endian two's complement of any length. */
static loom_status push_long(loom_pk *p, const uint8_t *b, uint64_t n)
{
    int neg = n && (b[n - 1] & 0x80);
    uint64_t sig = n; /* drop sign-extension bytes beyond the 8 that fit */
    while (sig > 8 && b[sig - 1] == (neg ? 0xFF : 0x00)) sig--;
    if (sig <= 8 && !(sig == 8 && ((b[7] & 0x80) != 0) != neg)) {
        uint64_t u = neg ? UINT64_MAX : 0;
        for (uint64_t i = 0; i < sig; i++) u = (u & ~((uint64_t)0xFF << (8 * i))) | (uint64_t)b[i] << (8 * i);
        int64_t v;
        memcpy(&v, &u, sizeof v); /* two's complement reinterpretation */
        return push_int(p, v);
    }
    return push(p, loom_pk_new_str(p, LOOM_PV_BIGINT, (const char *)b, (size_t)n));
}

/* INT / LONG text forms ("I01" / "I00" are True / False). */
static loom_status push_text_int(loom_pk *p, const char *s, size_t n, int is_long)
{
    if (!is_long && n == 2 && !memcmp(s, "01", 2)) return push_bool(p, 1);
    if (!is_long && n == 2 && !memcmp(s, "00", 2)) return push_bool(p, 0);
    if (is_long && n && s[n - 1] == 'L') n--;
    char buf[32];
    if (n == 0 || n >= sizeof buf) return loom_pk_fail(p, LOOM_E_FORMAT, "bad or too long integer literal");
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno)
        return loom_pk_fail(p, LOOM_E_FORMAT, "bad integer literal '%s'", loom_pk_shown(buf, buf, sizeof buf));
    return push_int(p, v);
}

static loom_status push_text_float(loom_pk *p, const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return loom_pk_fail(p, LOOM_E_FORMAT, "bad or too long float literal");
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double f = strtod(buf, &end);
    if (*end) return loom_pk_fail(p, LOOM_E_FORMAT, "bad float literal '%s'", loom_pk_shown(buf, buf, sizeof buf));
    return push_float(p, f);
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* STRING ('quoted', Python escapes) and UNICODE (raw-unicode-escape: bytes are
 * Latin-1 code points, \uXXXX and \UXXXXXXXX escapes). Output is UTF-8; it is
 * at most 4× the input, so the buffer is sized up front. */
static loom_status push_text_str(loom_pk *p, const char *s, size_t n, int unicode)
{
    if (!unicode) {
        if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
            return loom_pk_fail(p, LOOM_E_FORMAT, "STRING operand is not quoted");
        s++;
        n -= 2;
    }
    char *o = n < SIZE_MAX / 4 ? loom_pk_alloc(p, 4 * n + 1) : NULL;
    if (!o) return p->err;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\' || i + 1 == n) {
            k += unicode ? put_utf8(o + k, c) : (o[k] = (char)c, 1);
            continue;
        }
        char e = s[++i];
        int digits = unicode ? (e == 'u' ? 4 : e == 'U' ? 8 : 0) : (e == 'x' ? 2 : 0);
        if (digits) {
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = i + 1 < n ? hexval(s[++i]) : -1;
                if (h < 0) return loom_pk_fail(p, LOOM_E_FORMAT, "bad \\%c escape in a text string", e);
                cp = cp << 4 | (uint32_t)h;
            }
            if (cp > 0x10FFFF) return loom_pk_fail(p, LOOM_E_FORMAT, "code point beyond U+10FFFF");
            k += unicode ? put_utf8(o + k, cp) : (o[k] = (char)cp, 1);
        } else if (unicode) { /* raw-unicode-escape keeps other backslashes */
            o[k++] = '\\';
            k += put_utf8(o + k, (unsigned char)e);
        } else {
            const char *from = "ntr\\'\"abfv", *to = "\n\t\r\\'\"\a\b\f\v";
            const char *f = e ? strchr(from, e) : NULL;
            if (!f) return loom_pk_fail(p, LOOM_E_FORMAT, "unsupported escape in a STRING operand");
            o[k++] = to[f - from];
        }
    }
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_STR);
    if (v) {
        o[k] = 0;
        v->u.str.data = o;
        v->u.str.len = k;
    }
    return push(p, v);
}

/* Length-prefixed str/bytes with an nbytes little-endian length. */
static loom_status push_counted(loom_pk *p, int nbytes, loom_pv_kind kind)
{
    uint64_t n = 0;
    const uint8_t *b = NULL;
    LOOM_TRY(rd_uint(p, nbytes, &n));
    if (nbytes == 4 && kind == LOOM_PV_STR && p->op == 'T' && (n & 0x80000000u))
        return loom_pk_fail(p, LOOM_E_FORMAT, "negative BINSTRING length");
    LOOM_TRY(rd_bytes(p, n, &b));
    return push(p, loom_pk_new_str(p, kind, (const char *)b, (size_t)n));
}

/* ---- containers ------------------------------------------------------------ */

/* TUPLE, LIST, FROZENSET: the items since the last MARK become a new sequence. */
static loom_status collect(loom_pk *p, loom_pv_kind kind)
{
    size_t base = 0;
    LOOM_TRY(pop_mark(p, &base));
    loom_pickle_value *v = loom_pk_new(p, kind);
    if (!v) return p->err;
    for (size_t i = base; i < p->sp; i++) LOOM_TRY(loom_pk_seq_push(p, v, p->stack[i]));
    p->sp = base;
    return push(p, v);
}

static loom_status tuple_n(loom_pk *p, size_t n)
{
    if (p->sp - fence(p) < n) return underflow(p);
    loom_pickle_value *v = loom_pk_new(p, LOOM_PV_TUPLE);
    if (!v) return p->err;
    for (size_t i = p->sp - n; i < p->sp; i++) LOOM_TRY(loom_pk_seq_push(p, v, p->stack[i]));
    p->sp -= n;
    return push(p, v);
}

/* APPEND(S)/ADDITEMS: stack[base..sp) go into the list (or object) below. */
static loom_status append_items(loom_pk *p, size_t base, int set_only)
{
    if (base == 0 || base - 1 < fence(p)) return underflow(p);
    loom_pickle_value *t = p->stack[base - 1];
    if (t->kind == LOOM_PV_OBJECT && !set_only) {
        if (!t->u.object.list && !(t->u.object.list = loom_pk_new(p, LOOM_PV_LIST))) return p->err;
        t = t->u.object.list;
    }
    if (t->kind != LOOM_PV_LIST)
        return loom_pk_fail(p, LOOM_E_FORMAT, "cannot append to a %s", loom_pv_kind_name(t->kind));
    for (size_t i = base; i < p->sp; i++) LOOM_TRY(loom_pk_seq_push(p, t, p->stack[i]));
    p->sp = base;
    return LOOM_OK;
}

/* SETITEM(S): key/value pairs stack[base..sp) go into the dict (or object) below. */
static loom_status set_items(loom_pk *p, size_t base)
{
    if (base == 0 || base - 1 < fence(p)) return underflow(p);
    if ((p->sp - base) % 2) return loom_pk_fail(p, LOOM_E_FORMAT, "odd number of items for SETITEMS");
    loom_pickle_value *d = p->stack[base - 1];
    if (d->kind == LOOM_PV_OBJECT) {
        if (!d->u.object.items && !(d->u.object.items = loom_pk_new(p, LOOM_PV_DICT))) return p->err;
        d = d->u.object.items;
    }
    if (d->kind != LOOM_PV_DICT)
        return loom_pk_fail(p, LOOM_E_FORMAT, "cannot set items of a %s", loom_pv_kind_name(d->kind));
    for (size_t i = base; i < p->sp; i += 2) LOOM_TRY(loom_pk_dict_set(p, d, p->stack[i], p->stack[i + 1]));
    p->sp = base;
    return LOOM_OK;
}

/* ---- the machine --------------------------------------------------------------- */

static loom_status step(loom_pk *p, loom_pickle_value **result)
{
    uint64_t u = 0;
    const uint8_t *b = NULL;
    const char *s = NULL, *s2 = NULL;
    size_t n = 0, n2 = 0, base = 0;
    loom_pickle_value *v = NULL, *w = NULL, *x = NULL;
    switch (p->op) {
    case 0x80: /* PROTO */
        LOOM_TRY(rd_uint(p, 1, &u));
        if (u > 5) return loom_pk_fail(p, LOOM_E_UNSUPPORTED, "pickle protocol %u (loom reads 2 to 5)", (unsigned)u);
        return LOOM_OK;
    case 0x95: /* FRAME: a length hint */
        LOOM_TRY(rd_uint(p, 8, &u));
        return u > p->size - p->pos ? truncated(p) : LOOM_OK;
    case '.': /* STOP */
        LOOM_TRY(pop(p, result));
        return LOOM_OK;
    case '}': return push(p, loom_pk_new(p, LOOM_PV_DICT));
    case ']': case 0x8f: return push(p, loom_pk_new(p, LOOM_PV_LIST)); /* EMPTY_LIST, EMPTY_SET */
    case ')': return push(p, loom_pk_new(p, LOOM_PV_TUPLE));
    case '(': return push_mark(p);
    case 't': return collect(p, LOOM_PV_TUPLE);
    case 'l': case 0x91: return collect(p, LOOM_PV_LIST); /* LIST, FROZENSET */
    case 0x85: case 0x86: case 0x87: return tuple_n(p, (size_t)(p->op - 0x84));
    case 'a': /* APPEND */
        if (p->sp < fence(p) + 2) return underflow(p);
        return append_items(p, p->sp - 1, 0);
    case 'e': case 0x90: /* APPENDS, ADDITEMS */
        LOOM_TRY(pop_mark(p, &base));
        return append_items(p, base, p->op == 0x90);
    case 's': /* SETITEM */
        if (p->sp < fence(p) + 3) return underflow(p);
        return set_items(p, p->sp - 2);
    case 'u': /* SETITEMS */
        LOOM_TRY(pop_mark(p, &base));
        return set_items(p, base);
    case 'X': return push_counted(p, 4, LOOM_PV_STR);    /* BINUNICODE */
    case 0x8c: return push_counted(p, 1, LOOM_PV_STR);   /* SHORT_BINUNICODE */
    case 0x8d: return push_counted(p, 8, LOOM_PV_STR);   /* BINUNICODE8 */
    case 'T': return push_counted(p, 4, LOOM_PV_STR);    /* BINSTRING (py2 str, read as UTF-8 like torch.load) */
    case 'U': return push_counted(p, 1, LOOM_PV_STR);    /* SHORT_BINSTRING */
    case 'B': return push_counted(p, 4, LOOM_PV_BYTES);  /* BINBYTES */
    case 'C': return push_counted(p, 1, LOOM_PV_BYTES);  /* SHORT_BINBYTES */
    case 0x8e: return push_counted(p, 8, LOOM_PV_BYTES); /* BINBYTES8 */
    case 'K': LOOM_TRY(rd_uint(p, 1, &u)); return push_int(p, (int64_t)u);
    case 'M': LOOM_TRY(rd_uint(p, 2, &u)); return push_int(p, (int64_t)u);
    case 'J': /* BININT: signed 32-bit */
        LOOM_TRY(rd_uint(p, 4, &u));
        return push_int(p, u >= 0x80000000u ? (int64_t)u - 0x100000000ll : (int64_t)u);
    case 0x8a: /* LONG1 */
        LOOM_TRY(rd_uint(p, 1, &u));
        LOOM_TRY(rd_bytes(p, u, &b));
        return push_long(p, b, u);
    case 0x8b: /* LONG4 */
        LOOM_TRY(rd_uint(p, 4, &u));
        if (u & 0x80000000u) return loom_pk_fail(p, LOOM_E_FORMAT, "negative LONG4 length");
        LOOM_TRY(rd_bytes(p, u, &b));
        return push_long(p, b, u);
    case 'I': case 'L': LOOM_TRY(rd_line(p, &s, &n)); return push_text_int(p, s, n, p->op == 'L');
    case 'F': LOOM_TRY(rd_line(p, &s, &n)); return push_text_float(p, s, n);
    case 'S': case 'V': LOOM_TRY(rd_line(p, &s, &n)); return push_text_str(p, s, n, p->op == 'V');
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        LOOM_TRY(rd_bytes(p, 8, &b));
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | b[i];
        double f;
        memcpy(&f, &bits, sizeof f);
        return push_float(p, f);
    }
    case 0x88: return push_bool(p, 1);
    case 0x89: return push_bool(p, 0);
    case 'N': return push(p, loom_pk_new(p, LOOM_PV_NONE));
    case 'q': LOOM_TRY(rd_uint(p, 1, &u)); return memo_put(p, u);
    case 'r': LOOM_TRY(rd_uint(p, 4, &u)); return memo_put(p, u);
    case 0x94: return memo_put(p, p->memo_count); /* MEMOIZE */
    case 'h': LOOM_TRY(rd_uint(p, 1, &u)); return memo_get(p, u);
    case 'j': LOOM_TRY(rd_uint(p, 4, &u)); return memo_get(p, u);
    case 'c': /* GLOBAL "module\nname\n" */
        LOOM_TRY(rd_line(p, &s, &n));
        LOOM_TRY(rd_line(p, &s2, &n2));
        if (memchr(s, 0, n) || memchr(s2, 0, n2))
            return loom_pk_fail(p, LOOM_E_FORMAT, "NUL byte in a GLOBAL name");
        v = loom_pk_new_str(p, LOOM_PV_STR, s, n);
        w = v ? loom_pk_new_str(p, LOOM_PV_STR, s2, n2) : NULL;
        if (!w) return p->err;
        LOOM_TRY(loom_pk_global(p, v->u.str.data, w->u.str.data, &x));
        return push(p, x);
    case 0x93: /* STACK_GLOBAL */
        LOOM_TRY(pop(p, &w));
        LOOM_TRY(pop(p, &v));
        if (v->kind != LOOM_PV_STR || w->kind != LOOM_PV_STR || strlen(v->u.str.data) != v->u.str.len ||
            strlen(w->u.str.data) != w->u.str.len)
            return loom_pk_fail(p, LOOM_E_FORMAT, "STACK_GLOBAL needs two strings");
        LOOM_TRY(loom_pk_global(p, v->u.str.data, w->u.str.data, &x));
        return push(p, x);
    case 'R': case 0x81: /* REDUCE, NEWOBJ */
        LOOM_TRY(pop(p, &w));
        LOOM_TRY(pop(p, &v));
        LOOM_TRY(loom_pk_reduce(p, v, w, p->op == 0x81, &x));
        return push(p, x);
    case 0x92: /* NEWOBJ_EX: kwargs are dropped (no allowed class needs them) */
        LOOM_TRY(pop(p, &x));
        LOOM_TRY(pop(p, &w));
        LOOM_TRY(pop(p, &v));
        if (x->kind != LOOM_PV_DICT) return loom_pk_fail(p, LOOM_E_FORMAT, "NEWOBJ_EX kwargs is not a dict");
        LOOM_TRY(loom_pk_reduce(p, v, w, 1, &x));
        return push(p, x);
    case 'b': /* BUILD */
        LOOM_TRY(pop(p, &w));
        LOOM_TRY(peek(p, &v));
        return loom_pk_build(p, v, w);
    case 'Q': /* BINPERSID */
        LOOM_TRY(pop(p, &v));
        LOOM_TRY(loom_pk_persid(p, v, &x));
        return push(p, x);
    case '0': /* POP: with nothing above the last mark, it drops the mark */
        if (p->sp <= fence(p) && p->n_marks) {
            p->n_marks--;
            return LOOM_OK;
        }
        return pop(p, &v);
    case '1': /* POP_MARK */
        LOOM_TRY(pop_mark(p, &base));
        p->sp = base;
        return LOOM_OK;
    case '2': /* DUP */
        LOOM_TRY(peek(p, &v));
        return push(p, v);
    default:
        return loom_pk_fail(p, LOOM_E_FORMAT, "unknown or unsupported pickle opcode");
    }
}

loom_status loom_pickle_load(const uint8_t *data, size_t size, loom_arena *arena, const char *what,
                             loom_pickle_result *out)
{
    memset(out, 0, sizeof *out);
    loom_pk p;
    memset(&p, 0, sizeof p);
    p.data = data;
    p.size = data ? size : 0;
    p.what = what;
    p.arena = arena;
    p.arena_start = arena->used_total;
    loom_pickle_value *root = NULL;
    loom_status s = LOOM_OK;
    while (s == LOOM_OK && !root) {
        if (p.pos >= p.size) {
            p.have_op = 0;
            p.op_pos = p.pos;
            s = loom_pk_fail(&p, LOOM_E_FORMAT, "pickle ends without a STOP opcode (truncated)");
            break;
        }
        p.op_pos = p.pos;
        p.op = p.data[p.pos++];
        p.have_op = 1;
        s = step(&p, &root);
    }
    free(p.stack);
    free(p.marks);
    free(p.memo);
    if (s != LOOM_OK) return s;
    out->root = root;
    out->tensors = p.tensors;
    return LOOM_OK;
}

/* ---- lookups for readers of the tree ------------------------------------------ */

const loom_pickle_value *loom_pv_get(const loom_pickle_value *d, const char *key)
{
    if (!d || d->kind != LOOM_PV_DICT) return NULL;
    size_t n = strlen(key);
    for (size_t i = d->u.dict.n; i-- > 0;) {
        const loom_pickle_value *k = d->u.dict.keys[i];
        if (k->kind == LOOM_PV_STR && k->u.str.len == n && !memcmp(k->u.str.data, key, n)) return d->u.dict.vals[i];
    }
    return NULL;
}

const loom_pickle_value *loom_pv_get_int(const loom_pickle_value *d, int64_t key)
{
    if (!d || d->kind != LOOM_PV_DICT) return NULL;
    for (size_t i = d->u.dict.n; i-- > 0;) {
        const loom_pickle_value *k = d->u.dict.keys[i];
        if (k->kind == LOOM_PV_INT && k->u.i == key) return d->u.dict.vals[i];
    }
    return NULL;
}

const loom_pickle_value *loom_pv_state(const loom_pickle_value *obj)
{
    return obj && obj->kind == LOOM_PV_OBJECT ? obj->u.object.state : NULL;
}

int loom_pv_is_global(const loom_pickle_value *v, const char *module, const char *name)
{
    return v && v->kind == LOOM_PV_GLOBAL && !strcmp(v->u.global.module, module) && !strcmp(v->u.global.name, name);
}
