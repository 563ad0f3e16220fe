/* pipeline_adapters.c — adapter sets of a request → registry entries → plans (pipeline_adapters.h). */
#include "pipeline_adapters.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_io.h"
#include "tensor_alloc.h"

/* Cached factor bytes: a CLI run holds what it uses anyway; a long-running job scheduler keeps this
 * much between jobs so swapping sets reloads nothing cached (issue 4 item 6). */
#define REGISTRY_BYTES ((size_t)2 << 30)

typedef struct named_use {
    const char *name; /* borrowed from the spec or the tag */
    double te, unet;
    const char *where; /* "--lora" or the tag, for messages */
} named_use;

/* ---- base weights for the plan builder (DoRA reads W) ---- */

typedef struct base_find {
    int slot;
    const loom_tensor *w;
} base_find;

static void find_unet(void *user, loom_unet_wb *wb)
{
    base_find *f = user;
    if (wb->ad_slot == f->slot && wb->weight.data) f->w = &wb->weight;
}

typedef struct base_ctx {
    loom_sd_model *m;
    loom_tensor host; /* the last weight downloaded from the GPU (f32), valid until the next call */
} base_ctx;

static loom_status base_weight(void *user, int row, loom_tensor *out)
{
    base_ctx *bc = user;
    loom_sd_model *m = bc->m;
    base_find f = {row + 1, NULL};
    loom_unet_each_wb(&m->unet, find_unet, &f);
    for (int64_t i = 0; !f.w && i < m->clip.cfg.layers; i++) {
        loom_clip_layer *l = &m->clip.encoder_layers[i];
        const loom_clip_wb *v[] = {&l->self_attn_q_proj, &l->self_attn_k_proj, &l->self_attn_v_proj,
                                   &l->self_attn_out_proj, &l->mlp_fc1, &l->mlp_fc2};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            if (v[k]->ad_slot == f.slot) f.w = &v[k]->weight;
    }
    const loom_keymap_row *r = &m->adapter_map.rows[row];
    if (!f.w) return loom_fail(LOOM_E_INVALID, "adapters: the model holds no weight for %s", r->weight);
    *out = *f.w;
    if (f.w->device != LOOM_HOST || f.w->dtype != LOOM_F32) { /* GPU weights: DoRA's norms read a host f32 copy */
        loom_tensor_free(&bc->host);
        LOOM_TRY(loom_tensor_alloc(LOOM_HOST, LOOM_F32, f.w->ndim, f.w->shape, &bc->host));
        LOOM_TRY(loom_model_download(f.w, &bc->host));
        *out = bc->host;
    }
    if (r->ndim == 4 && out->ndim == 2) { /* a 1×1 conv held as [O, I] (proj_in/out): OHWI [O,1,1,I] */
        const int64_t s[4] = {out->shape[0], 1, 1, out->shape[1]};
        loom_device dev = out->device;
        *out = loom_tensor_view(out->data, out->dtype, 4, s);
        out->device = dev;
    }
    return LOOM_OK;
}

/* ---- resolving names ---- */

static int has_slash(const char *s) { return strchr(s, '/') != NULL; }

/* The file `name` names: in --lora-model-dir (scanned once), or a path when it holds a '/'
 * (--lora path/to/file.safetensors) that the folder does not resolve. */
static loom_status resolve(loom_gen_adapters *a, const loom_gen_request *req, const char *name, const char **path)
{
    if (has_slash(name) && !req->lora_dir) {
        *path = name;
        return LOOM_OK;
    }
    if (!a->have_dir) {
        if (!req->lora_dir) return loom_fail(LOOM_E_INVALID, "adapter '%s': no --lora-model-dir to find it in", name);
        LOOM_TRY(loom_adapter_dir_scan(req->lora_dir, &a->dir));
        a->have_dir = 1;
    }
    const loom_adapter_dir_file *f;
    loom_status s = loom_adapter_dir_resolve(&a->dir, name, &f);
    if (s != LOOM_OK && has_slash(name)) {
        *path = name;
        return LOOM_OK;
    }
    LOOM_TRY(s);
    *path = f->path;
    return LOOM_OK;
}

