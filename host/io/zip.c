/* zip.c — see zip.h. Record layouts: PKWARE APPNOTE 6.3 §4.3 (local header,
 * central directory, end records, ZIP64 extra field 0x0001). */
#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_SIZE 22u
#define CENTRAL_SIZE 46u
#define LOCAL_SIZE 30u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

typedef struct zip_end {
    uint64_t n_entries, cd_offset, cd_size;
    uint64_t cd_limit; /* the directory must end before this offset */
} zip_end;

/* The end-of-central-directory record is the last thing in the file, followed
 * only by a comment of at most 65535 bytes: search that window backwards. */
static loom_status find_end(const loom_zip *z, zip_end *end)
{
    const uint8_t *d = z->data;
    if (z->size < EOCD_SIZE)
        return loom_fail(LOOM_E_FORMAT, "%s: zip archive too short (no end-of-central-directory record)", z->path);
    uint64_t lo = z->size > EOCD_SIZE + 65535u ? z->size - EOCD_SIZE - 65535u : 0, off = z->size - EOCD_SIZE;
    for (;; off--) {
        if (rd32(d + off) == SIG_EOCD && off + EOCD_SIZE + rd16(d + off + 20) <= z->size) break;
        if (off == lo)
            return loom_fail(LOOM_E_FORMAT, "%s: no zip end-of-central-directory record (file truncated?)",
                             z->path);
    }
    uint64_t disk = rd16(d + off + 4), cd_disk = rd16(d + off + 6), n_disk = rd16(d + off + 8);
    end->n_entries = rd16(d + off + 10);
    end->cd_size = rd32(d + off + 12);
    end->cd_offset = rd32(d + off + 16);
    end->cd_limit = off;

    /* ZIP64: a locator right before the EOCD points at the ZIP64 end record,
     * whose 64-bit counts replace the saturated 16/32-bit ones. */
    if (off >= 20 && rd32(d + off - 20) == SIG_LOCATOR64) {
        const uint8_t *loc = d + off - 20;
        uint64_t z64 = rd64(loc + 8);
        if (rd32(loc + 16) > 1)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: multi-disk (split) zip archives are not supported", z->path);
        if (z64 > off - 20 || off - 20 - z64 < 56 || rd32(d + z64) != SIG_EOCD64)
            return loom_fail(LOOM_E_FORMAT, "%s: ZIP64 end record (offset %llu) is missing or outside the file",
                             z->path, (unsigned long long)z64);
        disk = rd32(d + z64 + 16);
        cd_disk = rd32(d + z64 + 20);
        n_disk = rd64(d + z64 + 24);
        end->n_entries = rd64(d + z64 + 32);
        end->cd_size = rd64(d + z64 + 40);
        end->cd_offset = rd64(d + z64 + 48);
        end->cd_limit = z64;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != end->n_entries)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: multi-disk (split) zip archives are not supported", z->path);
    if (end->cd_offset > end->cd_limit || end->cd_size > end->cd_limit - end->cd_offset)
        return loom_fail(LOOM_E_FORMAT, "%s: zip central directory (offset %llu, %llu bytes) lies outside the file",
                         z->path, (unsigned long long)end->cd_offset, (unsigned long long)end->cd_size);
    if (end->n_entries > end->cd_size / CENTRAL_SIZE)
        return loom_fail(LOOM_E_FORMAT, "%s: zip directory claims %llu entries but its %llu bytes hold at most %llu",
                         z->path, (unsigned long long)end->n_entries, (unsigned long long)end->cd_size,
                         (unsigned long long)(end->cd_size / CENTRAL_SIZE));
    if (end->n_entries > LOOM_ZIP_MAX_ENTRIES)
        return loom_fail(LOOM_E_FORMAT, "%s: zip archive has %llu entries (limit %d)", z->path,
                         (unsigned long long)end->n_entries, LOOM_ZIP_MAX_ENTRIES);
    return LOOM_OK;
}

/* ZIP64 extended information (extra field 0x0001) holds, in this order, only
 * the fields whose 32-bit slot is saturated. */
static loom_status read_zip64_extra(const loom_zip *z, const char *name, const uint8_t *x, uint32_t n,
                                    uint64_t *usize, uint64_t *csize, uint64_t *lho, uint32_t *disk)
{
    char sb[128];
    while (n >= 4) {
        uint16_t id = rd16(x), len = rd16(x + 2);
        if (len > n - 4)
            return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': extra field runs past its end", z->path,
                             loom_printable(name, sb, sizeof sb));
        if (id == 1) {
            const uint8_t *p = x + 4, *e = x + 4 + len;
            uint64_t *f64[3] = {usize, csize, lho};
            for (int i = 0; i < 3; i++) {
                if (*f64[i] != 0xFFFFFFFFu) continue;
                if (e - p < 8) goto short_field;
                *f64[i] = rd64(p);
                p += 8;
            }
            if (*disk == 0xFFFFu) {
                if (e - p < 4) goto short_field;
                *disk = rd32(p);
            }
        }
        x += 4 + len;
        n -= 4u + len;
    }
    return LOOM_OK;
