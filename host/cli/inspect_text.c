/* inspect_text.c — `loom inspect` for people. */
#include <string.h>

#include "inspect_report.h"

static const char *kind_title(loom_file_kind k)
{
    static const char *const t[] = {"file of unknown kind (no checkpoint, adapter or embedding layout matched)",
                                    "checkpoint", "UNet", "VAE", "text encoder", "adapter", "hypernetwork",
                                    "textual-inversion embedding", "aesthetic embedding"};
    _Static_assert(sizeof t / sizeof t[0] == LOOM_FK_COUNT, "kind titles");
    return (unsigned)k < LOOM_FK_COUNT ? t[k] : "?";
}

static const char *adapter_title(const loom_adapter_info *a)
{
    static const char *const t[] = {"LoRA", "LoHa", "LoKr", "(IA)3", "full (diff)", "norm", "GLoRA", "OFT"};
    _Static_assert(sizeof t / sizeof t[0] == LOOM_ADAPTER_KIND_COUNT, "adapter titles");
    int kinds = 0, last = 0;
    for (int k = 0; k < LOOM_ADAPTER_KIND_COUNT; k++)
        if (a->n_by_kind[k]) kinds++, last = k;
    if (kinds > 1) return "mixed-algorithm";
    if (last == LOOM_ADAPTER_LORA && a->n_conv) return "LoCon";
    return t[last];
}

