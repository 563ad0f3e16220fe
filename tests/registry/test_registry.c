/* test_registry.c — adapter files by name in a folder (host/adapter_files.h), the cache of parsed
 * adapters (adapters/registry.h) and `--lora` specs.
 *
 * A folder in the build tree is filled with the inspect fixtures under other names, in
 * subfolders and through links. The fixtures' ss_output_name aliases (loom_lora, loom_loha,
 * loom_lokr) and module counts (adapters/files.tsv, from LyCORIS / peft) come from the generator
 * scripts; the spec multipliers are the worked examples of adapters.md §3.4. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter_files.h"
#include "registry.h"
#include "testlib.h"

static char g_dir[1024];

static void copy_file(const char *from, const char *to_rel)
{
    char to[4200];
    snprintf(to, sizeof to, "%s/%s", g_dir, to_rel);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    T_CHECK(in && out, "copy %s -> %s", from, to);
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) T_CHECK(fwrite(buf, 1, n, out) == n, "write %s", to);
    if (in) fclose(in);
    if (out) fclose(out);
}

static const char *in_dir(const char *rel)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    return p;
}

/* The module count files.tsv records for an inspect fixture. */
static int expected_modules(const char *fixture)
{
    FILE *f = fopen(t_fixture("adapters/files.tsv"), "r");
    T_CHECK(f != NULL, "files.tsv missing");
    char line[1024];
    int n = -1;
    size_t fl = strlen(fixture);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, fixture, fl) && line[fl] == '\t') n = atoi(line + fl + 1);
    if (f) fclose(f);
    T_CHECK(n > 0, "%s not in files.tsv", fixture);
    return n;
}

