/* test_safetensors.c — the safetensors loader against the reference library.
 *
 * tests/fixtures/loader/st_*.safetensors and st_expected.json are made by
 * scripts/gen_fixtures_safetensors.py: the files by safetensors.torch.save_file
 * (and two hand-made layouts the reference reads or that loom accepts on
 * purpose), the expectations by torch reading them back. For every file this
 * checks names, header order, dtypes, shapes, row-major strides, every value
 * (floats bit-exact through float64, integers exactly) and the metadata; then
 * lookups, the 5-D refusal of loom_tfile_tensor, zero-copy views, the
 * in-memory open and a few messages that must carry numbers. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* An integer element read straight from the bytes (no double rounding). */
static int64_t raw_int(const uint8_t *p, loom_dtype dt)
{
    switch (dt) {
    case LOOM_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case LOOM_U64: { uint64_t v; memcpy(&v, p, 8); return (int64_t)v; } /* fixture values < 2^63 */
    case LOOM_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case LOOM_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case LOOM_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case LOOM_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case LOOM_I8: return (int8_t)*p;
    default: return *p; /* U8, BOOL */
    }
}

static void check_tensor(const loom_tfile *tf, const char *name, const json_t *want)
{
    const loom_tf_entry *e = loom_tfile_find(tf, name);
    T_CHECK(e != NULL, "%s: tensor %s not found", tf->path, name);
    if (!e) return;
    T_CHECK(!strcmp(e->name, name), "find(%s) returned %s", name, e->name);
    const char *dt = json_string_value(json_object_get(want, "dtype"));
    T_CHECK(!strcmp(loom_dtype_st_name(e->dtype), dt), "%s: dtype %s, want %s", name,
            loom_dtype_st_name(e->dtype), dt);

    const json_t *shape = json_object_get(want, "shape");
    T_CHECK(e->ndim == (int)json_array_size(shape), "%s: ndim %d, want %zu", name, e->ndim, json_array_size(shape));
    if (e->ndim != (int)json_array_size(shape)) return;
    uint64_t numel = 1;
    for (int i = e->ndim - 1; i >= 0; i--) { /* C order: stride = product of later dims */
        int64_t d = json_integer_value(json_array_get(shape, (size_t)i));
        T_CHECK(e->shape[i] == d, "%s: shape[%d] = %lld, want %lld", name, i, (long long)e->shape[i], (long long)d);
        T_CHECK(e->stride[i] == (int64_t)numel || d == 0, "%s: stride[%d] = %lld, want %llu", name, i,
                (long long)e->stride[i], (unsigned long long)numel);
        numel *= (uint64_t)d;
    }
    T_CHECK(e->numel == numel, "%s: numel %llu, want %llu", name, (unsigned long long)e->numel,
            (unsigned long long)numel);

    const json_t *vals = json_object_get(want, "values");
    T_CHECK(json_array_size(vals) == numel, "%s: sidecar has %zu values for %llu elements", name,
            json_array_size(vals), (unsigned long long)numel);
    if (json_array_size(vals) != numel) return;
    if (numel == 0) {
        T_CHECK(e->data == NULL, "%s: empty tensor with a data pointer", name);
        return;
    }
    /* Element i of a row-major tensor sits at i × size: read it through a flat view. */
    int64_t flat_shape[1] = {(int64_t)numel};
    loom_tensor flat = loom_tensor_view((void *)e->data, e->dtype, 1, flat_shape);
    size_t esize = loom_dtype_size(e->dtype);
    int bad = 0;
    for (uint64_t i = 0; i < numel && bad < 3; i++) {
        const json_t *v = json_array_get(vals, (size_t)i);
        if (loom_dtype_is_float(e->dtype)) {
            double got = loom_tensor_get(&flat, (int64_t)i), ref = json_number_value(v);
            if (got != ref) bad++;
            T_CHECK(got == ref, "%s[%llu] = %.17g, want %.17g", name, (unsigned long long)i, got, ref);
        } else {
            int64_t got = raw_int(e->data + i * esize, e->dtype), ref = json_integer_value(v);
            if (got != ref) bad++;
            T_CHECK(got == ref, "%s[%llu] = %lld, want %lld", name, (unsigned long long)i, (long long)got,
                    (long long)ref);
        }
    }
    /* Views of ≤ 4 dims go through loom_tfile_tensor and its strides. */
    if (e->ndim <= LOOM_MAX_DIMS && loom_dtype_is_float(e->dtype)) {
        loom_tensor t;
        T_OK(loom_tfile_tensor(tf, e, &t));
        for (uint64_t i = 0; i < numel; i++)
            if (loom_tensor_get(&t, (int64_t)i) != json_number_value(json_array_get(vals, (size_t)i))) {
                T_CHECK(0, "%s: strided view differs at %llu", name, (unsigned long long)i);
                break;
            }
    }
}

