/* sha256.h — SHA-256 (FIPS 180-4), for the file hashes A1111 writes into
 * infotexts and uses to find resources (addons.md §6.3):
 *   "Model hash"   first 10 hex of SHA-256 of the whole checkpoint file;
 *   "VAE hash"     first 10 hex of the whole VAE file;
 *   "TI hashes"    first 12 hex of the whole embedding file;
 *   "Lora hashes"  first 12 hex of the addnet hash: SHA-256 of a safetensors
 *                  file from the end of its header (offset 8 + N) to EOF.
 * loom_sha256_file hashes any byte range of a file, so each rule is one call. */
#ifndef LOOM_SHA256_H
#define LOOM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

#define LOOM_SHA256_BYTES 32
#define LOOM_SHA256_TO_EOF UINT64_MAX

typedef struct loom_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;   /* message length so far */
    uint8_t buf[64];  /* the partial block */
    size_t fill;
} loom_sha256_ctx;

void loom_sha256_init(loom_sha256_ctx *c);
void loom_sha256_update(loom_sha256_ctx *c, const void *data, size_t n);
/* Pads, writes the digest; c must be re-initialised before reuse. */
void loom_sha256_final(loom_sha256_ctx *c, uint8_t out[LOOM_SHA256_BYTES]);
/* One call for a buffer. */
void loom_sha256(const void *data, size_t n, uint8_t out[LOOM_SHA256_BYTES]);
/* Lower-case hex of the first `bytes` bytes of a digest (bytes ≤ 32; 5 bytes
 * give A1111's 10-character short hash); out needs 2·bytes + 1 chars. */
void loom_sha256_hex(const uint8_t digest[LOOM_SHA256_BYTES], int bytes, char *out);

/* SHA-256 of `length` bytes of the file at `path` from `offset`
 * (LOOM_SHA256_TO_EOF: to the end). A range that does not lie inside the file
 * is an error naming the path; so is a read error. Reads in 1 MiB blocks. */
loom_status loom_sha256_file(const char *path, uint64_t offset, uint64_t length, uint8_t out[LOOM_SHA256_BYTES]);

#endif
