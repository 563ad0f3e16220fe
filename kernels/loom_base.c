/* loom_base.c — status messages, dtype tables, tensor view helpers. */
#include "loom_base.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- status -------------------------------------------------------------- */

static const char *const status_names[] = {
    "ok", "invalid argument", "i/o error", "bad file format", "unsupported",
    "out of memory", "device error",
};
_Static_assert(ARRAY_LEN(status_names) == LOOM_STATUS_COUNT, "status table");

const char *loom_status_name(loom_status s)
{
    return (unsigned)s < LOOM_STATUS_COUNT ? status_names[s] : "unknown status";
}

static _Thread_local char err_buf[1024];

loom_status loom_fail(loom_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

loom_status loom_fail_wrap(loom_status code, const char *fmt, ...)
{
    char prefix[512], old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    const char *tail = old[0] ? old : loom_status_name(code);
    size_t n = strlen(prefix), m = strlen(tail);
    if (n > sizeof err_buf - 3) n = sizeof err_buf - 3;
    if (m > sizeof err_buf - 3 - n) m = sizeof err_buf - 3 - n;
    memcpy(err_buf, prefix, n);
    memcpy(err_buf + n, ": ", 2);
    memcpy(err_buf + n + 2, tail, m);
    err_buf[n + 2 + m] = 0;
    return code;
}

const char *loom_last_error(void) { return err_buf[0] ? err_buf : "no error message"; }
void loom_clear_error(void) { err_buf[0] = 0; }

const char *loom_printable(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = 0;
    if (s[i] && n >= 4) memcpy(buf + n - 4, "...", 4);
    return buf;
}

/* ---- dtypes --------------------------------------------------------------- */

static const struct {
    const char *name, *st_name;
    size_t size;
    int is_float;
} dtype_table[] = {
    [LOOM_F32] = {"f32", "F32", 4, 1},          [LOOM_F16] = {"f16", "F16", 2, 1},
    [LOOM_BF16] = {"bf16", "BF16", 2, 1},       [LOOM_F64] = {"f64", "F64", 8, 1},
    [LOOM_F8_E4M3] = {"f8_e4m3", "F8_E4M3", 1, 1}, [LOOM_F8_E5M2] = {"f8_e5m2", "F8_E5M2", 1, 1},
    [LOOM_I64] = {"i64", "I64", 8, 0},          [LOOM_I32] = {"i32", "I32", 4, 0},
    [LOOM_I16] = {"i16", "I16", 2, 0},          [LOOM_I8] = {"i8", "I8", 1, 0},
    [LOOM_U64] = {"u64", "U64", 8, 0},          [LOOM_U32] = {"u32", "U32", 4, 0},
    [LOOM_U16] = {"u16", "U16", 2, 0},          [LOOM_U8] = {"u8", "U8", 1, 0},
    [LOOM_BOOL] = {"bool", "BOOL", 1, 0},
};
_Static_assert(ARRAY_LEN(dtype_table) == LOOM_DTYPE_COUNT, "dtype table");

size_t loom_dtype_size(loom_dtype t) { return (unsigned)t < LOOM_DTYPE_COUNT ? dtype_table[t].size : 0; }
const char *loom_dtype_name(loom_dtype t) { return (unsigned)t < LOOM_DTYPE_COUNT ? dtype_table[t].name : "?"; }
const char *loom_dtype_st_name(loom_dtype t) { return (unsigned)t < LOOM_DTYPE_COUNT ? dtype_table[t].st_name : "?"; }
int loom_dtype_is_float(loom_dtype t) { return (unsigned)t < LOOM_DTYPE_COUNT && dtype_table[t].is_float; }

int loom_dtype_from_st_name(const char *s, loom_dtype *out)
{
    for (int i = 0; i < LOOM_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_table[i].st_name) == 0) {
            *out = (loom_dtype)i;
            return 0;
        }
    return -1;
}

/* ---- fp16 / bf16 ---------------------------------------------------------- */

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float loom_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t loom_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) { /* below 2^-14: subnormal half, round to nearest even */
        float v = bits_f32(a) * 16777216.0f; /* scale by 2^24: exact */
        uint32_t m = (uint32_t)lrintf(v);     /* lrintf rounds half to even */
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* round to nearest even on bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float loom_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t loom_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* fp8 decoders (OCP formats used by safetensors F8_E4M3 / F8_E5M2). */
static float f8_e4m3_to_f32(uint8_t v)
{
    uint32_t s = v >> 7, e = (v >> 3) & 0xf, m = v & 7;
    float r;
    if (e == 0xf && m == 7) return NAN; /* e4m3fn: no inf */
    if (e == 0) r = (float)m * 0.001953125f; /* m * 2^-9 */
    else r = ldexpf(1.0f + (float)m / 8.0f, (int)e - 7);
    return s ? -r : r;
}

static float f8_e5m2_to_f32(uint8_t v) { return loom_f16_to_f32((uint16_t)(v << 8)); }

/* ---- tensor view ---------------------------------------------------------- */

loom_tensor loom_tensor_view(void *data, loom_dtype dtype, int ndim, const int64_t *shape)
{
    loom_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.device = LOOM_HOST;
    t.ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = s;
        s *= shape[i];
    }
    return t;
}

int64_t loom_tensor_numel(const loom_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t loom_tensor_nbytes(const loom_tensor *t)
{
    return (size_t)loom_tensor_numel(t) * loom_dtype_size(t->dtype);
}

int loom_tensor_is_contiguous(const loom_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

const char *loom_shape_str(const loom_tensor *t, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

double loom_tensor_get(const loom_tensor *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    const uint8_t *p = (const uint8_t *)t->data + (size_t)off * loom_dtype_size(t->dtype);
    switch (t->dtype) {
    case LOOM_F32: { float v; memcpy(&v, p, 4); return v; }
    case LOOM_F64: { double v; memcpy(&v, p, 8); return v; }
    case LOOM_F16: { uint16_t v; memcpy(&v, p, 2); return loom_f16_to_f32(v); }
    case LOOM_BF16: { uint16_t v; memcpy(&v, p, 2); return loom_bf16_to_f32(v); }
    case LOOM_F8_E4M3: return f8_e4m3_to_f32(*p);
    case LOOM_F8_E5M2: return f8_e5m2_to_f32(*p);
    case LOOM_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case LOOM_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case LOOM_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case LOOM_I8: return (int8_t)*p;
    case LOOM_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case LOOM_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case LOOM_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case LOOM_U8: case LOOM_BOOL: return *p;
    default: return NAN;
    }
}

loom_status loom_tensor_to_f32(const loom_tensor *t, float *out)
{
    if (t->device != LOOM_HOST) return loom_fail(LOOM_E_INVALID, "tensor_to_f32: tensor is not on the host");
    int64_t n = loom_tensor_numel(t);
    if (t->dtype == LOOM_F32 && loom_tensor_is_contiguous(t)) {
        memcpy(out, t->data, (size_t)n * 4);
        return LOOM_OK;
    }
    if (t->dtype == LOOM_F16 && loom_tensor_is_contiguous(t)) {
        /* memcpy per element: file-backed views need not be 2-byte aligned */
        const uint8_t *h = (const uint8_t *)t->data;
        for (int64_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, h + 2 * i, 2);
            out[i] = loom_f16_to_f32(v);
        }
        return LOOM_OK;
    }
    for (int64_t i = 0; i < n; i++) out[i] = (float)loom_tensor_get(t, i);
    return LOOM_OK;
}