static void bytes(char *buf, size_t n, uint64_t b)
{
    if (b < 1024) snprintf(buf, n, "%llu B", (unsigned long long)b);
    else if (b < 1024ull * 1024) snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else if (b < 1024ull * 1024 * 1024) snprintf(buf, n, "%.1f MiB", b / (1024.0 * 1024));
    else snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

static void print_adapter(FILE *f, const loom_adapter_info *a)
{
    int te = a->n_by_part[LOOM_AP_TE] + a->n_by_part[LOOM_AP_TE1] + a->n_by_part[LOOM_AP_TE2];
    fprintf(f, "  %d modules: %d UNet, %d text encoder", a->n_modules, a->n_by_part[LOOM_AP_UNET], te);
    if (a->n_by_part[LOOM_AP_TE1] || a->n_by_part[LOOM_AP_TE2])
        fprintf(f, " (%d te1, %d te2)", a->n_by_part[LOOM_AP_TE1], a->n_by_part[LOOM_AP_TE2]);
    if (a->n_by_part[LOOM_AP_OTHER]) fprintf(f, ", %d other", a->n_by_part[LOOM_AP_OTHER]);
    fprintf(f, "\n  algorithms:");
    for (int k = 0; k < LOOM_ADAPTER_KIND_COUNT; k++)
        if (a->n_by_kind[k]) fprintf(f, " %s %d", loom_adapter_kind_name(k), a->n_by_kind[k]);
    if (a->n_dora) fprintf(f, ", DoRA on %d", a->n_dora);
    if (a->n_tucker) fprintf(f, ", Tucker on %d", a->n_tucker);
    if (a->n_conv) fprintf(f, ", k×k conv %d", a->n_conv);
    fputc('\n', f);
    if (a->n_ranked) fprintf(f, "  rank %d (min %d, max %d)", a->rank_common, a->rank_min, a->rank_max);
    else fprintf(f, "  no rank (the algorithm has none)");
    if (a->n_alpha) fprintf(f, ", alpha %g (min %g, max %g)", a->alpha_common, a->alpha_min, a->alpha_max);
    fputc('\n', f);
    if (a->n_unmatched) {
        char buf[160];
        fprintf(f, "  %d keys fit no module, e.g. '%s'\n", a->n_unmatched,
                loom_inspect_clean(a->unmatched_example, buf, sizeof buf));
    }
    if (a->n_bundled_embeddings) fprintf(f, "  %d bundled embeddings\n", a->n_bundled_embeddings);
}

static void print_family(FILE *f, const loom_model_info *m)
{
    if (m->family != LOOM_FAMILY_UNKNOWN && m->family_reason)
        fprintf(f, "  family %s, from: %s\n", loom_sd_family_title(m->family), m->family_reason);
    else if (m->family == LOOM_FAMILY_UNKNOWN && m->kind != LOOM_FK_UNKNOWN)
        fprintf(f, "  family: the keys and shapes do not tell%s%s%s\n", m->family_reason ? " (" : "",
                m->family_reason ? m->family_reason : "", m->family_reason ? ")" : "");
    if (m->family_mismatch)
        fprintf(f, "  note: the metadata says %s, the keys say %s\n", loom_sd_family_title(m->metadata_family),
                loom_sd_family_title(m->family));
}

/* The main keys in a fixed order; with -v every key, in file order. */
static void print_meta(FILE *f, const loom_tfile *tf, int verbose)
{
    char buf[240], kb[80];
    if (verbose) {
        for (int i = 0; i < tf->n_meta; i++)
            fprintf(f, "  %s = %s\n", loom_inspect_clean(tf->meta[i].key, kb, sizeof kb),
                    loom_inspect_clean(tf->meta[i].value, buf, sizeof buf));
        return;
    }
    for (int j = 0; loom_inspect_main_meta[j]; j++) {
        const char *v = loom_tfile_meta(tf, loom_inspect_main_meta[j]);
        if (v) fprintf(f, "  %s = %s\n", loom_inspect_main_meta[j], loom_inspect_clean(v, buf, sizeof buf));
    }
}

void loom_inspect_print(FILE *f, const loom_tfile *tf, const loom_model_info *m, int verbose)
{
    char buf[512], b1[32], b2[32];
    fprintf(f, "%s\n", loom_inspect_clean(tf->path, buf, sizeof buf));
    const char *fam = m->family == LOOM_FAMILY_UNKNOWN ? "" : loom_sd_family_title(m->family);
    if (m->kind == LOOM_FK_ADAPTER)
        fprintf(f, "  %s%s%s adapter (%s keys)\n", fam, *fam ? " " : "", adapter_title(&m->adapter), m->layout);
    else
        fprintf(f, "  %s%s%s%s%s%s\n", fam, *fam ? " " : "", kind_title(m->kind), m->layout ? " (" : "",
                m->layout ? m->layout : "", m->layout ? " layout)" : "");
    if (m->parts) {
        fprintf(f, "  parts:");
        for (int i = 0; i < LOOM_PART_COUNT; i++)
            if (m->parts & (1u << i)) fprintf(f, " %s", loom_part_name(i));
        fputc('\n', f);
    }
    print_family(f, m);
    if (m->has_dims)
        fprintf(f, "  UNet: %lld model channels, %lld in-channels, context %lld%s%s\n", (long long)m->model_channels,
                (long long)m->in_channels, (long long)m->context_dim,
                m->dims_standard || m->family == LOOM_FAMILY_UNKNOWN ? "" : " (non-standard dimensions)",
                m->in_channels == 9 ? " (inpainting)" : "");
    if (m->kind == LOOM_FK_ADAPTER) print_adapter(f, &m->adapter);
    if (m->kind == LOOM_FK_HYPERNETWORK) {
        fprintf(f, "  widths:");
        for (int i = 0; i < m->hyper.n_sizes; i++) fprintf(f, " %d", m->hyper.sizes[i]);
        fprintf(f, "; activation %s%s", m->hyper.activation ? loom_inspect_clean(m->hyper.activation, buf, 64)
                                                             : "none", m->hyper.layer_norm ? ", layer norm" : "");
        if (m->hyper.n_layer_structure >= 0) {
            fprintf(f, "; layer structure");
            for (int i = 0; i < m->hyper.n_layer_structure; i++) fprintf(f, " %g", m->hyper.layer_structure[i]);
        }
        fputc('\n', f);
    }
    if (m->kind == LOOM_FK_EMBEDDING || m->kind == LOOM_FK_AESTHETIC)
        fprintf(f, "  %lld vector%s of width %lld%s%s\n", (long long)m->emb.vectors, m->emb.vectors == 1 ? "" : "s",
                (long long)m->emb.width, m->emb.layout ? ", format " : "", m->emb.layout ? m->emb.layout : "");
    if (m->emb.name || m->hyper.name)
        fprintf(f, "  stored name: %s\n", loom_inspect_clean(m->emb.name ? m->emb.name : m->hyper.name, buf, 128));
    for (int i = 0; i < m->n_examples; i++) /* a torch file whose root object is a tensor has one unnamed key */
        fprintf(f, "  key: %s\n", m->examples[i][0] ? loom_inspect_clean(m->examples[i], buf, sizeof buf)
                                                     : "(the file's root object is this tensor)");
    bytes(b1, sizeof b1, m->tensor_bytes);
    bytes(b2, sizeof b2, m->file_bytes);
    fprintf(f, "  %lld tensor%s, %s (", (long long)m->n_tensors, m->n_tensors == 1 ? "" : "s", b1);
    int first = 1;
    for (int d = 0; d < LOOM_DTYPE_COUNT; d++)
        if (m->dtype_count[d]) {
            fprintf(f, "%s%s %lld", first ? "" : ", ", loom_dtype_name((loom_dtype)d), (long long)m->dtype_count[d]);
            first = 0;
        }
    fprintf(f, "%s); %s file, %s\n", first ? "none" : "", loom_tf_format_name(tf->format), b2);
    print_meta(f, tf, verbose);
}
