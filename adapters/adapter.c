/* adapter.c — parse one adapter file's tensors into modules (adapter.h). The per-algorithm
 * shape rules live in adapter_check.c, the ΔW reference in adapter_delta.c. */
#include "adapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_check.h"
#include "adapter_detect.h"
#include "adapter_group.h"

void loom_adapter_free(loom_adapter *a)
{
    if (!a) return;
    for (int i = 0; i < a->n_modules; i++)
        for (int r = 0; r < LOOM_AR_COUNT; r++) free(a->modules[i].f[r].data);
    free(a->modules);
    for (int i = 0; i < LOOM_ADAPTER_UNMATCHED_KEEP; i++) free(a->unmatched[i]);
    memset(a, 0, sizeof *a);
}

/* Refuse a file trained for another family (§1.5: from keys and shapes, never metadata).
 * loom_adapter_detect is the same classification `loom inspect` prints. */
static loom_status check_family(const char *path, const loom_adapter_src *src, int n, const loom_adapter_group *g,
                                int ng, const loom_keymap_table *map)
{
    loom_adapter_tensor *t = malloc((size_t)n * sizeof *t);
    if (!t) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        int64_t numel = loom_tensor_numel(&src[i].t);
        t[i].name = src[i].name;
        t[i].ndim = src[i].t.ndim;
        t[i].shape = src[i].t.shape;
        t[i].has_value = numel == 1;
        t[i].value = numel == 1 ? loom_tensor_get(&src[i].t, 0) : 0.0;
    }
    loom_adapter_info info;
    loom_status st = loom_adapter_detect(t, n, &info);
    free(t);
    if (st) return loom_fail_wrap(st, "%s", path);
    if (info.family == LOOM_FAMILY_UNKNOWN || info.family == map->family) return LOOM_OK;
    int k = 0;
    for (int i = 0; i < ng; i++) /* name a module that shows it: a second-encoder one if there is one */
        if (g[i].part == LOOM_AP_TE1 || g[i].part == LOOM_AP_TE2) {
            k = i;
            break;
        }
    return loom_fail(LOOM_E_UNSUPPORTED, "%s: adapter is for %s (%s, e.g. key %.*s), not for this %s model", path,
                     loom_sd_family_title(info.family), info.family_reason, ng ? (int)g[k].stem_len : 0,
                     ng ? g[k].stem : "", loom_sd_family_title(map->family));
}

static loom_status copy_factor(const char *path, const char *key, const loom_tensor *t, loom_adapter_factor *f)
{
    if (!loom_dtype_is_float(t->dtype))
        return loom_fail(LOOM_E_FORMAT, "%s: %s: factor dtype %s is not a float type", path, key,
                         loom_dtype_name(t->dtype));
    int64_t numel = loom_tensor_numel(t);
    if (numel <= 0 || (uint64_t)numel > SIZE_MAX / sizeof(float))
        return loom_fail(LOOM_E_FORMAT, "%s: %s: empty or oversized factor", path, key);
    f->data = malloc((size_t)numel * sizeof(float));
    if (!f->data) return loom_fail(LOOM_E_NOMEM, "%s: %s: out of memory for %lld values", path, key, (long long)numel);
    f->ndim = t->ndim;
    f->numel = numel;
    for (int d = 0; d < 4; d++) f->shape[d] = d < t->ndim ? t->shape[d] : 1;
    loom_status st = loom_tensor_to_f32(t, f->data);
    return st ? loom_fail_wrap(st, "%s: %s", path, key) : LOOM_OK;
}

/* alpha / scale / on_input: one number of any float or integer dtype, shape [] or [1] (§1.1). */
static loom_status read_scalar(const char *path, const char *key, const loom_tensor *t, double *v)
{
    if (loom_tensor_numel(t) != 1 || t->dtype == LOOM_BOOL)
        return loom_fail(LOOM_E_FORMAT, "%s: %s: expected one number", path, key);
    *v = loom_tensor_get(t, 0);
    if (!isfinite(*v)) return loom_fail(LOOM_E_FORMAT, "%s: %s: value is %g, not a finite number", path, key, *v);
    return LOOM_OK;
}

