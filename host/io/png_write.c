/* png_write.c — see png_write.h. */
#define _POSIX_C_SOURCE 200809L
#include "png_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "atomic_write.h"

#include <stb_image_write.h>

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} membuf;

static void mem_put(membuf *m, const void *data, size_t n)
{
    if (m->oom) return;
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->n + n) cap *= 2;
        uint8_t *q = realloc(m->p, cap);
        if (!q) {
            m->oom = 1;
            return;
        }
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
}

static void stb_sink(void *ctx, void *data, int size) { mem_put(ctx, data, (size_t)size); }

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* UTF-8 → Latin-1 when every code point is ≤ U+00FF (Pillow tries
 * text.encode("latin-1") first). Returns 0 when not encodable. */
static int to_latin1(const char *s, membuf *out)
{
    const unsigned char *c = (const unsigned char *)s;
    while (*c) {
        unsigned cp;
        if (c[0] < 0x80) {
            cp = c[0];
            c += 1;
        } else if (c[0] >= 0xC2 && c[0] <= 0xDF && (c[1] & 0xC0) == 0x80) {
            cp = (unsigned)(c[0] & 0x1F) << 6 | (c[1] & 0x3F);
            c += 2;
        } else {
            return 0;
        }
        if (cp > 0xFF) return 0;
        uint8_t b = (uint8_t)cp;
        mem_put(out, &b, 1);
    }
    return 1;
}

loom_status loom_png_text_chunk(const char *keyword, const char *text, uint8_t **chunk, size_t *len)
{
    size_t kl = strlen(keyword);
    if (kl < 1 || kl > 79) return loom_fail(LOOM_E_INVALID, "png: text keyword must be 1-79 bytes");
    membuf body = {0}, latin = {0};
    const char *type;
    mem_put(&body, keyword, kl + 1); /* keyword and its NUL */
    if (to_latin1(text, &latin)) {
        type = "tEXt";
        mem_put(&body, latin.p, latin.n);
    } else { /* iTXt: compression flag 0, method 0, empty language tag, empty translated keyword */
        type = "iTXt";
        static const uint8_t hdr[4] = {0, 0, 0, 0};
        mem_put(&body, hdr, 4);
        mem_put(&body, text, strlen(text));
    }
    free(latin.p);
    membuf c = {0};
    uint8_t b4[4];
    be32(b4, (uint32_t)body.n);
    mem_put(&c, b4, 4);
    mem_put(&c, type, 4);
    mem_put(&c, body.p, body.n);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (body.n) crc = crc32(crc, body.p, (uInt)body.n);
    be32(b4, (uint32_t)crc);
    mem_put(&c, b4, 4);
    free(body.p);
    if (c.oom || body.oom || latin.oom) {
        free(c.p);
        return loom_fail(LOOM_E_NOMEM, "png: out of memory");
    }
    *chunk = c.p;
    *len = c.n;
    return LOOM_OK;
}

loom_status loom_png_encode(const uint8_t *rgb, int w, int h, const char *keyword, const char *text,
                            uint8_t **png, size_t *png_len)
{
    *png = NULL;
    *png_len = 0;
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535) return loom_fail(LOOM_E_INVALID, "png: bad size %dx%d", w, h);
    membuf raw = {0};
    if (!stbi_write_png_to_func(stb_sink, &raw, w, h, 3, rgb, w * 3) || raw.oom) {
        free(raw.p);
        return loom_fail(LOOM_E_NOMEM, "png: encoding a %dx%d image failed", w, h);
    }
    /* stb writes signature (8) + IHDR (8 + 13 + 4) + IDAT… + IEND: the text goes right after IHDR */
    const size_t after_ihdr = 8 + 25;
    if (raw.n < after_ihdr || memcmp(raw.p + 12, "IHDR", 4) != 0) {
        free(raw.p);
        return loom_fail(LOOM_E_INVALID, "png: unexpected encoder output");
    }
    if (!keyword || !text) {
        *png = raw.p;
        *png_len = raw.n;
        return LOOM_OK;
    }
    uint8_t *chunk;
    size_t clen;
    loom_status s = loom_png_text_chunk(keyword, text, &chunk, &clen);
    if (s != LOOM_OK) {
        free(raw.p);
        return s;
    }
    membuf out = {0};
    mem_put(&out, raw.p, after_ihdr);
    mem_put(&out, chunk, clen);
    mem_put(&out, raw.p + after_ihdr, raw.n - after_ihdr);
    free(raw.p);
    free(chunk);
    if (out.oom) {
        free(out.p);
        return loom_fail(LOOM_E_NOMEM, "png: out of memory");
    }
    *png = out.p;
    *png_len = out.n;
    return LOOM_OK;
}

loom_status loom_write_file_atomic(const char *path, const void *data, size_t len)
{
    loom_atomic_file f;
    LOOM_TRY(loom_atomic_open(&f, path));
    LOOM_TRY(loom_atomic_write(&f, data, len));
    return loom_atomic_commit(&f);
}