/* The adapter `name` names, acquired from the registry (and remembered in a->held). */
static loom_status acquire(loom_gen_adapters *a, const loom_gen_request *req, const char *name,
                           const loom_adapter **out)
{
    const char *path = NULL;
    LOOM_TRY(resolve(a, req, name, &path));
    loom_adapter_file_id id;
    LOOM_TRY(loom_adapter_file_identity(path, &id));
    const loom_adapter **held = realloc(a->held, (size_t)(a->n_held + 1) * sizeof *held);
    if (!held) return loom_fail(LOOM_E_NOMEM, "out of memory for adapters");
    a->held = held;
    LOOM_TRY(loom_adapter_registry_acquire(a->reg, &id, out));
    a->held[a->n_held++] = *out;
    if ((*out)->n_unmatched)
        LOOM_WARN("%s: %d module(s) match nothing in this model and are ignored (first: %s); "
                  "--strict-adapters makes that an error",
                  path, (*out)->n_unmatched, (*out)->unmatched[0] ? (*out)->unmatched[0] : "-");
    if ((*out)->n_modules == 0) LOOM_WARN("%s: no module of this adapter applies to this model", path);
    return LOOM_OK;
}

/* The uses of item i: --lora specs, then the prompt's tags. */
static loom_status item_uses(const loom_adapter_spec *specs, int n_specs, const loom_net_list *nets,
                             named_use **out, int *n_out)
{
    int n = n_specs + (nets ? nets->n : 0);
    *out = NULL, *n_out = 0;
    if (!n) return LOOM_OK;
    named_use *u = calloc((size_t)n, sizeof *u);
    if (!u) return loom_fail(LOOM_E_NOMEM, "out of memory for adapters");
    int k = 0;
    for (int i = 0; i < n_specs; i++) u[k++] = (named_use){specs[i].name, specs[i].te, specs[i].unet, "--lora"};
    for (int i = 0; nets && i < nets->n; i++) {
        const loom_net_request *r = &nets->v[i];
        if (r->has_dyn) {
            free(u);
            return loom_fail(LOOM_E_UNSUPPORTED, "prompt: %s: dyn (a rank limit) is not supported", r->tag);
        }
        u[k++] = (named_use){r->name, r->te, r->unet, r->tag};
    }
    *out = u, *n_out = k;
    return LOOM_OK;
}

static int same_set(const loom_adapter_set *a, const loom_adapter_set *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->uses[i].adapter != b->uses[i].adapter || a->uses[i].te != b->uses[i].te ||
            a->uses[i].unet != b->uses[i].unet)
            return 0;
    return 1;
}

/* Builds item i's set from its named uses and stores it (shared with an equal earlier set). */
static loom_status add_item(loom_gen_adapters *a, const loom_gen_request *req, int item, const named_use *nu, int n)
{
    loom_adapter_use *uses = n ? calloc((size_t)n, sizeof *uses) : NULL;
    if (n && !uses) return loom_fail(LOOM_E_NOMEM, "out of memory for adapters");
    int k = 0;
    for (int i = 0; i < n; i++) {
        const loom_adapter *ad;
        loom_status s = acquire(a, req, nu[i].name, &ad);
        if (s != LOOM_OK && req->skip_broken_adapters) {
            LOOM_WARN("%s: skipped: %s", nu[i].where, loom_last_error());
            continue;
        }
        if (s != LOOM_OK) {
            free(uses);
            return loom_fail_wrap(s, "%s", nu[i].where);
        }
        if (nu[i].te == 0 && nu[i].unet == 0) continue; /* weight 0: nothing to apply */
        uses[k++] = (loom_adapter_use){ad, (float)nu[i].te, (float)nu[i].unet};
    }
    loom_adapter_set set = {k, uses};
    for (int j = 0; j < a->n_sets; j++)
        if (same_set(&a->sets[j], &set)) {
            free(uses);
            a->set_of_item[item] = j;
            return LOOM_OK;
        }
    loom_adapter_set *sets = realloc(a->sets, (size_t)(a->n_sets + 1) * sizeof *sets);
    if (!sets) {
        free(uses);
        return loom_fail(LOOM_E_NOMEM, "out of memory for adapters");
    }
    a->sets = sets;
    a->sets[a->n_sets] = set;
    a->set_of_item[item] = a->n_sets++;
    return LOOM_OK;
}