static int is_scalar_role(int r)
{
    return r == LOOM_AR_ALPHA || r == LOOM_AR_SCALE || r == LOOM_AR_ON_INPUT || r == LOOM_AR_LEGACY;
}

/* A group no algorithm accepts: say which factor is missing (§1.3's key tests). */
static loom_status incomplete(const char *path, const loom_adapter_src *src, const loom_adapter_group *g)
{
    static const struct {
        int have, need;
    } pairs[] = {{LOOM_AR_DOWN, LOOM_AR_UP}, {LOOM_AR_UP, LOOM_AR_DOWN},
                 {LOOM_AR_HADA_W1_A, LOOM_AR_HADA_W1_B}, {LOOM_AR_HADA_W1_B, LOOM_AR_HADA_W2_A},
                 {LOOM_AR_HADA_W2_A, LOOM_AR_HADA_W2_B}, {LOOM_AR_HADA_W2_B, LOOM_AR_HADA_W1_A},
                 {LOOM_AR_LOKR_W1_A, LOOM_AR_LOKR_W1_B}, {LOOM_AR_LOKR_W1_B, LOOM_AR_LOKR_W1_A},
                 {LOOM_AR_LOKR_W2_A, LOOM_AR_LOKR_W2_B}, {LOOM_AR_LOKR_W2_B, LOOM_AR_LOKR_W2_A},
                 {LOOM_AR_LOKR_W1, LOOM_AR_LOKR_W2}, {LOOM_AR_LOKR_W2, LOOM_AR_LOKR_W1},
                 {LOOM_AR_W_NORM, LOOM_AR_B_NORM}, {LOOM_AR_B_NORM, LOOM_AR_W_NORM}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (g->idx[pairs[i].have] >= 0 && g->idx[pairs[i].need] < 0)
            return loom_fail(LOOM_E_FORMAT, "%s: %s: module has no %s factor", path, src[g->idx[pairs[i].have]].name,
                             loom_adapter_role_name(pairs[i].need));
    int k = g->odd >= 0 ? g->odd : -1;
    for (int r = 0; k < 0 && r < LOOM_AR_COUNT; r++)
        if (g->idx[r] >= 0) k = g->idx[r];
    return loom_fail(LOOM_E_FORMAT, "%s: %s: keys of no adapter algorithm (unknown suffix)", path,
                     k >= 0 ? src[k].name : "?");
}

static loom_status parse_module(const char *path, const loom_adapter_src *src, const loom_adapter_group *g, int kind,
                                const loom_keymap_row *row, loom_adapter_module *m)
{
    memset(m, 0, sizeof *m);
    m->target = row;
    m->kind = (loom_adapter_kind)kind;
    m->part = g->part;
    double alpha = 0, scale = 0, on_input = 0;
    loom_status st = LOOM_OK;
    for (int r = 0; r < LOOM_AR_COUNT && !st; r++) {
        int i = g->idx[r];
        if (i < 0 || r == LOOM_AR_LEGACY) continue; /* §2.11: read by none of the references */
        const char *key = src[i].name;
        if (r == LOOM_AR_ALPHA) st = read_scalar(path, key, &src[i].t, &alpha);
        else if (r == LOOM_AR_SCALE) st = read_scalar(path, key, &src[i].t, &scale);
        else if (r == LOOM_AR_ON_INPUT) st = read_scalar(path, key, &src[i].t, &on_input);
        else if (!is_scalar_role(r)) st = copy_factor(path, key, &src[i].t, &m->f[r]);
    }
    if (st) return st;
    m->has_alpha = g->idx[LOOM_AR_ALPHA] >= 0;
    m->alpha = (float)alpha;
    m->on_input = on_input != 0;
    m->tucker = m->f[LOOM_AR_MID].data || m->f[LOOM_AR_HADA_T1].data || m->f[LOOM_AR_LOKR_T2].data;
    char key[256]; /* the module stem names it in shape errors */
    snprintf(key, sizeof key, "%.*s", (int)(g->stem_len < 255 ? g->stem_len : 255), g->stem);
    LOOM_TRY(loom_adapter_check_shapes(path, key, m));
    /* §3.1: scale key, else alpha/rank where the algorithm has a rank, else 1. alpha = 0 means
     * "no scaling" as in kohya and LyCORIS (§3.1 edge cases, §7 item 6); A1111 would give 0. */
    if (g->idx[LOOM_AR_SCALE] >= 0) m->scale = (float)scale;
    else if (m->has_alpha && m->rank > 0 && alpha != 0) m->scale = (float)(alpha / (double)m->rank);
    else m->scale = 1.0f;
    return LOOM_OK;
}

static loom_status note_unmatched(loom_adapter *a, const loom_adapter_group *g)
{
    if (a->n_unmatched < LOOM_ADAPTER_UNMATCHED_KEEP) {
        char *s = malloc(g->stem_len + 1);
        if (!s) return loom_fail(LOOM_E_NOMEM, "out of memory");
        memcpy(s, g->stem, g->stem_len);
        s[g->stem_len] = 0;
        a->unmatched[a->n_unmatched] = s;
    }
    a->n_unmatched++;
    return LOOM_OK;
}

static loom_status parse_groups(const char *path, const loom_adapter_src *src, const loom_adapter_group *g, int ng,
                                const loom_keymap_table *map, int strict, loom_adapter *a)
{
    for (int i = 0; i < ng; i++) {
        if (g[i].part == LOOM_AP_EMBEDDING) { /* §2.12: a textual-inversion vector, not a weight delta */
            a->n_embeddings++;
            continue;
        }
        int kind = loom_adapter_group_kind(&g[i]);
        if (kind < 0) return incomplete(path, src, &g[i]);
        if (g[i].n_odd) {
            const char *k = src[g[i].odd].name;
            loom_adapter_key_parts kp;
            loom_adapter_key_split(k, &kp);
            return loom_fail(LOOM_E_FORMAT, "%s: %s: %s", path, k,
                             kp.role == LOOM_AR_UNKNOWN ? "unknown key suffix" : "role given twice in one module");
        }
        if (kind == LOOM_ADAPTER_GLORA || kind == LOOM_ADAPTER_OFT)
            return loom_fail(LOOM_E_UNSUPPORTED, "%s: %.*s: %s modules are not supported", path, (int)g[i].stem_len,
                             g[i].stem, loom_adapter_kind_name((loom_adapter_kind)kind));
        const loom_keymap_row *row = loom_keymap_resolve(map, g[i].stem, g[i].stem_len);
        if (!row) {
            if (strict)
                return loom_fail(LOOM_E_FORMAT, "%s: %.*s: module matches no %s layer", path, (int)g[i].stem_len,
                                 g[i].stem, loom_sd_family_title(map->family));
            LOOM_TRY(note_unmatched(a, &g[i]));
            continue;
        }
        LOOM_TRY(parse_module(path, src, &g[i], kind, row, &a->modules[a->n_modules]));
        a->n_modules++;
    }
    return LOOM_OK;
}

loom_status loom_adapter_parse(const char *path, const loom_adapter_src *src, int n, const loom_keymap_table *map,
                               int strict, loom_adapter *out)
{
    memset(out, 0, sizeof *out);
    out->family = map->family;
    if (n <= 0) return loom_fail(LOOM_E_FORMAT, "%s: adapter file holds no tensors", path);
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) return loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = src[i].name;
    loom_adapter_group *g = NULL;
    int ng = 0;
    loom_status st = loom_adapter_group_keys(names, n, &g, &ng);
    free(names);
    if (st) return loom_fail_wrap(st, "%s", path);
    st = check_family(path, src, n, g, ng, map);
    if (!st) {
        out->modules = calloc((size_t)ng, sizeof *out->modules);
        st = out->modules ? parse_groups(path, src, g, ng, map, strict, out) : loom_fail(LOOM_E_NOMEM, "%s: out of memory", path);
    }
    if (!st && out->n_modules == 0 && out->n_embeddings == 0)
        st = loom_fail(LOOM_E_FORMAT, "%s: no module of the adapter matches a %s layer (%d unmatched, e.g. %s)", path,
                       loom_sd_family_title(map->family), out->n_unmatched, out->unmatched[0] ? out->unmatched[0] : "-");
    free(g);
    if (st) {
        /* parse_module may have filled the slot it failed on */
        if (out->modules) out->n_modules++;
        loom_adapter_free(out);
    }
    return st;
}
