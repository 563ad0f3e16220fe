/* test_png.c — A1111 infotext and the PNG text chunk, against the references
 * in tests/fixtures/png/expected.json (scripts/gen_fixtures_png.py: A1111's
 * formatting rules, Pillow's PngInfo chunk bytes, Python's float repr). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image.h>

#include "infotext.h"
#include "png_write.h"
#include "testlib.h"

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", p[i]);
    s[2 * n] = 0;
    return s;
}

static void test_case(json_t *c)
{
    json_t *in = json_object_get(c, "input");
    loom_infotext it;
    memset(&it, 0, sizeof it);
    it.prompt = jstr(in, "prompt");
    it.negative_prompt = jstr(in, "negative_prompt");
    it.steps = (int)json_integer_value(json_object_get(in, "steps"));
    it.sampler = jstr(in, "sampler");
    it.schedule_type = jstr(in, "schedule_type");
    it.cfg_scale = json_number_value(json_object_get(in, "cfg_scale"));
    it.seed = json_integer_value(json_object_get(in, "seed"));
    it.width = (int)json_integer_value(json_object_get(in, "width"));
    it.height = (int)json_integer_value(json_object_get(in, "height"));
    it.model_hash = jstr(in, "model_hash");
    it.model = jstr(in, "model");
    it.vae_hash = jstr(in, "vae_hash");
    it.vae = jstr(in, "vae");
    json_t *ds = json_object_get(in, "denoising_strength");
    it.denoising_strength = ds ? json_number_value(ds) : -1;
    json_t *cs = json_object_get(in, "clip_skip");
    it.clip_skip = cs ? (int)json_integer_value(cs) : 1;
    it.rng = jstr(in, "rng");
    it.version = jstr(in, "version");
    json_t *extra = json_object_get(in, "extra");
    for (size_t i = 0; i < json_array_size(extra); i++) {
        it.extra[i].key = json_string_value(json_array_get(json_array_get(extra, i), 0));
        it.extra[i].value = json_string_value(json_array_get(json_array_get(extra, i), 1));
        it.n_extra++;
    }
    char *text = loom_infotext_format(&it);
    const char *want = jstr(c, "infotext");
    T_CHECK(text && !strcmp(text, want), "infotext\n got: %s\nwant: %s", text ? text : "(null)", want);

    uint8_t *chunk;
    size_t clen;
    T_OK(loom_png_text_chunk("parameters", want, &chunk, &clen));
    char *h = hex(chunk, clen);
    T_CHECK(!strcmp(h, jstr(c, "chunk_hex")), "text chunk differs from Pillow's for: %s", want);
    free(h);

    /* a whole image: decodes to the same pixels, text chunk right after IHDR */
    enum { W = 5, H = 3 };
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 17 + 3);
    uint8_t *png;
    size_t n;
    T_OK(loom_png_encode(rgb, W, H, "parameters", want, &png, &n));
    T_CHECK(n > 33 + clen && !memcmp(png + 33, chunk, clen), "text chunk follows IHDR");
    int w, hh, comp;
    uint8_t *dec = stbi_load_from_memory(png, (int)n, &w, &hh, &comp, 3);
    T_CHECK(dec && w == W && hh == H && !memcmp(dec, rgb, sizeof rgb), "PNG decodes to the same pixels");
    stbi_image_free(dec);
    free(png);
    free(chunk);
    free(text);
}

static void test_atomic(void)
{
    char path[] = "/tmp/loom_test_png_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0, "mkstemp");
    close(fd);
    T_OK(loom_write_file_atomic(path, "abc", 3));
    FILE *f = fopen(path, "rb");
    char buf[8] = {0};
    T_CHECK(f && fread(buf, 1, 8, f) == 3 && !memcmp(buf, "abc", 3), "written");
    if (f) fclose(f);
    unlink(path);
    loom_status s = loom_write_file_atomic("/nonexistent-dir/x.png", "abc", 3);
    T_CHECK(s == LOOM_E_IO && strstr(loom_last_error(), "/nonexistent-dir/x.png"), "error names the path: %s",
            loom_last_error());
    T_CHECK(access("/nonexistent-dir/x.png", F_OK) != 0, "no output left behind");
}

int main(void)
{
    json_error_t err;
    json_t *root = json_load_file(t_fixture("png/expected.json"), 0, &err);
    T_CHECK(root != NULL, "cannot read png/expected.json: %s", err.text);
    if (!root) return t_finish("test_png");
    json_t *cases = json_object_get(root, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) test_case(json_array_get(cases, i));
    json_t *fl = json_object_get(root, "float_repr");
    for (size_t i = 0; i < json_array_size(fl); i++) {
        double v = json_number_value(json_array_get(json_array_get(fl, i), 0));
        const char *want = json_string_value(json_array_get(json_array_get(fl, i), 1));
        char buf[64];
        T_CHECK(!strcmp(loom_py_float_repr(v, buf, sizeof buf), want), "repr(%.17g): got %s want %s", v, buf, want);
    }
    T_CHECK(json_array_size(cases) >= 5, "cases present");
    test_atomic();
    json_decref(root);
    return t_finish("test_png");
}