loom_status loom_gen_adapters_prepare(const loom_gen_request *req, const loom_sd_model *model,
                                      const loom_net_list *item_nets, int n_items, loom_gen_adapters *out)
{
    memset(out, 0, sizeof *out);
    out->n_items = n_items;
    out->set_of_item = calloc((size_t)(n_items > 0 ? n_items : 1), sizeof *out->set_of_item);
    loom_adapter_spec *specs = req->n_loras ? calloc((size_t)req->n_loras, sizeof *specs) : NULL;
    loom_status s = LOOM_OK;
    if (!out->set_of_item || (req->n_loras && !specs)) s = loom_fail(LOOM_E_NOMEM, "out of memory for adapters");
    for (int i = 0; s == LOOM_OK && i < req->n_loras; i++) s = loom_adapter_spec_parse(req->loras[i], &specs[i]);
    out->load_opts = (loom_adapter_load_opts){&model->adapter_map, req->strict_adapters};
    if (s == LOOM_OK)
        s = loom_adapter_registry_create(REGISTRY_BYTES, loom_adapter_file_load, &out->load_opts, &out->reg);
    int any = 0;
    for (int i = 0; s == LOOM_OK && i < n_items; i++) {
        named_use *nu;
        int n;
        s = item_uses(specs, req->n_loras, item_nets ? &item_nets[i] : NULL, &nu, &n);
        if (s == LOOM_OK) s = add_item(out, req, i, nu, n);
        free(nu);
    }
    for (int j = 0; s == LOOM_OK && j < out->n_sets; j++) any |= out->sets[j].n > 0;
    base_ctx bc = {(loom_sd_model *)model, {0}}; /* read-only: the walk's callback type is not const */
    if (s == LOOM_OK && any)
        s = loom_adapter_plans_build(&model->adapter_map, out->sets, out->n_sets, base_weight, &bc, &out->plans);
    loom_tensor_free(&bc.host);
    if (s == LOOM_OK && out->plans && req->backend != LOOM_BACKEND_CPU) /* factors resident on the GPU */
        s = loom_adapter_plans_device_build_dtype(out->plans, model->adapter_map.n_rows, model->w.dtype,
                                                  &out->dplans); /* factors in the weights' storage type */
    for (int i = 0; specs && i < req->n_loras; i++) loom_adapter_spec_free(&specs[i]);
    free(specs);
    if (s != LOOM_OK) loom_gen_adapters_free(out);
    return s;
}

loom_status loom_gen_adapters_check_names(const loom_gen_request *req, const loom_net_list *item_nets, int n_items)
{
    if (req->skip_broken_adapters) return LOOM_OK; /* reported, and skipped, by prepare */
    loom_gen_adapters a;
    memset(&a, 0, sizeof a);
    loom_status s = LOOM_OK;
    const char *path;
    for (int i = 0; s == LOOM_OK && i < req->n_loras; i++) {
        loom_adapter_spec spec;
        s = loom_adapter_spec_parse(req->loras[i], &spec);
        if (s == LOOM_OK && (s = resolve(&a, req, spec.name, &path)) != LOOM_OK) s = loom_fail_wrap(s, "--lora");
        loom_adapter_spec_free(&spec);
    }
    for (int i = 0; s == LOOM_OK && item_nets && i < n_items; i++)
        for (int k = 0; s == LOOM_OK && k < item_nets[i].n; k++)
            if ((s = resolve(&a, req, item_nets[i].v[k].name, &path)) != LOOM_OK)
                s = loom_fail_wrap(s, "prompt: %s", item_nets[i].v[k].tag);
    if (a.have_dir) loom_adapter_dir_free(&a.dir);
    return s;
}

void loom_gen_adapters_free(loom_gen_adapters *a)
{
    loom_adapter_plans_device_free(a->dplans);
    if (a->plans) loom_adapter_plans_free(a->plans);
    for (int i = 0; i < a->n_held; i++) loom_adapter_registry_release(a->reg, a->held[i]);
    free(a->held);
    if (a->reg) loom_adapter_registry_destroy(a->reg);
    for (int j = 0; j < a->n_sets; j++) free((void *)a->sets[j].uses);
    free(a->sets);
    free(a->set_of_item);
    if (a->have_dir) loom_adapter_dir_free(&a->dir);
    memset(a, 0, sizeof *a);
}