short_field:
    return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': ZIP64 extra field is too short", z->path,
                     loom_printable(name, sb, sizeof sb));
}

/* One central-directory record at d[*pos], ending before `cd_end`. */
static loom_status read_entry(loom_zip *z, loom_arena *arena, uint64_t *pos, uint64_t cd_end, uint64_t cd_offset,
                              int index, loom_zip_entry *e)
{
    const uint8_t *d = z->data, *c = d + *pos;
    char sb[128];
    if (cd_end - *pos < CENTRAL_SIZE || rd32(c) != SIG_CENTRAL)
        return loom_fail(LOOM_E_FORMAT, "%s: zip central directory entry %d is corrupt", z->path, index);
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint32_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32), disk = rd16(c + 34);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), lho = rd32(c + 42);
    if (cd_end - *pos - CENTRAL_SIZE < (uint64_t)nlen + xlen + clen)
        return loom_fail(LOOM_E_FORMAT, "%s: zip central directory entry %d runs past the directory", z->path, index);
    if (memchr(c + CENTRAL_SIZE, 0, nlen))
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry %d has a NUL byte in its name", z->path, index);
    e->name = loom_arena_strndup(arena, (const char *)c + CENTRAL_SIZE, nlen);
    if (!e->name) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", z->path);
    LOOM_TRY(read_zip64_extra(z, e->name, c + CENTRAL_SIZE + nlen, xlen, &usize, &csize, &lho, &disk));
    *pos += CENTRAL_SIZE + nlen + xlen + clen;

    const char *nm = loom_printable(e->name, sb, sizeof sb);
    if (disk != 0)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: multi-disk (split) zip archives are not supported", z->path);
    if (flags & 1)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: zip entry '%s' is encrypted; encrypted archives are unsupported",
                         z->path, nm);
    if (method != LOOM_ZIP_STORED && method != LOOM_ZIP_DEFLATED)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: zip entry '%s' uses compression method %u; only stored and "
                         "deflated entries are supported", z->path, nm, method);
    if (method == LOOM_ZIP_STORED && csize != usize)
        return loom_fail(LOOM_E_FORMAT, "%s: stored zip entry '%s' has compressed size %llu != size %llu", z->path,
                         nm, (unsigned long long)csize, (unsigned long long)usize);
    if (method == LOOM_ZIP_DEFLATED && usize > LOOM_ZIP_BOMB_MIN_BYTES && usize / LOOM_ZIP_MAX_RATIO > csize)
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' claims %llu bytes from %llu compressed (ratio above "
                         "%u: a zip bomb?)", z->path, nm, (unsigned long long)usize, (unsigned long long)csize,
                         LOOM_ZIP_MAX_RATIO);

    /* The data offset comes from the LOCAL header's own name and extra
     * lengths: torch pads the local extra field to align data to 64 bytes
     * (addons.md §5.2), so it differs from the central one. */
    if (lho > cd_offset || cd_offset - lho < LOCAL_SIZE || rd32(d + lho) != SIG_LOCAL)
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': local header (offset %llu) is missing or outside "
                         "the file", z->path, nm, (unsigned long long)lho);
    uint32_t lnlen = rd16(d + lho + 26), lxlen = rd16(d + lho + 28);
    if (lnlen != nlen || cd_offset - lho - LOCAL_SIZE < lnlen || memcmp(d + lho + LOCAL_SIZE, e->name, nlen))
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': local header name differs from the directory", z->path,
                         nm);
    uint64_t off = lho + LOCAL_SIZE + lnlen + lxlen; /* no overflow: lho < size, the rest < 2^18 */
    if (off > cd_offset || csize > cd_offset - off)
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': data (offset %llu, %llu bytes) runs past the end of "
                         "the entry area", z->path, nm, (unsigned long long)off, (unsigned long long)csize);
    e->method = method;
    e->crc32 = rd32(c + 16);
    e->comp_size = csize;
    e->size = usize;
    e->data_offset = off;
    return LOOM_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const loom_zip_entry *)a)->name, ((const loom_zip_entry *)b)->name);
}

loom_status loom_zip_open(loom_zip *z, const char *path, const uint8_t *data, uint64_t size, loom_arena *arena)
{
    memset(z, 0, sizeof *z);
    z->path = path;
    z->data = data;
    z->size = data ? size : 0;
    zip_end end = {0};
    LOOM_TRY(find_end(z, &end));
    int n = (int)end.n_entries;
    z->entries = loom_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *z->entries);
    if (!z->entries) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    uint64_t pos = end.cd_offset, cd_end = end.cd_offset + end.cd_size;
    for (int i = 0; i < n; i++) LOOM_TRY(read_entry(z, arena, &pos, cd_end, end.cd_offset, i, &z->entries[i]));
    if (pos != cd_end)
        return loom_fail(LOOM_E_FORMAT, "%s: zip central directory is %llu bytes but its %d entries use %llu", path,
                         (unsigned long long)end.cd_size, n, (unsigned long long)(pos - end.cd_offset));
    qsort(z->entries, (size_t)n, sizeof *z->entries, cmp_entry);
    for (int i = 1; i < n; i++)
        if (!strcmp(z->entries[i].name, z->entries[i - 1].name)) {
            char sb[128];
            return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' appears twice", path,
                             loom_printable(z->entries[i].name, sb, sizeof sb));
        }
    z->n_entries = n;
    return LOOM_OK;
}

