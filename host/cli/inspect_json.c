/* inspect_json.c — `loom inspect --json`: one object per file. Field names are
 * stable; fields that do not apply are left out.
 *
 *   file            path as given
 *   format          "safetensors" | "torch zip"
 *   kind            "checkpoint" | "unet" | "vae" | "text_encoder" | "adapter" | "hypernetwork"
 *                   | "embedding" | "aesthetic_embedding" | "unknown"
 *   family          "sd1" | "sd2" | "sdxl" | "unknown"; family_reason: what showed it
 *   layout          key naming: "ldm" | "sgm" | "diffusers" | "transformers" | "kohya" | "a1111"
 *   parts           subset of ["unet", "text_encoder", "text_encoder_2", "vae", "ema"]
 *   dims            {model_channels, in_channels, context_dim, standard}: UNet shapes; standard is
 *                   false for dimensions other than the family's (SD1.5: 320, 4, 768)
 *   tensors, dtypes {"f16": n, …}, tensor_bytes, file_bytes
 *   adapter         {types {"lora": n, "loha": n, …}, algorithm ("locon" = LoRA with k×k conv
 *                   modules; "mixed"), dora (bool), dora_modules, tucker_modules, conv_modules,
 *                   modules {total, unet, te (all text encoders), te1, te2, other},
 *                   rank {min, max, common}, alpha {min, max, common}, unmatched_keys,
 *                   unmatched_example, bundled_embeddings, context_dim, te_width, te2_width}
 *   hypernetwork    {sizes [..], name, activation, layer_structure [..], layer_norm, step}
 *   embedding       {vectors, width, layout ("a1111" | "original" | "diffusers" | "kohya" |
 *                   "sdxl"), name, step}; an aesthetic embedding has {vectors, width}
 *   metadata        safetensors __metadata__: the main ss_* / modelspec.* keys (all with -v)
 *   metadata_family the family the metadata names; family_mismatch: it disagrees with the keys
 *   examples        a few keys of an unknown file */
#include <stdlib.h>
#include <string.h>

#include "inspect_report.h"

const char *const loom_inspect_main_meta[] = {
    "ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_network_args", "ss_base_model_version",
    "ss_v2", "ss_output_name", "ss_sd_model_name", "ss_clip_skip", "ss_training_comment", "sshs_model_hash",
    "modelspec.sai_model_spec", "modelspec.architecture", "modelspec.implementation", "modelspec.title",
    "modelspec.trigger_phrase", "lora_adapter_metadata", NULL,
};

const char *loom_inspect_clean(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++) buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = 0;
    return buf;
}

