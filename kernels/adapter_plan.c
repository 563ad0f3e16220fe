/* adapter_plan.c — the backend-neutral helpers of adapter_plan.h. */
#include "adapter_plan.h"

static const char *const kind_names[] = {"lowrank", "hada", "kron", "dense"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == LOOM_AD_KIND_COUNT, "adapter kind table");

const char *loom_ad_kind_name(loom_ad_kind k) { return (unsigned)k < LOOM_AD_KIND_COUNT ? kind_names[k] : "?"; }

static int group_is_empty(const loom_ad_group *g)
{
    return !g->in_scale.data && !g->out_scale.data && !g->bias_add.data && g->n_terms == 0;
}

/* A plan the ops would refuse (bad batch, missing arrays, a group index out of range) counts as
 * not empty, so that the caller runs the adapted op and the user gets its error message rather
 * than a silent plain result. */
int loom_ad_plan_is_empty(const loom_ad_plan *p)
{
    if (!p) return 1;
    if (p->batch < 0 || p->n_groups < 0 || (p->batch > 0 && !p->group_of)) return 0;
    for (int i = 0; i < p->batch; i++) {
        const int g = p->group_of[i];
        if (g < 0) continue;
        if (g >= p->n_groups || !p->groups) return 0;
        if (!group_is_empty(&p->groups[g])) return 0;
    }
    return 1;
}
