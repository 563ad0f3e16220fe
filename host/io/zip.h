/* zip.h — a read-only zip reader over a buffer in memory (the mapped file),
 * enough for PyTorch checkpoints (addons.md §5.2): the central directory,
 * ZIP64, stored and deflated entries.
 *
 * Everything read from the archive is checked before use: record positions
 * and sizes inside the buffer, entry counts against the directory size, names
 * free of NUL bytes and unique. Deflated entries are inflated into a buffer of
 * exactly their declared size (a lying header cannot make the reader write
 * more), the declared sizes are bounded (zip bombs), and the CRC-32 of what
 * is read is checked. Encrypted entries, other compression methods and
 * multi-disk archives are refused. */
#ifndef LOOM_ZIP_H
#define LOOM_ZIP_H

#include "arena.h"
#include "loom_base.h"

/* A deflated entry may expand at most this many times its compressed size
 * once it is larger than LOOM_ZIP_BOMB_MIN_BYTES; real data (even zeros padded
 * by torch) stays far below, a bomb far above. */
#define LOOM_ZIP_MAX_RATIO 1000u
#define LOOM_ZIP_BOMB_MIN_BYTES (64ull << 20)
/* All inflated entries of one archive together (a deflated SDXL checkpoint in
 * fp32 is about 13 GiB). */
#define LOOM_ZIP_MAX_INFLATED_TOTAL (16ull << 30)
#define LOOM_ZIP_MAX_ENTRIES 2000000

enum { LOOM_ZIP_STORED = 0, LOOM_ZIP_DEFLATED = 8 };

typedef struct loom_zip_entry {
    const char *name;     /* NUL-terminated copy (arena) */
    uint16_t method;      /* LOOM_ZIP_STORED or LOOM_ZIP_DEFLATED */
    uint32_t crc32;
    uint64_t comp_size;   /* bytes in the archive */
    uint64_t size;        /* bytes once inflated */
    uint64_t data_offset; /* of the (compressed) bytes in the buffer */
} loom_zip_entry;

typedef struct loom_zip {
    const char *path;     /* for messages */
    const uint8_t *data;
    uint64_t size;
    int n_entries;
    loom_zip_entry *entries; /* sorted by name (arena) */
    uint64_t inflated_total; /* bytes inflated so far, against LOOM_ZIP_MAX_INFLATED_TOTAL */
} loom_zip;

/* Reads the central directory of `data` (size bytes). Entries and names are
 * allocated from `arena`; `path` must outlive the zip. */
loom_status loom_zip_open(loom_zip *z, const char *path, const uint8_t *data, uint64_t size, loom_arena *arena);

/* The entry with exactly this name, or NULL. */
const loom_zip_entry *loom_zip_find(const loom_zip *z, const char *name);

/* The entry's bytes: for a stored entry a pointer into the buffer (*owned is
 * NULL), for a deflated one a malloc'd buffer (*owned == *out; the caller
 * frees it). Fails when the entry is larger than max_size. `check_crc`
 * verifies the CRC-32 (always done for deflated entries: inflate alone does
 * not notice flipped bits in a raw deflate stream). */
loom_status loom_zip_read(loom_zip *z, const loom_zip_entry *e, uint64_t max_size, int check_crc,
                          const uint8_t **out, void **owned);

#endif
