/* test_inspect.c — `loom inspect` says what real-format files are.
 *
 * tests/fixtures/inspect/ holds files written by the reference tools
 * (scripts/gen_fixtures_inspect.py: diffusers/transformers/open_clip checkpoints
 * in the LDM layout, LyCORIS and peft adapters on a full-size SD1.5 UNet and
 * CLIP-L, an A1111 hypernetwork, embeddings in every format) and expected.json,
 * what the generator built. For each file this runs `loom inspect --json FILE`
 * and compares kind, family, layout, parts, UNet dims, tensor count, dtypes,
 * byte counts, and for adapters the per-algorithm module counts, UNet/TE module
 * counts, DoRA/Tucker/conv modules, ranks and alphas; for hypernetworks and
 * embeddings their fields. It also runs the text report, and checks that a
 * missing file, a directory and a non-model file give exit 1 and one line, and
 * that usage errors give exit 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testlib.h"

#ifndef LOOM_BIN
#define LOOM_BIN "loom"
#endif

static char out[1 << 16];

static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", LOOM_BIN, args);
    return t_run(cmd, out, sizeof out);
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return s[0] && (!nl || nl[1] == 0);
}

/* Integer field of want equals the one of got (both under the same key). */
static void same_int(const char *file, const char *what, json_t *want, json_t *got, const char *key)
{
    json_t *w = json_object_get(want, key), *g = json_object_get(got, key);
    if (!w) return;
    T_CHECK(json_is_integer(g) && json_integer_value(g) == json_integer_value(w), "%s: %s.%s: want %lld, got %s",
            file, what, key, (long long)json_integer_value(w), g ? json_dumps(g, JSON_ENCODE_ANY) : "(absent)");
}

static void same_str(const char *file, const char *key, json_t *want, json_t *got)
{
    json_t *w = json_object_get(want, key), *g = json_object_get(got, key);
    if (!w) return;
    T_CHECK(json_is_string(g) && !strcmp(json_string_value(g), json_string_value(w)), "%s: %s: want %s, got %s", file,
            key, json_string_value(w), json_is_string(g) ? json_string_value(g) : "(absent)");
}

/* {"min", "max", "common"} of numbers, compared as doubles (alphas come from fp16 files: exact). */
static void same_range(const char *file, const char *key, json_t *want, json_t *got)
{
    json_t *w = json_object_get(want, key), *g = json_object_get(got, key);
    if (!w) {
        T_CHECK(!g, "%s: adapter.%s present but the generator made none", file, key);
        return;
    }
    const char *f[] = {"min", "max", "common"};
    for (int i = 0; i < 3; i++) {
        json_t *wv = json_object_get(w, f[i]), *gv = json_object_get(g, f[i]);
        if (!wv) continue;
        T_CHECK(json_is_number(gv) && fabs(json_number_value(gv) - json_number_value(wv)) < 1e-9,
                "%s: adapter.%s.%s: want %g, got %g", file, key, f[i], json_number_value(wv), json_number_value(gv));
    }
}

static void check_adapter(const char *file, json_t *want, json_t *got)
{
    T_CHECK(json_is_object(got), "%s: no adapter object", file);
    if (!json_is_object(got)) return;
    T_CHECK(json_equal(json_object_get(want, "types"), json_object_get(got, "types")), "%s: adapter.types differ: %s",
            file, json_dumps(json_object_get(got, "types"), 0));
    json_t *wm = json_object_get(want, "modules"), *gm = json_object_get(got, "modules");
    same_int(file, "adapter.modules", wm, gm, "unet");
    same_int(file, "adapter.modules", wm, gm, "te");
    const char *ints[] = {"dora_modules", "tucker_modules", "conv_modules", "unmatched_keys"};
    for (int i = 0; i < 4; i++) same_int(file, "adapter", want, got, ints[i]);
    int dora = json_integer_value(json_object_get(want, "dora_modules")) > 0;
    T_CHECK(json_is_boolean(json_object_get(got, "dora")) && json_is_true(json_object_get(got, "dora")) == dora,
            "%s: adapter.dora should be %d", file, dora);
    same_range(file, "rank", want, got);
    same_range(file, "alpha", want, got);
}