static void setup_folder(void)
{
    char cwd[900], out[4096];
    T_CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(g_dir, sizeof g_dir, "%s/registry_tmp", cwd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/styles/deep' '%s/a' '%s/b'", g_dir, g_dir, g_dir, g_dir);
    T_CHECK(t_run(cmd, out, sizeof out) == 0, "%s: %s", cmd, out);
    copy_file(t_fixture("inspect/lora_kohya_sd15.safetensors"), "loom_kohya.safetensors"); /* alias loom_lora */
    copy_file(t_fixture("inspect/loha_sd15.safetensors"), "styles/Blindbox.SafeTensors");  /* alias loom_loha */
    copy_file(t_fixture("inspect/loha_sd15.safetensors"), "a/loha_copy.safetensors");      /* alias loom_loha again */
    copy_file(t_fixture("inspect/lora_peft_sd15.safetensors"), "a/twin.safetensors");
    copy_file(t_fixture("inspect/lora_peft_sd15.safetensors"), "b/twin.ckpt");
    copy_file(t_fixture("inspect/lora_peft_sd15.safetensors"), "b/loom_lokr.safetensors"); /* a name = another's alias */
    copy_file(t_fixture("adapters/bad/adp_missing_up.safetensors"), "broken.safetensors");
    copy_file(t_fixture("inspect/lora_kohya_sd15.safetensors"), "notes.txt"); /* not an adapter extension */
    copy_file(t_fixture("inspect/lora_kohya_sd15.safetensors"), ".safetensors"); /* splitext: no extension */
    FILE *g = fopen(in_dir("garbage.safetensors"), "wb");
    if (g) {
        fputs("not a safetensors file", g);
        fclose(g);
    }
    T_CHECK(symlink(t_fixture("inspect/lokr_sd15.safetensors"), in_dir("styles/deep/lokr_v1.safetensors")) == 0,
            "symlink");
    T_CHECK(symlink("..", in_dir("styles/loop")) == 0, "symlink loop"); /* must not be walked forever */
}

static void test_resolve(void)
{
    loom_adapter_dir d;
    const loom_adapter_dir_file *f = NULL;
    T_EXPECT_FAIL(loom_adapter_dir_scan(in_dir("no_such_folder"), &d), "no_such_folder");
    T_OK(loom_adapter_dir_scan(g_dir, &d));
    /* loom_kohya, Blindbox, loha_copy, twin ×2, loom_lokr, broken, garbage, lokr_v1 */
    T_CHECK(d.n == 9, "%d files listed", d.n);

    T_OK(loom_adapter_dir_resolve(&d, "loom_kohya", &f)); /* by file name */
    T_CHECK(f && !strcmp(f->rel, "loom_kohya.safetensors"), "loom_kohya -> %s", f ? f->rel : "-");
    T_OK(loom_adapter_dir_resolve(&d, "loom_lora", &f)); /* by ss_output_name */
    T_CHECK(f && !strcmp(f->rel, "loom_kohya.safetensors"), "loom_lora -> %s", f ? f->rel : "-");
    T_OK(loom_adapter_dir_resolve(&d, "Blindbox", &f)); /* subfolder, extension in any case */
    T_CHECK(f && !strcmp(f->rel, "styles/Blindbox.SafeTensors"), "Blindbox -> %s", f ? f->rel : "-");
    T_OK(loom_adapter_dir_resolve(&d, "lokr_v1", &f)); /* through a link, two levels down */
    T_CHECK(f && !strcmp(f->rel, "styles/deep/lokr_v1.safetensors"), "lokr_v1 -> %s", f ? f->rel : "-");
    T_OK(loom_adapter_dir_resolve(&d, "loom_lokr", &f)); /* a file name beats lokr_v1's alias */
    T_CHECK(f && !strcmp(f->rel, "b/loom_lokr.safetensors"), "loom_lokr -> %s", f ? f->rel : "-");

    T_EXPECT_FAIL(loom_adapter_dir_resolve(&d, "twin", &f), "adapter 'twin' is ambiguous", "a/twin.safetensors",
                  "b/twin.ckpt");
    T_EXPECT_FAIL(loom_adapter_dir_resolve(&d, "loom_loha", &f), "adapter 'loom_loha' is ambiguous",
                  "a/loha_copy.safetensors", "styles/Blindbox.SafeTensors", "alias");
    /* names are case-sensitive (as A1111); the near miss is offered */
    T_EXPECT_FAIL(loom_adapter_dir_resolve(&d, "blindbox", &f), "adapter 'blindbox': no file", g_dir,
                  "close: styles/Blindbox.SafeTensors (alias loom_loha)");
    T_EXPECT_FAIL(loom_adapter_dir_resolve(&d, "LOOM_LORA", &f), "close: loom_kohya.safetensors (alias loom_lora)");
    T_EXPECT_FAIL(loom_adapter_dir_resolve(&d, "zzz_nothing", &f), "adapter 'zzz_nothing': no file", "(9 files)");
    T_CHECK(!strstr(loom_last_error(), "close"), "no candidates expected: %s", loom_last_error());
    loom_adapter_dir_free(&d);
}

static int g_parses;

/* The host loader, counted: a hit must not parse. */
static loom_status counting_load(void *user, const char *path, loom_adapter *out)
{
    g_parses++;
    return loom_adapter_file_load(user, path, out);
}

static loom_adapter_load_opts g_opts;

static const loom_adapter *acquire(loom_adapter_registry *r, const char *rel)
{
    loom_adapter_file_id id;
    const loom_adapter *a = NULL;
    T_OK(loom_adapter_file_identity(in_dir(rel), &id));
    T_OK(loom_adapter_registry_acquire(r, &id, &a));
    return a;
}

static void test_cache(size_t *bytes_k, size_t *bytes_h, size_t *bytes_l)
{
    loom_adapter_registry *r = NULL;
    T_OK(loom_adapter_registry_create(SIZE_MAX, counting_load, &g_opts, &r));
    if (!r) return;
    g_parses = 0;
    const loom_adapter *k = acquire(r, "loom_kohya.safetensors");
    T_CHECK(k && k->n_modules == expected_modules("lora_kohya_sd15.safetensors"), "kohya modules %d",
            k ? k->n_modules : -1);
    const loom_adapter *k2 = acquire(r, "loom_kohya.safetensors");
    T_CHECK(k2 == k && g_parses == 1, "second acquire parsed again (%d parses)", g_parses);
    loom_adapter_registry_release(r, k);
    loom_adapter_registry_release(r, k2);
    const loom_adapter *h = acquire(r, "styles/Blindbox.SafeTensors");
    const loom_adapter *l = acquire(r, "styles/deep/lokr_v1.safetensors");
    T_CHECK(h && h->n_modules == expected_modules("loha_sd15.safetensors"), "loha modules");
    T_CHECK(l && l->n_modules == expected_modules("lokr_sd15.safetensors"), "lokr modules");
    *bytes_k = k ? loom_adapter_bytes(k) : 0;
    *bytes_h = h ? loom_adapter_bytes(h) : 0;
    *bytes_l = l ? loom_adapter_bytes(l) : 0;
    T_CHECK(*bytes_h > *bytes_l && *bytes_l > 0, "sizes %zu %zu", *bytes_h, *bytes_l);
    loom_adapter_registry_release(r, h);
    loom_adapter_registry_release(r, l);
    /* the next job swaps back to the first set: nothing is parsed */
    k = acquire(r, "loom_kohya.safetensors");
    loom_adapter_registry_release(r, k);
    loom_adapter_registry_stats s = loom_adapter_registry_get_stats(r);
    T_CHECK(g_parses == 3 && s.misses == 3 && s.hits == 2 && s.entries == 3 && s.evictions == 0,
            "parses %d misses %llu hits %llu entries %d", g_parses, (unsigned long long)s.misses,
            (unsigned long long)s.hits, s.entries);
    T_CHECK(s.bytes == *bytes_k + *bytes_h + *bytes_l, "bytes %zu", s.bytes);
    loom_adapter_registry_destroy(r);
}

static void test_bound(size_t bk, size_t bh, size_t bl)
{
    loom_adapter_registry *r = NULL;
    /* room for kohya + loha, not for all three */
    T_OK(loom_adapter_registry_create(bk + bh, counting_load, &g_opts, &r));
    if (!r) return;
    g_parses = 0;
    loom_adapter_registry_release(r, acquire(r, "loom_kohya.safetensors"));
    loom_adapter_registry_release(r, acquire(r, "styles/deep/lokr_v1.safetensors"));
    loom_adapter_registry_release(r, acquire(r, "loom_kohya.safetensors")); /* lokr is now least recent */
    loom_adapter_registry_release(r, acquire(r, "styles/Blindbox.SafeTensors"));
    loom_adapter_registry_stats s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.evictions == 1 && s.entries == 2 && s.bytes == bk + bh, "evictions %llu entries %d bytes %zu",
            (unsigned long long)s.evictions, s.entries, s.bytes);
    int before = g_parses;
    loom_adapter_registry_release(r, acquire(r, "loom_kohya.safetensors"));
    T_CHECK(g_parses == before, "kohya (recently used) was evicted");
    loom_adapter_registry_release(r, acquire(r, "styles/deep/lokr_v1.safetensors"));
    T_CHECK(g_parses == before + 1, "lokr (least recent) was not evicted");
    loom_adapter_registry_destroy(r);

    /* bound 0: whatever is held stays, whatever is released goes */
    T_OK(loom_adapter_registry_create(0, counting_load, &g_opts, &r));
    if (!r) return;
    const loom_adapter *k = acquire(r, "loom_kohya.safetensors");
    const loom_adapter *h = acquire(r, "styles/Blindbox.SafeTensors");
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.entries == 2 && s.bytes == bk + bh, "held entries evicted: %d left", s.entries);
    loom_adapter_registry_release(r, acquire(r, "styles/deep/lokr_v1.safetensors"));
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.entries == 2 && k && k->n_modules == expected_modules("lora_kohya_sd15.safetensors"),
            "entries %d after a released load", s.entries);
    loom_adapter_registry_release(r, k);
    loom_adapter_registry_release(r, h);
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.entries == 0 && s.bytes == 0, "entries %d bytes %zu after release", s.entries, s.bytes);
    (void)bl;
    loom_adapter_registry_destroy(r);
}

