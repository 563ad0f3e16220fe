/* detect_addons.c — hypernetworks (addons.md §1.3/1.4), textual-inversion
 * embeddings in every format of §2.3, and aesthetic embeddings (§3.1).
 * Their non-tensor fields live in the pickle tree (tf->pickle_root). */
#include <string.h>

#include "detect.h"
#include "pickle.h"

/* "<width>.<0|1>.linear.<i>.weight|bias" — the flattened {width: (k_sd, v_sd)} of §1.3,
 * or the legacy "linear1"/"linear2" names of §1.4. Sets *width. */
static int hypernet_name(const char *s, int *width)
{
    long w = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 7; s++, digits++) w = w * 10 + (*s - '0');
    if (!digits || w <= 0 || s[0] != '.' || (s[1] != '0' && s[1] != '1') || s[2] != '.') return 0;
    if (strncmp(s + 3, "linear", 6)) return 0;
    *width = (int)w;
    return 1;
}

static const char *pv_str(const loom_pickle_value *v)
{
    return v && v->kind == LOOM_PV_STR ? v->u.str.data : NULL;
}

static int pv_int(const loom_pickle_value *v, int64_t *out)
{
    if (!v || (v->kind != LOOM_PV_INT && v->kind != LOOM_PV_BOOL)) return 0;
    *out = v->kind == LOOM_PV_INT ? v->u.i : v->u.b;
    return 1;
}

int loom_detect_hypernetwork(const loom_tfile *tf, loom_model_info *out)
{
    if (!tf->n_tensors) return 0;
    int n = 0;
    for (int i = 0; i < tf->n_tensors; i++) {
        int w;
        if (!hypernet_name(tf->tensors[i].name, &w)) return 0;
        int j = 0;
        while (j < n && out->hyper.sizes[j] != w) j++;
        if (j == n && n < LOOM_DETECT_MAX_SIZES) out->hyper.sizes[n++] = w;
    }
    for (int i = 1; i < n; i++) /* insertion sort: a handful of widths */
        for (int j = i; j > 0 && out->hyper.sizes[j - 1] > out->hyper.sizes[j]; j--) {
            int t = out->hyper.sizes[j];
            out->hyper.sizes[j] = out->hyper.sizes[j - 1];
            out->hyper.sizes[j - 1] = t;
        }
    out->hyper.n_sizes = n;
    out->kind = LOOM_FK_HYPERNETWORK;
    out->layout = "a1111";
    for (int i = 0; i < n; i++) /* a 768 (1024) entry acts on SD1 (SD2) cross-attention context, §1.1 */
        if (out->hyper.sizes[i] == 768) out->family = LOOM_FAMILY_SD1, out->family_reason = "a 768-wide entry";
        else if (out->hyper.sizes[i] == 1024) out->family = LOOM_FAMILY_SD2, out->family_reason = "a 1024-wide entry";
    const loom_pickle_value *root = tf->pickle_root;
    out->hyper.name = pv_str(loom_pv_get(root, "name"));
    out->hyper.activation = pv_str(loom_pv_get(root, "activation_func"));
    int64_t v;
    if (pv_int(loom_pv_get(root, "is_layer_norm"), &v)) out->hyper.layer_norm = v != 0;
    if (pv_int(loom_pv_get(root, "step"), &out->hyper.step)) out->hyper.has_step = 1;
    const loom_pickle_value *ls = loom_pv_get(root, "layer_structure");
    if (ls && (ls->kind == LOOM_PV_LIST || ls->kind == LOOM_PV_TUPLE)) {
        out->hyper.n_layer_structure = 0;
        for (size_t i = 0; i < ls->u.seq.n && i < LOOM_DETECT_MAX_SIZES; i++) {
            const loom_pickle_value *x = ls->u.seq.items[i];
            if (x->kind != LOOM_PV_INT && x->kind != LOOM_PV_FLOAT) continue; /* UI parses with float() */
            double d = x->kind == LOOM_PV_INT ? (double)x->u.i : x->u.f;
            out->hyper.layer_structure[out->hyper.n_layer_structure++] = d;
        }
    }
    return 1;
}

