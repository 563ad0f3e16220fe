/* test_sha256.c — loom_sha256* against hashlib (scripts/gen_fixtures_sha256.py):
 * one-shot and streamed in awkward pieces over messages that straddle the
 * padding boundaries, the short hex form, and loom_sha256_file over byte
 * ranges of a file (A1111's whole-file and addnet hashes), plus its errors. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "testlib.h"

static const char *dir = ".";

static void hex_ref(const uint8_t *d, int bytes, char *out)
{
    for (int i = 0; i < bytes; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_messages(const uint8_t *data, const int64_t *len, int64_t m, const uint8_t *dig)
{
    static const size_t pieces[] = {1, 3, 7, 63, 64, 65, 200};
    int64_t off = 0;
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *msg = data + off;
        uint8_t got[32];
        loom_sha256(msg, (size_t)len[i], got);
        T_CHECK(memcmp(got, dig + 32 * i, 32) == 0, "message %lld (%lld bytes): one-shot digest differs", (long long)i,
                (long long)len[i]);
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            loom_sha256_ctx c;
            loom_sha256_init(&c);
            for (size_t p = 0; p < (size_t)len[i]; p += pieces[k]) {
                size_t n = (size_t)len[i] - p < pieces[k] ? (size_t)len[i] - p : pieces[k];
                loom_sha256_update(&c, msg + p, n);
            }
            loom_sha256_final(&c, got);
            T_CHECK(memcmp(got, dig + 32 * i, 32) == 0, "message %lld (%lld bytes) in %zu-byte pieces differs",
                    (long long)i, (long long)len[i], pieces[k]);
        }
        off += len[i];
    }
    /* the short forms A1111 prints: 10 hex (Model hash), 12 (Lora/TI), all 64 */
    int widths[] = {5, 6, 32, 0};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        char got[65], want[65] = "";
        loom_sha256_hex(dig, widths[k], got);
        hex_ref(dig, widths[k], want);
        T_CHECK(strcmp(got, want) == 0, "hex of %d bytes: %s, want %s", widths[k], got, want);
    }
}

static void test_file(const uint8_t *data, int64_t n, const int64_t *ranges, int64_t r, const uint8_t *dig)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sha256_data.bin", dir);
    FILE *f = fopen(path, "wb");
    T_CHECK(f && fwrite(data, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0, "cannot write %s", path);
    for (int64_t i = 0; i < r; i++) {
        uint8_t got[32];
        uint64_t len = ranges[2 * i + 1] < 0 ? LOOM_SHA256_TO_EOF : (uint64_t)ranges[2 * i + 1];
        T_OK(loom_sha256_file(path, (uint64_t)ranges[2 * i], len, got));
        T_CHECK(memcmp(got, dig + 32 * i, 32) == 0, "file range %lld+%lld: digest differs", (long long)ranges[2 * i],
                (long long)ranges[2 * i + 1]);
    }
    /* errors: one line naming the file */
    uint8_t got[32];
    struct {
        const char *path;
        uint64_t off, len;
        loom_status want;
    } bad[] = {
        {path, (uint64_t)n + 1, LOOM_SHA256_TO_EOF, LOOM_E_FORMAT},
        {path, 1, (uint64_t)n, LOOM_E_FORMAT},
        {path, 0, UINT64_MAX - 1, LOOM_E_FORMAT},
        {dir, 0, LOOM_SHA256_TO_EOF, LOOM_E_IO},
    };
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no_such_file.bin", dir);
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        const char *p = i < sizeof bad / sizeof bad[0] ? bad[i].path : missing;
        loom_status s = i < sizeof bad / sizeof bad[0] ? loom_sha256_file(p, bad[i].off, bad[i].len, got)
                                                       : loom_sha256_file(p, 0, LOOM_SHA256_TO_EOF, got);
        loom_status want = i < sizeof bad / sizeof bad[0] ? bad[i].want : LOOM_E_IO;
        const char *msg = loom_last_error();
        T_CHECK(s == want, "bad case %zu: status %d, want %d (%s)", i, (int)s, (int)want, msg);
        T_CHECK(strstr(msg, p) != NULL && strchr(msg, '\n') == NULL, "bad case %zu: message '%s'", i, msg);
    }
    remove(path);
}

int main(int argc, char **argv)
{
    if (argc > 1) dir = argv[1];
    loom_tfile *tf = t_open_fixture("sha256/vectors.safetensors");
    if (!tf) return t_finish("test_sha256");
    const loom_tf_entry *data = loom_tfile_find(tf, "data"), *len = loom_tfile_find(tf, "lengths"),
                        *dig = loom_tfile_find(tf, "digests"), *rng = loom_tfile_find(tf, "ranges"),
                        *rdig = loom_tfile_find(tf, "range_digests");
    T_CHECK(data && len && dig && rng && rdig, "vectors.safetensors lacks a tensor");
    if (data && len && dig && rng && rdig) {
        T_CHECK(data->dtype == LOOM_U8 && len->dtype == LOOM_I64 && dig->dtype == LOOM_U8 && rng->dtype == LOOM_I64 &&
                    rdig->dtype == LOOM_U8, "vectors.safetensors: unexpected dtypes");
        const int64_t m = len->shape[0], r = rng->shape[0];
        int64_t total = 0;
        for (int64_t i = 0; i < m; i++) total += ((const int64_t *)(const void *)len->data)[i];
        T_CHECK(total == (int64_t)data->numel && dig->shape[0] == m && rdig->shape[0] == r,
                "vectors.safetensors: inconsistent sizes");
        if (total == (int64_t)data->numel && m >= 2) {
            test_messages(data->data, (const int64_t *)(const void *)len->data, m, dig->data);
            test_file(data->data, total, (const int64_t *)(const void *)rng->data, r, rdig->data);
        }
    }
    loom_tfile_close(tf);
    return t_finish("test_sha256");
}