static void set_mtime(const char *path, time_t sec)
{
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    T_CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s", path);
}

static void test_changed_and_broken(void)
{
    loom_adapter_registry *r = NULL;
    T_OK(loom_adapter_registry_create(SIZE_MAX, counting_load, &g_opts, &r));
    if (!r) return;
    g_parses = 0;
    copy_file(t_fixture("inspect/lora_kohya_sd15.safetensors"), "changing.safetensors");
    set_mtime(in_dir("changing.safetensors"), 1000000000);
    const loom_adapter *old = acquire(r, "changing.safetensors");
    /* same bytes, new mtime (touch): parsed again; the old parse stays valid while held */
    set_mtime(in_dir("changing.safetensors"), 1000000001);
    const loom_adapter *touched = acquire(r, "changing.safetensors");
    loom_adapter_registry_stats s = loom_adapter_registry_get_stats(r);
    T_CHECK(g_parses == 2 && touched != old && s.entries == 2, "touch: parses %d entries %d", g_parses, s.entries);
    T_CHECK(old && old->n_modules == expected_modules("lora_kohya_sd15.safetensors"), "held stale entry freed");
    loom_adapter_registry_release(r, old);
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.entries == 1, "stale entry kept after release: %d", s.entries);
    loom_adapter_registry_release(r, touched);
    /* different content and size, same mtime: parsed again, the unheld stale entry dropped */
    copy_file(t_fixture("inspect/lokr_sd15.safetensors"), "changing.safetensors");
    set_mtime(in_dir("changing.safetensors"), 1000000001);
    const loom_adapter *now = acquire(r, "changing.safetensors");
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(g_parses == 3 && s.entries == 1, "resized: parses %d entries %d", g_parses, s.entries);
    T_CHECK(now && now->n_modules == expected_modules("lokr_sd15.safetensors"), "resized file not re-read");
    loom_adapter_registry_release(r, now);

    /* broken files: an error naming the file, nothing cached, the registry still serves */
    loom_adapter_file_id id;
    const loom_adapter *a = NULL;
    T_OK(loom_adapter_file_identity(in_dir("broken.safetensors"), &id));
    T_EXPECT_FAIL(loom_adapter_registry_acquire(r, &id, &a), in_dir("broken.safetensors"),
                  "module has no up factor");
    T_OK(loom_adapter_file_identity(in_dir("garbage.safetensors"), &id));
    T_EXPECT_FAIL(loom_adapter_registry_acquire(r, &id, &a), in_dir("garbage.safetensors"));
    T_CHECK(a == NULL, "failed acquire returned an adapter");
    s = loom_adapter_registry_get_stats(r);
    T_CHECK(s.load_failures == 2 && s.entries == 1, "failures %llu entries %d", (unsigned long long)s.load_failures,
            s.entries);
    int before = g_parses;
    now = acquire(r, "changing.safetensors");
    T_CHECK(now && g_parses == before, "registry unusable after a broken file");
    loom_adapter_registry_release(r, now);
    T_EXPECT_FAIL(loom_adapter_file_identity(in_dir("gone.safetensors"), &id), "gone.safetensors");
    loom_adapter_registry_destroy(r);
}

