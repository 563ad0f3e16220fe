/* sha256.c — see sha256.h. Written from FIPS 180-4 §4.1.2, §4.2.2, §5.1.1,
 * §6.2; checked against hashlib (tests/sha256). */
#define _POSIX_C_SOURCE 200809L
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        const uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void loom_sha256_init(loom_sha256_ctx *c)
{
    /* §5.3.3: square roots of the first 8 primes */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->bytes = 0;
    c->fill = 0;
}

void loom_sha256_update(loom_sha256_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->bytes += n;
    if (c->fill) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < 64) return;
        block(c->h, c->buf);
        c->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64) block(c->h, p);
    memcpy(c->buf, p, n);
    c->fill = n;
}

void loom_sha256_final(loom_sha256_ctx *c, uint8_t out[LOOM_SHA256_BYTES])
{
    /* §5.1.1: a 1 bit, zeros up to 56 mod 64, the bit length as 64-bit big-endian */
    const uint64_t bits = c->bytes * 8;
    c->buf[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->buf + c->fill, 0, 64 - c->fill);
        block(c->h, c->buf);
        c->fill = 0;
    }
    memset(c->buf + c->fill, 0, 56 - c->fill);
    for (int i = 0; i < 8; i++) c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    block(c->h, c->buf);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(c->h[i] >> (24 - 8 * j));
}

void loom_sha256(const void *data, size_t n, uint8_t out[LOOM_SHA256_BYTES])
{
    loom_sha256_ctx c;
    loom_sha256_init(&c);
    loom_sha256_update(&c, data, n);
    loom_sha256_final(&c, out);
}

void loom_sha256_hex(const uint8_t digest[LOOM_SHA256_BYTES], int bytes, char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (bytes < 0) bytes = 0;
    if (bytes > LOOM_SHA256_BYTES) bytes = LOOM_SHA256_BYTES;
    for (int i = 0; i < bytes; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * bytes] = '\0';
}

loom_status loom_sha256_file(const char *path, uint64_t offset, uint64_t length, uint8_t out[LOOM_SHA256_BYTES])
{
    FILE *f = fopen(path, "rb");
    if (!f) return loom_fail(LOOM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    loom_status s = LOOM_OK;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        s = loom_fail(LOOM_E_IO, "%s: not a regular file", path);
        goto done;
    }
    const uint64_t size = (uint64_t)st.st_size;
    if (offset > size) {
        s = loom_fail(LOOM_E_FORMAT, "%s: hash offset %llu is past the end of the file (%llu bytes)", path,
                      (unsigned long long)offset, (unsigned long long)size);
        goto done;
    }
    if (length == LOOM_SHA256_TO_EOF) length = size - offset;
    if (length > size - offset) {
        s = loom_fail(LOOM_E_FORMAT, "%s: hash range %llu+%llu is past the end of the file (%llu bytes)", path,
                      (unsigned long long)offset, (unsigned long long)length, (unsigned long long)size);
        goto done;
    }
    /* offset ≤ size = st_size, so it fits off_t */
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0) {
        s = loom_fail(LOOM_E_IO, "%s: cannot seek to %llu: %s", path, (unsigned long long)offset, strerror(errno));
        goto done;
    }
    enum { BLOCK = 1 << 20 };
    buf = malloc(BLOCK);
    if (!buf) {
        s = loom_fail(LOOM_E_NOMEM, "%s: out of memory for hashing", path);
        goto done;
    }
    loom_sha256_ctx c;
    loom_sha256_init(&c);
    for (uint64_t left = length; left > 0;) {
        const size_t want = left < BLOCK ? (size_t)left : BLOCK;
        const size_t got = fread(buf, 1, want, f);
        if (got != want) { /* the file shrank under us, or a read error */
            s = loom_fail(LOOM_E_IO, "%s: read failed at byte %llu%s%s", path,
                          (unsigned long long)(offset + length - left), ferror(f) ? ": " : " (file truncated)",
                          ferror(f) ? strerror(errno) : "");
            goto done;
        }
        loom_sha256_update(&c, buf, got);
        left -= got;
    }
    loom_sha256_final(&c, out);
done:
    free(buf);
    fclose(f);
    return s;
}