static void check_file(const char *file, const json_t *want)
{
    char rel[256];
    snprintf(rel, sizeof rel, "loader/%s", file);
    loom_tfile *tf = t_open_fixture(rel);
    if (!tf) return;
    T_CHECK(tf->format == LOOM_TF_SAFETENSORS, "%s: format %s", file, loom_tf_format_name(tf->format));

    const json_t *order = json_object_get(want, "order");
    T_CHECK(tf->n_tensors == (int)json_array_size(order), "%s: %d tensors, want %zu", file, tf->n_tensors,
            json_array_size(order));
    for (int i = 0; i < tf->n_tensors && i < (int)json_array_size(order); i++) {
        const char *w = json_string_value(json_array_get(order, (size_t)i));
        T_CHECK(!strcmp(tf->tensors[i].name, w), "%s: tensor %d is %s, want %s (header order)", file, i,
                tf->tensors[i].name, w);
    }
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(want, "tensors"), name, t) check_tensor(tf, name, t);

    for (int i = 0; i < tf->n_tensors; i++) { /* zero-copy: views into the mapping */
        const loom_tf_entry *e = &tf->tensors[i];
        if (!e->data) continue;
        T_CHECK(e->data >= tf->map.data && e->data + e->numel * loom_dtype_size(e->dtype) <= tf->map.data +
                tf->map.size, "%s: %s does not point into the mapped file", file, e->name);
    }

    const json_t *md = json_object_get(want, "metadata");
    T_CHECK(tf->n_meta == (int)json_object_size(md), "%s: %d metadata keys, want %zu", file, tf->n_meta,
            json_object_size(md));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)md, key, v) {
        const char *got = loom_tfile_meta(tf, key);
        T_CHECK(got && !strcmp(got, json_string_value(v)), "%s: metadata %s = %s, want %s", file, key,
                got ? got : "(absent)", json_string_value(v));
    }
    T_CHECK(loom_tfile_meta(tf, "no_such_key") == NULL, "%s: metadata lookup of a missing key", file);
    loom_tfile_close(tf);
}

