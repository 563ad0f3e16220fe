/* adapter_files.h — the host side of adapters: finding an adapter file by name in
 * `--lora-model-dir` as A1111 does, the loader that the registry (adapters/registry.h) calls on a
 * miss, and `--lora NAME:w` command-line specs.
 *
 * adapters/ never opens files; this is where files are found, stat()ed and opened. */
#ifndef LOOM_ADAPTER_FILES_H
#define LOOM_ADAPTER_FILES_H

#include "adapter.h"
#include "keymap.h"
#include "loom_base.h"
#include "registry.h"

/* ---- name resolution (adapters.md §3.4, addons.md §4.2) ---- */

typedef struct loom_adapter_dir_file {
    char *path;  /* root "/" rel: what is opened and what the registry keys on */
    char *rel;   /* relative to the folder, for messages */
    char *name;  /* file name without its extension (the folders are not part of it) */
    char *alias; /* safetensors metadata ss_output_name; NULL when absent or not read yet */
    int alias_read;
} loom_adapter_dir_file;

typedef struct loom_adapter_dir {
    char *root;
    int n;
    loom_adapter_dir_file *v; /* sorted by rel */
} loom_adapter_dir;

/* Lists every .safetensors / .pt / .ckpt file (extension in any case) under `root` and its
 * subfolders, following symbolic links (A1111 walks the folder with os.walk(followlinks=True);
 * hidden folders too, A1111's list_hidden_files default). Link cycles are walked once.
 * A missing or unreadable `root` is an error; an unreadable subfolder is skipped, as os.walk does.
 * Nothing is opened here: aliases are read on demand by resolve. */
loom_status loom_adapter_dir_scan(const char *root, loom_adapter_dir *out);
void loom_adapter_dir_free(loom_adapter_dir *d);

/* The file an adapter NAME (from <lora:NAME:…> or --lora NAME:…) means: the one file whose name
 * without extension is NAME, else the one .safetensors file whose ss_output_name alias is NAME
 * (case-sensitive, as A1111). Two candidates at the same level are an error listing them (A1111
 * would silently take the last one it walked); no candidate is an error listing close names. */
loom_status loom_adapter_dir_resolve(loom_adapter_dir *d, const char *name, const loom_adapter_dir_file **out);

/* The registry key of a file: its path, size and modification time from stat(); out->path is
 * `path` itself (not copied). A file rewritten between this stat and the loader's open is cached
 * under the older identity until its next change: the window is the caller's to keep small. */
loom_status loom_adapter_file_identity(const char *path, loom_adapter_file_id *out);

/* ---- the registry's loader ---- */

typedef struct loom_adapter_load_opts {
    const loom_keymap_table *map; /* the checkpoint's family */
    int strict;                   /* --strict-adapters: unmatched modules are an error */
} loom_adapter_load_opts;

/* A loom_adapter_load_fn (registry.h) with `user` a loom_adapter_load_opts: opens the file,
 * hands its tensors to loom_adapter_parse and closes it again (the adapter owns f32 copies of
 * its factors, so nothing stays mapped). Errors name the file. */
loom_status loom_adapter_file_load(void *user, const char *path, loom_adapter *out);

/* ---- command-line specs ---- */

typedef struct loom_adapter_spec {
    char *name;
    double te, unet; /* A1111's text-encoder and UNet multipliers */
} loom_adapter_spec;

/* `--lora SPEC`, SPEC being what follows `<lora:` in a prompt tag: NAME, NAME:w, NAME:te:unet,
 * NAME:te=…:unet=… . The multipliers follow the prompt tag's rules exactly (adapters.md §3.4):
 * te = pos 1 (default 1), unet = pos 2 (default te), named te=/unet= override. */
loom_status loom_adapter_spec_parse(const char *spec, loom_adapter_spec *out);
void loom_adapter_spec_free(loom_adapter_spec *s);

#endif