static void check_spec(const char *spec, double te, double unet)
{
    loom_adapter_spec s;
    T_OK(loom_adapter_spec_parse(spec, &s));
    T_CHECK(s.name && !strcmp(s.name, "x") && s.te == te && s.unet == unet, "%s -> %s %g %g", spec,
            s.name ? s.name : "-", s.te, s.unet);
    loom_adapter_spec_free(&s);
}

static void test_specs(void)
{
    /* adapters.md §3.4: <lora:x:0.7> te = unet = 0.7; <lora:x:1:0.5> te 1, unet 0.5; <lora:x:unet=0.3> te 1, unet 0.3 */
    check_spec("x", 1.0, 1.0);
    check_spec("x:0.7", 0.7, 0.7);
    check_spec("x:1:0.5", 1.0, 0.5);
    check_spec("x:unet=0.3", 1.0, 0.3);
    check_spec("x:te=0.2:unet=0.4", 0.2, 0.4);
    loom_adapter_spec s;
    T_EXPECT_FAIL(loom_adapter_spec_parse("", &s), "--lora");
    T_EXPECT_FAIL(loom_adapter_spec_parse("x:abc", &s), "--lora x:abc", "'abc' is not a number");
    T_EXPECT_FAIL(loom_adapter_spec_parse("x>y:1", &s), "--lora x>y:1");
    T_EXPECT_FAIL(loom_adapter_spec_parse(":0.5", &s), "--lora :0.5");
    T_EXPECT_FAIL(loom_adapter_spec_parse("x:1:1:4", &s), "dyn");
}

int main(void)
{
    g_opts.map = &loom_keymap_sd15;
    g_opts.strict = 0;
    setup_folder();
    test_resolve();
    size_t bk = 0, bh = 0, bl = 0;
    test_cache(&bk, &bh, &bl);
    test_bound(bk, bh, bl);
    test_changed_and_broken();
    test_specs();
    return t_finish("test_registry");
}