static void check_dtypes_file_details(void)
{
    loom_tfile *tf = t_open_fixture("loader/st_dtypes.safetensors");
    if (!tf) return;
    const char *misses[] = {"", "f32", "f32.weight.x", "F32.weight", "__metadata__", "zzzz", "a"};
    for (size_t i = 0; i < sizeof misses / sizeof *misses; i++)
        T_CHECK(loom_tfile_find(tf, misses[i]) == NULL, "find('%s') should miss", misses[i]);

    const loom_tf_entry *five = loom_tfile_find(tf, "five_d");
    T_CHECK(five && five->ndim == 5, "five_d should have 5 dims");
    if (five) {
        loom_tensor t;
        loom_clear_error();
        loom_status s = loom_tfile_tensor(tf, five, &t);
        const char *msg = loom_last_error();
        T_CHECK(s == LOOM_E_UNSUPPORTED, "a 5-D view was not refused (%d)", (int)s);
        T_CHECK(strstr(msg, "five_d") && strstr(msg, "5 dims") && strstr(msg, tf->path) && !strchr(msg, '\n'),
                "unclear 5-D refusal: %s", msg);
    }
    const loom_tf_entry *sc = loom_tfile_find(tf, "scalar");
    T_CHECK(sc && sc->ndim == 0 && sc->numel == 1 && sc->data, "0-dim scalar: one element with data");
    loom_tfile_close(tf);

    /* The unaligned fixture really is unaligned (else the test proves nothing). */
    tf = t_open_fixture("loader/st_unaligned.safetensors");
    if (tf) {
        const loom_tf_entry *e = loom_tfile_find(tf, "odd.f32");
        T_CHECK(e && ((uintptr_t)e->data & 3) != 0, "odd.f32 should start at an unaligned address");
        loom_tfile_close(tf);
    }
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf && len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

static void check_open_memory(void)
{
    size_t n = 0;
    uint8_t *buf = slurp(t_fixture("loader/st_dtypes.safetensors"), &n);
    T_CHECK(buf && n > 0, "cannot read st_dtypes.safetensors");
    if (!buf) return;
    loom_tfile *mem = NULL, *file = t_open_fixture("loader/st_dtypes.safetensors");
    T_OK(loom_tfile_open_memory("in-memory", buf, n, &mem));
    if (mem && file) {
        T_CHECK(mem->n_tensors == file->n_tensors && mem->n_meta == file->n_meta, "memory and file opens differ");
        for (int i = 0; i < mem->n_tensors; i++) {
            const loom_tf_entry *a = &mem->tensors[i], *b = &file->tensors[i];
            T_CHECK(!a->data || (a->data >= buf && a->data < buf + n), "%s: not a view of the caller's buffer",
                    a->name);
            T_CHECK((a->data == NULL) == (b->data == NULL) &&
                        (!a->data || a->data - buf == b->data - file->map.data), "%s: offsets differ", a->name);
        }
    }
    loom_tfile_close(mem); /* must not free or unmap buf */
    loom_tfile_close(file);
    free(buf);

    loom_status s = loom_tfile_open_memory("nothing.safetensors", NULL, 0, &mem);
    T_CHECK(s != LOOM_OK && mem == NULL && strstr(loom_last_error(), "nothing.safetensors: empty file"),
            "empty buffer: %s", loom_last_error());
}

/* Inputs the container check keeps from the parser; the parser must still
 * refuse them when called directly. */
static void check_parse_direct(const char *hdr, size_t len, const char *want)
{
    uint8_t buf[64] = {0};
    size_t n = 7; /* hdr NULL: a file too short for the length field */
    if (hdr) {
        n = len + 8;
        buf[0] = (uint8_t)len;
        memcpy(buf + 8, hdr, len);
    }
    loom_tfile *tf = calloc(1, sizeof *tf);
    if (!tf) return;
    loom_arena_init(&tf->arena, 0);
    tf->path = "direct.safetensors";
    tf->map.data = buf;
    tf->map.size = n;
    tf->map.borrowed = 1;
    loom_clear_error();
    loom_status s = loom_safetensors_parse(tf);
    T_CHECK(s != LOOM_OK && strstr(loom_last_error(), want) && strstr(loom_last_error(), "direct.safetensors"),
            "direct parse of '%s': want '%s', got: %s", hdr ? hdr : "(7 bytes)", want, loom_last_error());
    loom_tfile_close(tf);
}

/* Messages that must carry the numbers the user needs. */
static void check_message(const char *file, const char *a, const char *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/bad_inputs/%s", LOOM_SRC_DIR, file);
    loom_tfile *tf = NULL;
    loom_status s = loom_tfile_open(path, &tf);
    const char *msg = loom_last_error();
    T_CHECK(s != LOOM_OK && strstr(msg, a) && strstr(msg, b), "%s: want '%s' and '%s' in: %s", file, a, b, msg);
    loom_tfile_close(tf);
}

int main(void)
{
    json_error_t err;
    json_t *want = json_load_file(t_fixture("loader/st_expected.json"), 0, &err);
    T_CHECK(want != NULL, "cannot read st_expected.json: %s (run scripts/gen_fixtures_safetensors.py)", err.text);
    if (!want) return t_finish("test_safetensors");
    T_CHECK(json_object_size(want) == 3, "st_expected.json describes %zu files", json_object_size(want));
    const char *file;
    json_t *w;
    json_object_foreach(want, file, w) check_file(file, w);
    json_decref(want);

    check_dtypes_file_details();
    check_open_memory();
    check_parse_direct("[1,2,3]", 7, "header is not a JSON object");
    check_parse_direct("\"text\"", 6, "header is not valid JSON"); /* jansson wants [ or { */
    check_parse_direct(NULL, 0, "too short");
    check_message("st_header_past_end.safetensors", "header length 224", "(size 224)");
    check_message("st_header_huge.safetensors", "9223372036854775808", "104857600");
    check_message("st_overlap.safetensors", "'a' and 'b'", "0-16 and 8-24");
    return t_finish("test_safetensors");
}