/* A JSON string even for bytes that are not UTF-8 (pickled py2 strings): those become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j) return j;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c) return NULL;
    for (size_t i = 0; i <= n; i++) c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    j = json_string(c);
    free(c);
    return j;
}

static void set_int(json_t *o, const char *k, int64_t v) { json_object_set_new(o, k, json_integer(v)); }

static json_t *adapter_json(const loom_adapter_info *a)
{
    json_t *o = json_object(), *types = json_object(), *mods = json_object();
    int kinds = 0, last = 0;
    for (int k = 0; k < LOOM_ADAPTER_KIND_COUNT; k++)
        if (a->n_by_kind[k]) {
            set_int(types, loom_adapter_kind_name(k), a->n_by_kind[k]);
            kinds++, last = k;
        }
    json_object_set_new(o, "types", types);
    const char *algo = kinds > 1 ? "mixed" : last == LOOM_ADAPTER_LORA && a->n_conv ? "locon"
                                             : loom_adapter_kind_name(last);
    json_object_set_new(o, "algorithm", json_string(algo));
    json_object_set_new(o, "dora", json_boolean(a->n_dora > 0));
    set_int(o, "dora_modules", a->n_dora);
    set_int(o, "tucker_modules", a->n_tucker);
    set_int(o, "conv_modules", a->n_conv);
    set_int(mods, "total", a->n_modules);
    set_int(mods, "unet", a->n_by_part[LOOM_AP_UNET]);
    set_int(mods, "te", a->n_by_part[LOOM_AP_TE] + a->n_by_part[LOOM_AP_TE1] + a->n_by_part[LOOM_AP_TE2]);
    set_int(mods, "te1", a->n_by_part[LOOM_AP_TE1]);
    set_int(mods, "te2", a->n_by_part[LOOM_AP_TE2]);
    set_int(mods, "other", a->n_by_part[LOOM_AP_OTHER]);
    json_object_set_new(o, "modules", mods);
    if (a->n_ranked)
        json_object_set_new(o, "rank", json_pack("{s:i,s:i,s:i}", "min", a->rank_min, "max", a->rank_max,
                                                 "common", a->rank_common));
    if (a->n_alpha)
        json_object_set_new(o, "alpha", json_pack("{s:f,s:f,s:f}", "min", a->alpha_min, "max", a->alpha_max,
                                                  "common", a->alpha_common));
    set_int(o, "unmatched_keys", a->n_unmatched);
    if (a->unmatched_example) json_object_set_new(o, "unmatched_example", jstr(a->unmatched_example));
    set_int(o, "bundled_embeddings", a->n_bundled_embeddings);
    if (a->context_dim) set_int(o, "context_dim", a->context_dim);
    if (a->te_width) set_int(o, "te_width", a->te_width);
    if (a->te2_width) set_int(o, "te2_width", a->te2_width);
    return o;
}

static json_t *hyper_json(const loom_model_info *m)
{
    json_t *o = json_object(), *sizes = json_array();
    for (int i = 0; i < m->hyper.n_sizes; i++) json_array_append_new(sizes, json_integer(m->hyper.sizes[i]));
    json_object_set_new(o, "sizes", sizes);
    if (m->hyper.name) json_object_set_new(o, "name", jstr(m->hyper.name));
    json_object_set_new(o, "activation", m->hyper.activation ? jstr(m->hyper.activation) : json_null());
    if (m->hyper.n_layer_structure >= 0) {
        json_t *ls = json_array();
        for (int i = 0; i < m->hyper.n_layer_structure; i++)
            json_array_append_new(ls, json_real(m->hyper.layer_structure[i]));
        json_object_set_new(o, "layer_structure", ls);
    }
    json_object_set_new(o, "layer_norm", json_boolean(m->hyper.layer_norm));
    if (m->hyper.has_step) set_int(o, "step", m->hyper.step);
    return o;
}

static json_t *embedding_json(const loom_model_info *m)
{
    json_t *o = json_object();
    set_int(o, "vectors", m->emb.vectors);
    set_int(o, "width", m->emb.width);
    if (m->emb.layout) json_object_set_new(o, "layout", json_string(m->emb.layout));
    if (m->emb.name) json_object_set_new(o, "name", jstr(m->emb.name));
    if (m->emb.has_step) set_int(o, "step", m->emb.step);
    return o;
}

static json_t *metadata_json(const loom_tfile *tf, int verbose)
{
    json_t *o = json_object();
    if (verbose) {
        for (int i = 0; i < tf->n_meta; i++) json_object_set_new(o, tf->meta[i].key, jstr(tf->meta[i].value));
        return o;
    }
    for (int i = 0; loom_inspect_main_meta[i]; i++) {
        const char *v = loom_tfile_meta(tf, loom_inspect_main_meta[i]);
        if (v) json_object_set_new(o, loom_inspect_main_meta[i], jstr(v));
    }
    return o;
}

json_t *loom_inspect_json(const loom_tfile *tf, const loom_model_info *m, int verbose)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "file", jstr(tf->path));
    json_object_set_new(o, "format", json_string(loom_tf_format_name(tf->format)));
    json_object_set_new(o, "kind", json_string(loom_file_kind_name(m->kind)));
    json_object_set_new(o, "family", json_string(loom_sd_family_name(m->family)));
    if (m->family_reason && m->family != LOOM_FAMILY_UNKNOWN)
        json_object_set_new(o, "family_reason", json_string(m->family_reason));
    if (m->layout) json_object_set_new(o, "layout", json_string(m->layout));
    json_t *parts = json_array();
    for (int i = 0; i < LOOM_PART_COUNT; i++)
        if (m->parts & (1u << i)) json_array_append_new(parts, json_string(loom_part_name(i)));
    json_object_set_new(o, "parts", parts);
    if (m->has_dims)
        json_object_set_new(o, "dims", json_pack("{s:I,s:I,s:I,s:b}", "model_channels", (json_int_t)m->model_channels,
                                                 "in_channels", (json_int_t)m->in_channels, "context_dim",
                                                 (json_int_t)m->context_dim, "standard", m->dims_standard));
    set_int(o, "tensors", m->n_tensors);
    json_t *dt = json_object();
    for (int d = 0; d < LOOM_DTYPE_COUNT; d++)
        if (m->dtype_count[d]) set_int(dt, loom_dtype_name((loom_dtype)d), m->dtype_count[d]);
    json_object_set_new(o, "dtypes", dt);
    set_int(o, "tensor_bytes", (int64_t)(m->tensor_bytes > INT64_MAX ? INT64_MAX : m->tensor_bytes));
    set_int(o, "file_bytes", (int64_t)m->file_bytes);
    if (m->kind == LOOM_FK_ADAPTER) json_object_set_new(o, "adapter", adapter_json(&m->adapter));
    if (m->kind == LOOM_FK_HYPERNETWORK) json_object_set_new(o, "hypernetwork", hyper_json(m));
    if (m->kind == LOOM_FK_EMBEDDING || m->kind == LOOM_FK_AESTHETIC)
        json_object_set_new(o, "embedding", embedding_json(m));
    if (tf->n_meta) json_object_set_new(o, "metadata", metadata_json(tf, verbose));
    if (m->metadata_family != LOOM_FAMILY_UNKNOWN) {
        json_object_set_new(o, "metadata_family", json_string(loom_sd_family_name(m->metadata_family)));
        json_object_set_new(o, "family_mismatch", json_boolean(m->family_mismatch));
    }
    if (m->n_examples) {
        json_t *ex = json_array();
        for (int i = 0; i < m->n_examples; i++) json_array_append_new(ex, jstr(m->examples[i]));
        json_object_set_new(o, "examples", ex);
    }
    return o;
}
