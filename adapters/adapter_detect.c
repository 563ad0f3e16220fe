/* adapter_detect.c — classify an adapter from key names and shapes (adapter_detect.h). */
#include "adapter_detect.h"

#include "adapter_group.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One module group: the tensor playing each role, or NULL. */
typedef struct module {
    const char *stem;
    size_t stem_len;
    loom_adapter_part part;
    const loom_adapter_tensor *r[LOOM_AR_COUNT];
} module;

static int64_t dim(const module *m, loom_adapter_role role, int i)
{
    const loom_adapter_tensor *t = m->r[role];
    return t && i < t->ndim && t->shape[i] > 0 ? t->shape[i] : 0;
}

/* Product of two dims from the file, 0 when either is unknown or it overflows. */
static int64_t mul(int64_t a, int64_t b)
{
    return a > 0 && b > 0 && a <= INT64_MAX / b ? a * b : 0;
}

static int64_t numel(const loom_adapter_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; t && i < t->ndim; i++) n = mul(n, t->shape[i]);
    return t ? n : 0;
}

static int kernel_gt1(const module *m, loom_adapter_role role)
{
    const loom_adapter_tensor *t = m->r[role];
    return t && t->ndim == 4 && (t->shape[2] > 1 || t->shape[3] > 1);
}

/* A1111's self.dim (§3.1); 0 when the algorithm has none. */
static int64_t module_rank(const module *m, int kind)
{
    switch (kind) {
    case LOOM_ADAPTER_LORA: return dim(m, LOOM_AR_DOWN, 0);
    case LOOM_ADAPTER_LOHA: return dim(m, LOOM_AR_HADA_W1_B, 0);
    case LOOM_ADAPTER_LOKR:
        return m->r[LOOM_AR_LOKR_W2_B] ? dim(m, LOOM_AR_LOKR_W2_B, 0) : dim(m, LOOM_AR_LOKR_W1_B, 0);
    case LOOM_ADAPTER_GLORA: { /* ComfyUI's layout test (§2.7): old layout ties win */
        int64_t a1 = dim(m, LOOM_AR_GLORA_A1, 0);
        int old = dim(m, LOOM_AR_GLORA_B2, 1) == dim(m, LOOM_AR_GLORA_B1, 0) && a1 == dim(m, LOOM_AR_GLORA_B1, 0) &&
                  a1 == dim(m, LOOM_AR_GLORA_A2, 1);
        return old ? a1 : dim(m, LOOM_AR_GLORA_A2, 0);
    }
    default: return 0;
    }
}

static int is_conv(const module *m, int kind)
{
    switch (kind) {
    case LOOM_ADAPTER_LORA: return m->r[LOOM_AR_MID] || kernel_gt1(m, LOOM_AR_DOWN);
    case LOOM_ADAPTER_LOHA: return kernel_gt1(m, LOOM_AR_HADA_T1);
    case LOOM_ADAPTER_LOKR:
        return kernel_gt1(m, LOOM_AR_LOKR_T2) || kernel_gt1(m, LOOM_AR_LOKR_W2) || kernel_gt1(m, LOOM_AR_LOKR_W2_B);
    case LOOM_ADAPTER_FULL: return kernel_gt1(m, LOOM_AR_DIFF);
    case LOOM_ADAPTER_GLORA: return m->r[LOOM_AR_GLORA_BM] || kernel_gt1(m, LOOM_AR_GLORA_B2);
    default: return 0;
    }
}

/* Input width of the target layer as the factors show it (§2.1–2.5), 0 when they do not. */
static int64_t in_features(const module *m, int kind)
{
    switch (kind) {
    case LOOM_ADAPTER_LORA: return dim(m, LOOM_AR_DOWN, 1);
    case LOOM_ADAPTER_LOHA: return m->r[LOOM_AR_HADA_T1] ? 0 : dim(m, LOOM_AR_HADA_W1_B, 1);
    case LOOM_ADAPTER_LOKR: /* I = c·d: columns of W1 times columns of W2 */
        if (m->r[LOOM_AR_LOKR_T2]) return 0;
        return mul(m->r[LOOM_AR_LOKR_W1] ? dim(m, LOOM_AR_LOKR_W1, 1) : dim(m, LOOM_AR_LOKR_W1_B, 1),
                   m->r[LOOM_AR_LOKR_W2] ? dim(m, LOOM_AR_LOKR_W2, 1) : dim(m, LOOM_AR_LOKR_W2_B, 1));
    case LOOM_ADAPTER_FULL: return dim(m, LOOM_AR_DIFF, 1);
    case LOOM_ADAPTER_IA3: {
        const loom_adapter_tensor *oi = m->r[LOOM_AR_ON_INPUT];
        return oi && oi->has_value && oi->value != 0 ? numel(m->r[LOOM_AR_IA3_WEIGHT]) : 0;
    }
    default: return 0;
    }
}

