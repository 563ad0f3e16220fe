/* detect.c — what is this file? (detect.h). Model layouts here; hypernetworks
 * and embeddings, which need the pickle tree, in detect_addons.c. */
#include "detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"unknown", "checkpoint", "unet", "vae", "text_encoder",
                                         "adapter", "hypernetwork", "embedding", "aesthetic_embedding"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == LOOM_FK_COUNT, "file kind names");
static const char *const part_names[] = {"unet", "text_encoder", "text_encoder_2", "vae", "ema"};
_Static_assert(sizeof part_names / sizeof part_names[0] == LOOM_PART_COUNT, "part names");

const char *loom_file_kind_name(loom_file_kind k) { return (unsigned)k < LOOM_FK_COUNT ? kind_names[k] : "?"; }
const char *loom_part_name(int i) { return (unsigned)i < LOOM_PART_COUNT ? part_names[i] : "?"; }

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), l = strlen(suffix);
    return n >= l && !strcmp(s + n - l, suffix);
}

/* Index into tf->sorted of the first name >= prefix. */
static int lower_bound(const loom_tfile *tf, const char *prefix)
{
    int lo = 0, hi = tf->n_tensors;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(tf->tensors[tf->sorted[mid]].name, prefix) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int count_prefix(const loom_tfile *tf, const char *prefix)
{
    int n = 0;
    for (int i = lower_bound(tf, prefix); i < tf->n_tensors && starts(tf->tensors[tf->sorted[i]].name, prefix); i++)
        n++;
    return n;
}

/* First tensor (in name order) under `prefix` whose name ends with `suffix`. */
static const loom_tf_entry *find_under(const loom_tfile *tf, const char *prefix, const char *suffix)
{
    for (int i = lower_bound(tf, prefix); i < tf->n_tensors; i++) {
        const loom_tf_entry *e = &tf->tensors[tf->sorted[i]];
        if (!starts(e->name, prefix)) break;
        if (ends(e->name, suffix)) return e;
    }
    return NULL;
}

static const loom_tf_entry *find2(const loom_tfile *tf, const char *prefix, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", prefix, name);
    return loom_tfile_find(tf, buf);
}

static int64_t shape_at(const loom_tf_entry *e, int i) { return e && i < e->ndim ? e->shape[i] : 0; }

static void tensor_stats(const loom_tfile *tf, loom_model_info *out)
{
    out->file_bytes = tf->file_size;
    for (int i = 0; i < tf->n_tensors; i++) {
        const loom_tf_entry *e = &tf->tensors[i];
        out->n_tensors++;
        if ((unsigned)e->dtype < LOOM_DTYPE_COUNT) out->dtype_count[e->dtype]++;
        uint64_t es = loom_dtype_size(e->dtype);
        uint64_t b = es && e->numel > UINT64_MAX / es ? UINT64_MAX : e->numel * es;
        out->tensor_bytes = b > UINT64_MAX - out->tensor_bytes ? UINT64_MAX : out->tensor_bytes + b;
    }
}

/* A UNet's family from its structure (names and the kind of proj_in), and its
 * dimensions from shapes. `ldm` picks LDM/SGM names over diffusers ones. */
static void unet_facts(const loom_tfile *tf, const char *prefix, int ldm, loom_model_info *out)
{
    const loom_tf_entry *in = find2(tf, prefix, ldm ? "input_blocks.0.0.weight" : "conv_in.weight");
    const loom_tf_entry *k = find_under(tf, prefix, ".attn2.to_k.weight");
    out->has_dims = in != NULL;
    out->model_channels = shape_at(in, 0);
    out->in_channels = shape_at(in, 1);
    out->context_dim = shape_at(k, 1);
    if (out->family != LOOM_FAMILY_UNKNOWN) return;
    const loom_tf_entry *pin = find_under(tf, prefix, ".proj_in.weight");
    if (find2(tf, prefix, ldm ? "label_emb.0.0.weight" : "add_embedding.linear_1.weight"))
        out->family = LOOM_FAMILY_SDXL, out->family_reason = "text_time (size/crop) conditioning embedding";
    else if (pin && pin->ndim == 4)
        out->family = LOOM_FAMILY_SD1, out->family_reason = "1x1-conv proj_in (SD1.x transformer blocks)";
    else if (pin && pin->ndim == 2)
        out->family = LOOM_FAMILY_SD2, out->family_reason = "linear proj_in without size conditioning (SD2.x)";
}

static void check_dims(loom_model_info *out)
{
    static const int64_t context[LOOM_FAMILY_COUNT] = {0, 768, 1024, 2048};
    if (!out->has_dims || out->family == LOOM_FAMILY_UNKNOWN) return;
    out->dims_standard = out->model_channels == 320 && (out->in_channels == 4 || out->in_channels == 9) &&
                         (out->context_dim == 0 || out->context_dim == context[out->family]);
}

/* Single-file checkpoints and their parts (addons.md §5.7). Returns 1 if it is one. */
static int detect_ldm(const loom_tfile *tf, loom_model_info *out)
{
    int unet = count_prefix(tf, "model.diffusion_model.") > 0;
    int vae = count_prefix(tf, "first_stage_model.") > 0;
    int clip_l = count_prefix(tf, "cond_stage_model.transformer.") > 0;
    int open_clip = count_prefix(tf, "cond_stage_model.model.") > 0;
    int xl0 = count_prefix(tf, "conditioner.embedders.0.") > 0, xl1 = count_prefix(tf, "conditioner.embedders.1.") > 0;
    /* LitEma keeps decay and num_updates even in pruned files; the copy is the rest */
    int ema = count_prefix(tf, "model_ema.") - !!loom_tfile_find(tf, "model_ema.decay") -
              !!loom_tfile_find(tf, "model_ema.num_updates");
    if (!unet && !vae && !clip_l && !open_clip && !xl0 && !xl1) return 0;
    out->parts = (unet ? LOOM_PART_UNET : 0) | (vae ? LOOM_PART_VAE : 0) | (ema > 0 ? LOOM_PART_EMA : 0) |
                 (clip_l || open_clip || xl0 ? LOOM_PART_TE : 0) | (xl1 ? LOOM_PART_TE2 : 0);
    out->layout = xl0 || xl1 ? "sgm" : "ldm";
    if (xl0 || xl1) out->family = LOOM_FAMILY_SDXL, out->family_reason = "conditioner.embedders (CLIP-L + OpenCLIP-G)";
    else if (open_clip) out->family = LOOM_FAMILY_SD2, out->family_reason = "OpenCLIP text encoder";
    else if (clip_l) out->family = LOOM_FAMILY_SD1, out->family_reason = "CLIP ViT-L text encoder";
    if (unet) unet_facts(tf, "model.diffusion_model.", 1, out);
    int te = (out->parts & (LOOM_PART_TE | LOOM_PART_TE2)) != 0;
    out->kind = unet && (te || vae) ? LOOM_FK_CHECKPOINT : unet ? LOOM_FK_UNET : vae && !te ? LOOM_FK_VAE
              : te && !vae ? LOOM_FK_TEXT_ENCODER : LOOM_FK_CHECKPOINT;
    return 1;
}

/* Component files: a bare UNet, VAE or text encoder, LDM or diffusers names. */
static int detect_component(const loom_tfile *tf, loom_model_info *out)
{
    if (loom_tfile_find(tf, "input_blocks.0.0.weight") && count_prefix(tf, "middle_block.")) {
        out->kind = LOOM_FK_UNET, out->layout = "ldm", out->parts = LOOM_PART_UNET;
        unet_facts(tf, "", 1, out);
    } else if (loom_tfile_find(tf, "conv_in.weight") && count_prefix(tf, "down_blocks.") &&
               count_prefix(tf, "mid_block.") && !count_prefix(tf, "encoder.")) {
        out->kind = LOOM_FK_UNET, out->layout = "diffusers", out->parts = LOOM_PART_UNET;
        unet_facts(tf, "", 0, out);
    } else if (count_prefix(tf, "encoder.down.") && count_prefix(tf, "decoder.up.")) {
        out->kind = LOOM_FK_VAE, out->layout = "ldm", out->parts = LOOM_PART_VAE;
    } else if (count_prefix(tf, "encoder.down_blocks.") && count_prefix(tf, "decoder.up_blocks.")) {
        out->kind = LOOM_FK_VAE, out->layout = "diffusers", out->parts = LOOM_PART_VAE;
    } else {
        const loom_tf_entry *q = loom_tfile_find(tf, "text_model.encoder.layers.0.self_attn.q_proj.weight");
        if (!q) q = loom_tfile_find(tf, "encoder.layers.0.self_attn.q_proj.weight"); /* transformers >= 5 */
        if (!q) return 0;
        out->kind = LOOM_FK_TEXT_ENCODER, out->layout = "transformers";
        int64_t w = shape_at(q, 1);
        out->parts = w == 1280 ? LOOM_PART_TE2 : LOOM_PART_TE;
        out->family = w == 768 ? LOOM_FAMILY_SD1 : w == 1024 ? LOOM_FAMILY_SD2 : w == 1280 ? LOOM_FAMILY_SDXL
                                                                                              : LOOM_FAMILY_UNKNOWN;
        out->family_reason = "text encoder width";
    }
    return 1;
}

static loom_status detect_adapter(const loom_tfile *tf, loom_model_info *out, int *found)
{
    *found = 0;
    if (!tf->n_tensors) return LOOM_OK;
    loom_adapter_tensor *at = calloc((size_t)tf->n_tensors, sizeof *at);
    if (!at) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", tf->path);
    for (int i = 0; i < tf->n_tensors; i++) {
        const loom_tf_entry *e = &tf->tensors[i];
        at[i].name = e->name;
        at[i].ndim = e->ndim;
        at[i].shape = e->shape;
        loom_tensor t;
        if (e->numel == 1 && e->ndim <= LOOM_MAX_DIMS && loom_tfile_tensor(tf, e, &t) == LOOM_OK) {
            at[i].has_value = 1; /* alpha / scale / on_input: §1.1, any dtype, shape [] or [1] */
            at[i].value = loom_tensor_get(&t, 0);
        }
    }
    loom_status s = loom_adapter_detect(at, tf->n_tensors, &out->adapter);
    free(at);
    if (s != LOOM_OK) return loom_fail_wrap(s, "%s", tf->path);
    const loom_adapter_info *a = &out->adapter;
    /* A bare "x.weight"/"x.bias" state dict reads as IA3 modules: insist on adapter prefixes then. */
    int known_part = a->n_modules > a->n_by_part[LOOM_AP_OTHER] || a->n_by_kind[LOOM_ADAPTER_IA3] == 0;
    if (a->n_modules > 0 && known_part && 2 * a->n_unmatched < a->n_keys) {
        *found = 1;
        out->kind = LOOM_FK_ADAPTER;
        out->family = a->family;
        out->family_reason = a->family_reason;
        out->layout = a->n_diffusers_keys > a->n_kohya_keys ? "diffusers" : "kohya";
    }
    return LOOM_OK;
}

/* What the metadata claims (kohya ss_*, SAI modelspec); reported, never trusted. */
static loom_sd_family metadata_family(const loom_tfile *tf)
{
    const char *v = loom_tfile_meta(tf, "ss_base_model_version");
    if (v && starts(v, "sdxl")) return LOOM_FAMILY_SDXL;
    if (v && starts(v, "sd_v2")) return LOOM_FAMILY_SD2;
    if (v && starts(v, "sd_v1")) return LOOM_FAMILY_SD1;
    v = loom_tfile_meta(tf, "ss_v2");
    if (v && !strcmp(v, "True")) return LOOM_FAMILY_SD2;
    v = loom_tfile_meta(tf, "modelspec.architecture");
    if (v && starts(v, "stable-diffusion-xl")) return LOOM_FAMILY_SDXL;
    if (v && starts(v, "stable-diffusion-v2")) return LOOM_FAMILY_SD2;
    if (v && starts(v, "stable-diffusion-v1")) return LOOM_FAMILY_SD1;
    return LOOM_FAMILY_UNKNOWN;
}

loom_status loom_model_detect(const loom_tfile *tf, loom_model_info *out)
{
    memset(out, 0, sizeof *out);
    out->hyper.n_layer_structure = -1;
    tensor_stats(tf, out);
    int found = detect_ldm(tf, out) || detect_component(tf, out);
    if (!found) LOOM_TRY(detect_adapter(tf, out, &found));
    if (!found) found = loom_detect_hypernetwork(tf, out) || loom_detect_embedding(tf, out);
    if (!found) {
        out->kind = LOOM_FK_UNKNOWN;
        for (int i = 0; i < tf->n_tensors && out->n_examples < LOOM_DETECT_MAX_EXAMPLES; i++)
            out->examples[out->n_examples++] = tf->tensors[tf->sorted[i]].name;
    }
    check_dims(out);
    out->metadata_family = metadata_family(tf);
    out->family_mismatch = out->metadata_family != LOOM_FAMILY_UNKNOWN && out->family != LOOM_FAMILY_UNKNOWN &&
                           out->metadata_family != out->family;
    return LOOM_OK;
}
