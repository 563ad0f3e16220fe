/* adapter_group.c — key grouping and algorithm choice (adapter_group.h). */
#include "adapter_group.h"

#include <stdlib.h>
#include <string.h>

typedef struct keyref {
    const char *name;
    int index;
    loom_adapter_key_parts kp;
} keyref;

static int cmp_keyref(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    size_t n = x->kp.stem_len < y->kp.stem_len ? x->kp.stem_len : y->kp.stem_len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    if (x->kp.stem_len != y->kp.stem_len) return x->kp.stem_len < y->kp.stem_len ? -1 : 1;
    return strcmp(x->name, y->name); /* stable order inside a group */
}

static int same_stem(const keyref *a, const keyref *b)
{
    return a->kp.stem_len == b->kp.stem_len && !memcmp(a->name, b->name, a->kp.stem_len);
}

loom_status loom_adapter_group_keys(const char *const *names, int n, loom_adapter_group **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n <= 0) return LOOM_OK;
    keyref *k = malloc((size_t)n * sizeof *k);
    loom_adapter_group *g = malloc((size_t)n * sizeof *g);
    if (!k || !g) {
        free(k), free(g);
        return loom_fail(LOOM_E_NOMEM, "out of memory grouping %d adapter keys", n);
    }
    for (int i = 0; i < n; i++) {
        k[i].name = names[i];
        k[i].index = i;
        loom_adapter_key_split(names[i], &k[i].kp);
    }
    qsort(k, (size_t)n, sizeof *k, cmp_keyref);
    int ng = 0;
    for (int i = 0, j; i < n; i = j) {
        loom_adapter_group *m = &g[ng++];
        memset(m, 0, sizeof *m);
        for (int r = 0; r < LOOM_AR_COUNT; r++) m->idx[r] = -1;
        m->stem = k[i].name;
        m->stem_len = k[i].kp.stem_len;
        m->part = k[i].kp.part;
        m->diffusers = k[i].kp.diffusers;
        m->odd = -1;
        for (j = i; j < n && same_stem(&k[i], &k[j]); j++) {
            loom_adapter_role r = k[j].kp.role;
            m->n_keys++;
            if (r == LOOM_AR_UNKNOWN || m->idx[r] >= 0) {
                if (!m->n_odd++) m->odd = k[j].index;
            } else {
                m->idx[r] = k[j].index;
            }
        }
    }
    free(k);
    *out = g;
    *n_out = ng;
    return LOOM_OK;
}

int loom_adapter_group_kind(const loom_adapter_group *g)
{
#define HAS(role) (g->idx[LOOM_AR_##role] >= 0)
    /* A1111's order (networks.py: module_types): the first test that passes wins. */
    if (HAS(UP) && HAS(DOWN)) return LOOM_ADAPTER_LORA;
    if (HAS(HADA_W1_A) && HAS(HADA_W1_B) && HAS(HADA_W2_A) && HAS(HADA_W2_B)) return LOOM_ADAPTER_LOHA;
    if (HAS(IA3_WEIGHT)) return LOOM_ADAPTER_IA3;
    if ((HAS(LOKR_W1) || (HAS(LOKR_W1_A) && HAS(LOKR_W1_B))) && (HAS(LOKR_W2) || (HAS(LOKR_W2_A) && HAS(LOKR_W2_B))))
        return LOOM_ADAPTER_LOKR;
    if (HAS(DIFF)) return LOOM_ADAPTER_FULL;
    if (HAS(W_NORM) && HAS(B_NORM)) return LOOM_ADAPTER_NORM;
    if (HAS(GLORA_A1) && HAS(GLORA_A2) && HAS(GLORA_B1) && HAS(GLORA_B2) && HAS(ALPHA)) return LOOM_ADAPTER_GLORA;
    if (HAS(OFT_BLOCKS) || HAS(OFT_DIAG)) return LOOM_ADAPTER_OFT;
#undef HAS
    return -1;
}
