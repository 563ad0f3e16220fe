/* adapter_files_load.c — the registry's loader and `--lora` specs (adapter_files.h). */
#include <stdlib.h>
#include <string.h>

#include "adapter_files.h"
#include "prompt.h"
#include "tensor_file.h"

loom_status loom_adapter_file_load(void *user, const char *path, loom_adapter *out)
{
    const loom_adapter_load_opts *o = user;
    memset(out, 0, sizeof *out);
    if (!o || !o->map) return loom_fail(LOOM_E_INVALID, "%s: adapter loader without a key map", path);
    loom_tfile *tf = NULL;
    LOOM_TRY(loom_tfile_open(path, &tf)); /* its errors name the path */
    int n = tf->n_tensors;
    loom_adapter_src *src = n > 0 ? calloc((size_t)n, sizeof *src) : NULL;
    loom_status st = LOOM_OK;
    if (n > 0 && !src) st = loom_fail(LOOM_E_NOMEM, "%s: out of memory for %d tensors", path, n);
    for (int i = 0; i < n && !st; i++) {
        src[i].name = tf->tensors[i].name;
        st = loom_tfile_tensor(tf, &tf->tensors[i], &src[i].t);
    }
    /* The parse copies every factor to f32, so the file can be closed right after (the views
     * point into its mapping). */
    if (!st) st = loom_adapter_parse(path, src, n, o->map, o->strict, out);
    free(src);
    loom_tfile_close(tf);
    return st;
}

void loom_adapter_spec_free(loom_adapter_spec *s)
{
    if (!s) return;
    free(s->name);
    memset(s, 0, sizeof *s);
}

/* The spec is read as the prompt tag `<lora:SPEC>` so that the command line and the prompt can
 * never disagree on the multiplier rules (adapters.md §3.4). */
loom_status loom_adapter_spec_parse(const char *spec, loom_adapter_spec *out)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(spec);
    if (len == 0) return loom_fail(LOOM_E_INVALID, "--lora: empty adapter spec (NAME[:weight] or NAME:te:unet)");
    /* a '>' would end the tag early; a '<' could start another one */
    if (strpbrk(spec, "<>")) return loom_fail(LOOM_E_INVALID, "--lora %s: '<' and '>' cannot appear in a spec", spec);
    if (len > LOOM_PROMPT_MAX_BYTES - 8) return loom_fail(LOOM_E_INVALID, "--lora: spec of %zu bytes is too long", len);
    char *tag = malloc(len + 8);
    if (!tag) return loom_fail(LOOM_E_NOMEM, "--lora: out of memory");
    memcpy(tag, "<lora:", 6);
    memcpy(tag + 6, spec, len);
    memcpy(tag + 6 + len, ">", 2);
    char *rest = NULL;
    size_t rest_len = 0;
    loom_net_list l;
    loom_status st = loom_prompt_extract_networks(tag, len + 7, &rest, &rest_len, &l);
    free(tag);
    if (st) st = loom_fail_wrap(st, "--lora %s", spec);
    else if (l.n != 1 || rest_len != 0 || !l.v[0].name || !l.v[0].name[0])
        st = loom_fail(LOOM_E_INVALID, "--lora %s: expected NAME[:weight] or NAME:te:unet", spec);
    else if (l.v[0].has_dyn)
        st = loom_fail(LOOM_E_UNSUPPORTED, "--lora %s: dyn (a rank limit) is not supported", spec);
    else {
        out->name = malloc(strlen(l.v[0].name) + 1);
        if (!out->name) st = loom_fail(LOOM_E_NOMEM, "--lora: out of memory");
        else {
            strcpy(out->name, l.v[0].name);
            out->te = l.v[0].te;
            out->unet = l.v[0].unet;
        }
    }
    free(rest);
    loom_net_list_free(&l);
    return st;
}