static void check_file(const char *name, json_t *want)
{
    char args[4096];
    snprintf(args, sizeof args, "inspect --json '%s/inspect/%s'", LOOM_FIXTURES, name);
    int rc = run(args);
    T_CHECK(rc == 0, "%s: exit %d: %s", name, rc, out);
    json_error_t err;
    json_t *got = json_loads(out, 0, &err);
    T_CHECK(json_is_object(got), "%s: output is not one JSON object (%s): %s", name, err.text, out);
    if (!json_is_object(got)) return;
    const char *strs[] = {"format", "kind", "family", "layout"};
    for (int i = 0; i < 4; i++) same_str(name, strs[i], want, got);
    const char *ints[] = {"tensors", "tensor_bytes", "file_bytes"};
    for (int i = 0; i < 3; i++) same_int(name, "", want, got, ints[i]);
    T_CHECK(json_equal(json_object_get(want, "dtypes"), json_object_get(got, "dtypes")), "%s: dtypes differ: %s", name,
            json_dumps(json_object_get(got, "dtypes"), 0));
    json_t *wp = json_object_get(want, "parts");
    json_t *empty = json_array();
    T_CHECK(json_equal(wp ? wp : empty, json_object_get(got, "parts")), "%s: parts differ: %s", name,
            json_dumps(json_object_get(got, "parts"), 0));
    json_decref(empty);
    json_t *wd = json_object_get(want, "dims"), *gd = json_object_get(got, "dims");
    if (wd) {
        same_int(name, "dims", wd, gd, "model_channels");
        same_int(name, "dims", wd, gd, "in_channels");
        same_int(name, "dims", wd, gd, "context_dim");
        json_t *std = json_object_get(gd, "standard");
        T_CHECK(json_is_boolean(std) && json_is_true(std) == json_is_true(json_object_get(want, "dims_standard")),
                "%s: dims.standard wrong", name);
    }
    if (json_object_get(want, "adapter"))
        check_adapter(name, json_object_get(want, "adapter"), json_object_get(got, "adapter"));
    json_t *ga = json_object_get(got, "adapter");
    if (json_object_get(want, "bundled_embeddings") || ga)
        T_CHECK(json_integer_value(json_object_get(ga, "bundled_embeddings")) ==
                json_integer_value(json_object_get(want, "bundled_embeddings")), "%s: bundled_embeddings", name);
    json_t *mm = json_object_get(got, "family_mismatch");
    T_CHECK(json_is_true(json_object_get(want, "metadata_mismatch")) == json_is_true(mm), "%s: family_mismatch %s",
            name, json_is_true(mm) ? "reported but the file has none" : "not reported");
    json_t *wh = json_object_get(want, "hypernetwork"), *gh = json_object_get(got, "hypernetwork");
    if (wh) {
        const char *keys[] = {"sizes", "name", "activation", "layer_structure", "layer_norm", "step"};
        for (int i = 0; i < 6; i++)
            T_CHECK(json_equal(json_object_get(wh, keys[i]), json_object_get(gh, keys[i])), "%s: hypernetwork.%s",
                    name, keys[i]);
    }
    json_t *we = json_object_get(want, "embedding"), *ge = json_object_get(got, "embedding");
    if (we) {
        same_int(name, "embedding", we, ge, "vectors");
        same_int(name, "embedding", we, ge, "width");
        same_str(name, "layout", we, ge);
    }
    json_decref(got);

    /* the text report runs too, names the file and says the family it found */
    snprintf(args, sizeof args, "inspect '%s/inspect/%s'", LOOM_FIXTURES, name);
    rc = run(args);
    T_CHECK(rc == 0 && strstr(out, name), "%s: text report failed (exit %d): %s", name, rc, out);
    const char *fam = json_string_value(json_object_get(want, "family"));
    const char *title = !strcmp(fam, "sd1")    ? "SD1.x"
                        : !strcmp(fam, "sd2")  ? "SD2.x"
                        : !strcmp(fam, "sdxl") ? "SDXL"
                                               : NULL;
    if (title) T_CHECK(strstr(out, title) != NULL, "%s: text report does not say %s: %s", name, title, out);
}

static void check_error(const char *args, const char *what, int want_rc)
{
    int rc = run(args);
    T_CHECK(rc == want_rc, "%s: exit %d, want %d: %s", what, rc, want_rc, out);
    T_CHECK(one_line(out), "%s: not one line: %s", what, out);
}

int main(void)
{
    json_error_t err;
    json_t *expected = json_load_file(t_fixture("inspect/expected.json"), 0, &err);
    T_CHECK(json_is_object(expected), "expected.json: %s", err.text);
    if (!json_is_object(expected)) return t_finish("test_inspect");
    const char *name;
    json_t *want;
    int n = 0;
    json_object_foreach(expected, name, want) {
        check_file(name, want);
        n++;
    }
    T_CHECK(n >= 20, "expected.json lists only %d files", n);

    char args[4096];
    snprintf(args, sizeof args, "inspect '%s/inspect/no-such-file.safetensors'", LOOM_FIXTURES);
    check_error(args, "missing file", 1);
    T_CHECK(strstr(out, "loom inspect: ") == out && strstr(out, "no-such-file"), "missing file message: %s", out);
    snprintf(args, sizeof args, "inspect '%s/inspect'", LOOM_FIXTURES);
    check_error(args, "directory", 1);
    snprintf(args, sizeof args, "inspect --json '%s/inspect/expected.json'", LOOM_FIXTURES);
    check_error(args, "non-model file", 1);
    T_CHECK(strstr(out, "expected.json") != NULL, "non-model file message does not name it: %s", out);
    check_error("inspect", "no file", 2);
    check_error("inspect --frobnicate x", "unknown option", 2);
    T_CHECK(run("inspect --help") == 0 && strstr(out, "usage: loom inspect"), "--help: %s", out);

    /* several files: one JSON line each; a bad one among them makes the exit 1 */
    snprintf(args, sizeof args, "inspect --json '%s/inspect/ti_a1111.pt' '%s/inspect/expected.json' "
             "'%s/inspect/aesthetic.pt'", LOOM_FIXTURES, LOOM_FIXTURES, LOOM_FIXTURES);
    int rc = run(args);
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    T_CHECK(rc == 1 && lines == 3, "two good files and a bad one: exit %d, %d lines: %s", rc, lines, out);
    /* -v shows every metadata key, not only the main ones */
    snprintf(args, sizeof args, "inspect -v '%s/inspect/lora_kohya_sd15.safetensors'", LOOM_FIXTURES);
    T_CHECK(run(args) == 0 && strstr(out, "modelspec.title = loom test lora"), "-v: %s", out);
    json_decref(expected);
    return t_finish("test_inspect");
}