const loom_zip_entry *loom_zip_find(const loom_zip *z, const char *name)
{
    int lo = 0, hi = z->n_entries - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, z->entries[mid].name);
        if (c == 0) return &z->entries[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

static uint32_t crc_of(const uint8_t *p, uint64_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

/* Inflates e into out (exactly e->size bytes): any byte beyond the declared
 * size, a short stream or corrupt data is an error. */
static loom_status inflate_entry(const loom_zip *z, const loom_zip_entry *e, uint8_t *out, const char *nm)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) return loom_fail(LOOM_E_NOMEM, "%s: cannot start zlib", z->path);
    const uint8_t *in = z->data + e->data_offset;
    uint64_t in_left = e->comp_size, out_done = 0;
    uint8_t spill;
    int spilling = 0, ret;
    loom_status s = LOOM_OK;
    for (;;) {
        if (zs.avail_in == 0 && in_left) {
            uInt chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct */
            zs.avail_in = chunk;
            in += chunk;
            in_left -= chunk;
        }
        if (zs.avail_out == 0) {
            if (out_done < e->size) {
                uInt chunk = e->size - out_done > (1u << 30) ? (1u << 30) : (uInt)(e->size - out_done);
                zs.next_out = out + out_done;
                zs.avail_out = chunk;
            } else { /* the declared size is reached: one more byte would be a lie */
                zs.next_out = &spill;
                zs.avail_out = 1;
                spilling = 1;
            }
        }
        uInt before = zs.avail_out;
        ret = inflate(&zs, Z_NO_FLUSH);
        if (spilling && zs.avail_out == 0) {
            s = loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' inflates past its declared size of %llu bytes", z->path,
                          nm, (unsigned long long)e->size);
            break;
        }
        if (!spilling) out_done += before - zs.avail_out;
        if (ret == Z_STREAM_END) {
            if (out_done != e->size)
                s = loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' inflates to %llu bytes, not the declared %llu",
                              z->path, nm, (unsigned long long)out_done, (unsigned long long)e->size);
            break;
        }
        if (ret == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
            s = loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': deflate stream is truncated", z->path, nm);
            break;
        }
        if (ret != Z_OK) {
            s = loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s': corrupt deflate data (%s)", z->path, nm,
                          zs.msg ? zs.msg : "zlib error");
            break;
        }
    }
    inflateEnd(&zs);
    return s;
}

loom_status loom_zip_read(loom_zip *z, const loom_zip_entry *e, uint64_t max_size, int check_crc,
                          const uint8_t **out, void **owned)
{
    char sb[128];
    const char *nm = loom_printable(e->name, sb, sizeof sb);
    *out = NULL;
    *owned = NULL;
    if (e->size > max_size)
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' is %llu bytes (limit %llu)", z->path, nm,
                         (unsigned long long)e->size, (unsigned long long)max_size);
    const uint8_t *p = z->data + e->data_offset;
    if (e->method == LOOM_ZIP_DEFLATED) {
        if (e->size > LOOM_ZIP_MAX_INFLATED_TOTAL - z->inflated_total || e->size > SIZE_MAX - 1)
            return loom_fail(LOOM_E_FORMAT, "%s: inflating zip entry '%s' (%llu bytes) passes the limit of %llu "
                             "inflated bytes per archive", z->path, nm, (unsigned long long)e->size,
                             (unsigned long long)LOOM_ZIP_MAX_INFLATED_TOTAL);
        uint8_t *buf = malloc(e->size ? (size_t)e->size : 1);
        if (!buf)
            return loom_fail(LOOM_E_NOMEM, "%s: cannot allocate %llu bytes to inflate '%s'", z->path,
                             (unsigned long long)e->size, nm);
        loom_status s = inflate_entry(z, e, buf, nm);
        if (s != LOOM_OK) {
            free(buf);
            return s;
        }
        z->inflated_total += e->size;
        p = buf;
        *owned = buf;
        check_crc = 1;
    }
    if (check_crc && crc_of(p, e->size) != e->crc32) {
        free(*owned);
        *owned = NULL;
        return loom_fail(LOOM_E_FORMAT, "%s: zip entry '%s' fails its CRC-32 check (file corrupt)", z->path, nm);
    }
    *out = p;
    return LOOM_OK;
}