static int64_t out_features(const module *m, int kind)
{
    switch (kind) {
    case LOOM_ADAPTER_LORA: return dim(m, LOOM_AR_UP, 0);
    case LOOM_ADAPTER_LOHA: return m->r[LOOM_AR_HADA_T1] ? 0 : dim(m, LOOM_AR_HADA_W1_A, 0);
    case LOOM_ADAPTER_LOKR:
        return mul(m->r[LOOM_AR_LOKR_W1] ? dim(m, LOOM_AR_LOKR_W1, 0) : dim(m, LOOM_AR_LOKR_W1_A, 0),
                   m->r[LOOM_AR_LOKR_W2] ? dim(m, LOOM_AR_LOKR_W2, 0) : dim(m, LOOM_AR_LOKR_W2_A, 0));
    case LOOM_ADAPTER_FULL: return dim(m, LOOM_AR_DIFF, 0);
    case LOOM_ADAPTER_IA3: {
        const loom_adapter_tensor *oi = m->r[LOOM_AR_ON_INPUT];
        return oi && oi->has_value && oi->value != 0 ? 0 : numel(m->r[LOOM_AR_IA3_WEIGHT]);
    }
    default: return 0;
    }
}

static const char *mem_find(const char *s, size_t n, const char *needle)
{
    size_t l = strlen(needle);
    for (size_t i = 0; l <= n && i <= n - l; i++)
        if (!memcmp(s + i, needle, l)) return s + i;
    return NULL;
}

static int ends_with(const module *m, const char *suffix)
{
    size_t l = strlen(suffix);
    return m->stem_len >= l && !memcmp(m->stem + m->stem_len - l, suffix, l);
}

/* UNet module names only SDXL has: SGM block names (kohya's SDXL UNet, §4.1), the
 * text_time embedding, or a transformer depth beyond 1 (SD1/SD2 have depth 1, §5.4). */
static int sdxl_only_stem(const module *m)
{
    static const char *const sgm[] = {"input_blocks", "middle_block", "output_blocks", "label_emb", "add_embedding"};
    for (size_t i = 0; i < sizeof sgm / sizeof sgm[0]; i++)
        if (mem_find(m->stem, m->stem_len, sgm[i])) return 1;
    const char *p = mem_find(m->stem, m->stem_len, "transformer_blocks");
    if (!p) return 0;
    p += 18;
    const char *end = m->stem + m->stem_len;
    if (p >= end || (*p != '_' && *p != '.')) return 0;
    int nonzero = 0;
    for (p++; p < end && *p >= '0' && *p <= '9'; p++) nonzero |= *p != '0';
    return nonzero;
}

typedef struct evidence {
    int te12, sdxl_stem;
} evidence;

static void note_module(const module *m, int kind, loom_adapter_info *out, evidence *ev)
{
    if (m->part == LOOM_AP_TE1 || m->part == LOOM_AP_TE2) ev->te12 = 1;
    if (m->part == LOOM_AP_UNET) {
        if (sdxl_only_stem(m)) ev->sdxl_stem = 1;
        if (!out->context_dim && (ends_with(m, "attn2_to_k") || ends_with(m, "attn2_to_v") ||
                                  ends_with(m, "attn2.to_k") || ends_with(m, "attn2.to_v") ||
                                  ends_with(m, "attn2.processor.to_k") || ends_with(m, "attn2.processor.to_v")))
            out->context_dim = in_features(m, kind);
    }
    if (m->part == LOOM_AP_TE || m->part == LOOM_AP_TE1 || m->part == LOOM_AP_TE2) {
        int64_t *w = m->part == LOOM_AP_TE2 ? &out->te2_width : &out->te_width;
        /* attention projections are square [C, C]: either side gives the width */
        if (!*w && (ends_with(m, "q_proj") || ends_with(m, "k_proj") || ends_with(m, "v_proj") ||
                    ends_with(m, "out_proj"))) {
            int64_t i = in_features(m, kind);
            *w = i ? i : out_features(m, kind);
        }
    }
}