static void set_embedding(loom_model_info *out, const loom_tf_entry *e, const char *layout)
{
    out->kind = LOOM_FK_EMBEDDING;
    out->emb.layout = layout;
    out->emb.vectors = e->ndim == 1 ? 1 : e->shape[0];
    out->emb.width = e->ndim ? e->shape[e->ndim - 1] : 0;
    out->family = out->emb.width == 768 ? LOOM_FAMILY_SD1 : out->emb.width == 1024 ? LOOM_FAMILY_SD2
                                                                                    : LOOM_FAMILY_UNKNOWN;
    out->family_reason = "vector width (the text encoder's token-embedding width)";
}

/* A tensor only the pickle tree reaches (inside a ParameterDict object) still counts. */
static void count_extra(loom_model_info *out, const loom_tf_entry *e)
{
    out->n_tensors++;
    if ((unsigned)e->dtype < LOOM_DTYPE_COUNT) out->dtype_count[e->dtype]++;
    out->tensor_bytes += e->numel * loom_dtype_size(e->dtype); /* one small tensor: no overflow */
}

static int vector_shape(const loom_tf_entry *e)
{
    return e && (e->ndim == 1 || e->ndim == 2) && e->shape[e->ndim - 1] > 0 && (e->ndim == 1 || e->shape[0] > 0);
}

/* string_to_param as A1111 (a dict) or the original textual_inversion (a pickled
 * ParameterDict whose BUILD state holds '_parameters', §2.3.2) saves it. */
static int string_to_param(const loom_tfile *tf, loom_model_info *out)
{
    const loom_pickle_value *sp = loom_pv_get(tf->pickle_root, "string_to_param");
    const char *layout = "a1111";
    if (sp && sp->kind == LOOM_PV_OBJECT) {
        sp = loom_pv_get(loom_pv_state(sp), "_parameters");
        layout = "original";
    }
    if (!sp || sp->kind != LOOM_PV_DICT || sp->u.dict.n != 1) return 0;
    const loom_pickle_value *t = sp->u.dict.vals[0];
    if (t->kind != LOOM_PV_TENSOR || !vector_shape(t->u.tensor.entry)) return 0;
    set_embedding(out, t->u.tensor.entry, layout);
    if (!strcmp(layout, "original")) count_extra(out, t->u.tensor.entry);
    return 1;
}

int loom_detect_embedding(const loom_tfile *tf, loom_model_info *out)
{
    const loom_pickle_value *root = tf->pickle_root;
    if (root && root->kind == LOOM_PV_TENSOR) { /* aesthetic: the tensor itself is the root (§3.1) */
        const loom_tf_entry *e = root->u.tensor.entry;
        if (!e || e->ndim != 2 || e->shape[0] != 1) return 0;
        out->kind = LOOM_FK_AESTHETIC;
        out->emb.vectors = 1;
        out->emb.width = e->shape[1];
        if (e->shape[1] == 768) out->family = LOOM_FAMILY_SD1, out->family_reason = "CLIP ViT-L/14 image feature";
        return 1;
    }
    int found = 0;
    if (root && root->kind == LOOM_PV_DICT) {
        found = string_to_param(tf, out);
        out->emb.name = pv_str(loom_pv_get(root, "name"));
        if (pv_int(loom_pv_get(root, "step"), &out->emb.step)) out->emb.has_step = 1;
    }
    const loom_tf_entry *sp = loom_tfile_find(tf, "string_to_param.*");
    if (!found && vector_shape(sp)) { /* the A1111 dict saved as .safetensors */
        set_embedding(out, sp, "a1111");
        found = 1;
    }
    const loom_tf_entry *l = loom_tfile_find(tf, "clip_l"), *g = loom_tfile_find(tf, "clip_g");
    if (!found && vector_shape(l) && vector_shape(g)) { /* SDXL (§2.3.5): width is the sum, as A1111 counts it */
        set_embedding(out, g, "sdxl");
        out->emb.width = l->shape[l->ndim - 1] + g->shape[g->ndim - 1];
        out->family = LOOM_FAMILY_SDXL;
        out->family_reason = "clip_l + clip_g vectors";
        found = 1;
    }
    if (!found && tf->n_tensors == 1 && vector_shape(&tf->tensors[0])) { /* one key → one tensor (§2.2 branch 3) */
        set_embedding(out, &tf->tensors[0], strcmp(tf->tensors[0].name, "emb_params") ? "diffusers" : "kohya");
        found = 1;
    }
    return found;
}
