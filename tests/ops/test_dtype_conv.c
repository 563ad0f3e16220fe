/* test_dtype_conv.c — fp16 / bf16 conversions of kernels/loom_base.c against
 * torch, bit for bit (tests/fixtures/ops/dtype_conv.safetensors, written by
 * scripts/gen_fixtures.py ops via scripts/fixtures_dtype_conv.py):
 *   f32 → f16 / bf16: torch's .half() / .bfloat16() on specials, subnormals,
 *     exact halfway ties (and one f32 ulp either side), overflow to inf,
 *     random bit patterns;
 *   f16 / bf16 → f32: every one of the 65536 bit patterns, torch's .float().
 * A NaN only has to map to some NaN: payloads are not part of the contract. */
#include <math.h>
#include <string.h>

#include "testlib.h"

static const uint8_t *raw(const loom_tfile *tf, const char *name, loom_dtype dt, uint64_t *n)
{
    const loom_tf_entry *e = loom_tfile_find(tf, name);
    T_CHECK(e && e->dtype == dt && e->ndim == 1 && e->numel > 0, "%s: missing or malformed %s", tf->path, name);
    if (!e || e->dtype != dt || e->ndim != 1) return NULL;
    *n = e->numel;
    return e->data;
}

static float f32_at(const uint8_t *p, uint64_t i)
{
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

static uint16_t u16_at(const uint8_t *p, uint64_t i)
{
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
}

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

/* f32 → 16-bit conversion against torch's bits; returns the mismatch count. */
static int check_narrow(const char *what, const uint8_t *f32, const uint8_t *bits, uint64_t n,
                        uint16_t (*conv)(float), int (*is_nan)(uint16_t))
{
    int bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        const float f = f32_at(f32, i);
        const uint16_t want = u16_at(bits, i), got = conv(f);
        const int ok = is_nan(want) ? is_nan(got) : got == want;
        if (!ok && bad++ < 8) {
            uint32_t fb;
            memcpy(&fb, &f, 4);
            fprintf(stderr, "%s(%a = 0x%08x): got 0x%04x, torch 0x%04x\n", what, (double)f, fb, got, want);
        }
    }
    T_CHECK(bad == 0, "%s: %d of %llu values differ from torch", what, bad, (unsigned long long)n);
    return bad;
}

/* 16-bit → f32 for all 65536 patterns against torch's .float(). */
static void check_widen(const char *what, const uint8_t *want_f32, uint64_t n, float (*conv)(uint16_t))
{
    T_CHECK(n == 65536, "%s: expected 65536 reference values, got %llu", what, (unsigned long long)n);
    int bad = 0;
    for (uint64_t i = 0; i < n && n == 65536; i++) {
        const float want = f32_at(want_f32, i), got = conv((uint16_t)i);
        const int ok = isnan(want) ? isnan(got) : memcmp(&got, &want, 4) == 0; /* bitwise: −0 ≠ +0 */
        if (!ok && bad++ < 8) fprintf(stderr, "%s(0x%04x): got %a, torch %a\n", what, (unsigned)i, (double)got, (double)want);
    }
    T_CHECK(bad == 0, "%s: %d of 65536 patterns differ from torch", what, bad);
}

int main(void)
{
    loom_tfile *tf = t_open_fixture("ops/dtype_conv.safetensors");
    if (!tf) return t_finish("test_dtype_conv");
    uint64_t n = 0, n16 = 0, nb16 = 0, na = 0, nb = 0;
    const uint8_t *f32 = raw(tf, "f32", LOOM_F32, &n);
    const uint8_t *h = raw(tf, "f16_bits", LOOM_I16, &n16), *b = raw(tf, "bf16_bits", LOOM_I16, &nb16);
    const uint8_t *ha = raw(tf, "f16_all_f32", LOOM_F32, &na), *ba = raw(tf, "bf16_all_f32", LOOM_F32, &nb);
    if (f32 && h && b && ha && ba) {
        T_CHECK(n16 == n && nb16 == n, "reference lengths differ: %llu %llu %llu", (unsigned long long)n,
                (unsigned long long)n16, (unsigned long long)nb16);
        if (n16 == n && nb16 == n) {
            check_narrow("loom_f32_to_f16", f32, h, n, loom_f32_to_f16, f16_is_nan);
            check_narrow("loom_f32_to_bf16", f32, b, n, loom_f32_to_bf16, bf16_is_nan);
            printf("f32 -> f16 / bf16: %llu values compared with torch\n", (unsigned long long)n);
        }
        check_widen("loom_f16_to_f32", ha, na, loom_f16_to_f32);
        check_widen("loom_bf16_to_f32", ba, nb, loom_bf16_to_f32);
    }
    loom_tfile_close(tf);
    return t_finish("test_dtype_conv");
}