/* Strongest evidence first (adapter_detect.h). */
static void decide_family(const evidence *ev, loom_adapter_info *out)
{
    const struct {
        int hit;
        loom_sd_family family;
        const char *why;
    } rules[] = {
        {ev->te12, LOOM_FAMILY_SDXL, "two text encoders (te1/te2)"},
        {ev->sdxl_stem, LOOM_FAMILY_SDXL, "UNet blocks only SDXL has"},
        {out->context_dim == 2048, LOOM_FAMILY_SDXL, "cross-attention context 2048"},
        {out->context_dim == 1024, LOOM_FAMILY_SD2, "cross-attention context 1024"},
        {out->te_width == 1024, LOOM_FAMILY_SD2, "text encoder width 1024"},
        {out->context_dim == 768, LOOM_FAMILY_SD1, "cross-attention context 768"},
        {out->te_width == 768, LOOM_FAMILY_SD1, "text encoder width 768"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].hit) {
            out->family = rules[i].family;
            out->family_reason = rules[i].why;
            return;
        }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Most frequent value of a sorted array; ties go to the smallest. */
#define MODE_OF(arr, n, out)                                                    \
    do {                                                                        \
        int best_ = 0;                                                          \
        for (int i_ = 0, j_; i_ < (n); i_ = j_) {                               \
            for (j_ = i_; j_ < (n) && (arr)[j_] == (arr)[i_]; j_++) {}          \
            if (j_ - i_ > best_) best_ = j_ - i_, (out) = (arr)[i_];            \
        }                                                                       \
    } while (0)

loom_status loom_adapter_detect(const loom_adapter_tensor *t, int n, loom_adapter_info *out)
{
    memset(out, 0, sizeof *out);
    out->n_keys = n;
    out->family_reason = "no module shows the text width";
    if (n <= 0) return LOOM_OK;
    const char **names = malloc((size_t)n * sizeof *names);
    int *ranks = malloc((size_t)n * sizeof *ranks);
    double *alphas = malloc((size_t)n * sizeof *alphas);
    if (!names || !ranks || !alphas) {
        free(names), free(ranks), free(alphas);
        return loom_fail(LOOM_E_NOMEM, "out of memory classifying %d adapter keys", n);
    }
    for (int i = 0; i < n; i++) {
        names[i] = t[i].name;
        loom_adapter_key_parts kp;
        loom_adapter_key_split(t[i].name, &kp);
        if (kp.diffusers) out->n_diffusers_keys++;
        else if (kp.role != LOOM_AR_UNKNOWN) out->n_kohya_keys++;
    }
    loom_adapter_group *groups;
    int n_groups;
    loom_status st = loom_adapter_group_keys(names, n, &groups, &n_groups);
    if (st) {
        free(names), free(ranks), free(alphas);
        return st;
    }
    evidence ev = {0, 0};
    for (int gi = 0; gi < n_groups; gi++) {
        const loom_adapter_group *g = &groups[gi];
        module m;
        memset(&m, 0, sizeof m);
        m.stem = g->stem;
        m.stem_len = g->stem_len;
        m.part = g->part;
        for (int r = 0; r < LOOM_AR_COUNT; r++) m.r[r] = g->idx[r] >= 0 ? &t[g->idx[r]] : NULL;
        int odd = g->n_odd; /* keys of this group that fit no role */
        const char *odd_name = g->odd >= 0 ? t[g->odd].name : NULL;
        if (m.part == LOOM_AP_EMBEDDING) {
            out->n_bundled_embeddings++;
            continue;
        }
        int kind = loom_adapter_group_kind(g);
        if (kind < 0) { /* every key of the group is unmatched */
            odd = g->n_keys;
            odd_name = g->stem;
        } else {
            out->n_modules++;
            out->n_by_part[m.part]++;
            out->n_by_kind[kind]++;
            out->n_dora += m.r[LOOM_AR_DORA] != NULL;
            out->n_tucker += m.r[LOOM_AR_MID] || m.r[LOOM_AR_HADA_T1] || m.r[LOOM_AR_LOKR_T2];
            out->n_conv += is_conv(&m, kind);
            int64_t r = module_rank(&m, kind);
            if (r > 0 && r <= INT32_MAX) ranks[out->n_ranked++] = (int)r;
            const loom_adapter_tensor *a = m.r[LOOM_AR_ALPHA];
            /* OFT's alpha is a constraint, not a scale (§3.1) */
            if (a && a->has_value && isfinite(a->value) && kind != LOOM_ADAPTER_OFT) alphas[out->n_alpha++] = a->value;
            note_module(&m, kind, out, &ev);
        }
        out->n_unmatched += odd;
        if (odd && !out->unmatched_example) out->unmatched_example = odd_name;
    }
    free(groups);
    if (out->n_ranked) {
        qsort(ranks, (size_t)out->n_ranked, sizeof *ranks, cmp_int);
        out->rank_min = ranks[0];
        out->rank_max = ranks[out->n_ranked - 1];
        MODE_OF(ranks, out->n_ranked, out->rank_common);
    }
    if (out->n_alpha) {
        qsort(alphas, (size_t)out->n_alpha, sizeof *alphas, cmp_double);
        out->alpha_min = alphas[0];
        out->alpha_max = alphas[out->n_alpha - 1];
        MODE_OF(alphas, out->n_alpha, out->alpha_common);
    }
    decide_family(&ev, out);
    free(names), free(ranks), free(alphas);
    return LOOM_OK;
}
