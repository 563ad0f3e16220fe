/* adapter_cases.c — loading the live-adapter op fixture (adapter_cases.h). */
#include "adapter_cases.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* "<case>/<name>" from the fixture, or an empty tensor when absent and optional. */
static loom_tensor load(fx_case *c, int required, const char *fmt, ...)
{
    char rel[128], name[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(name, sizeof name, "%s/%s", c->name, rel);
    loom_tensor t;
    memset(&t, 0, sizeof t);
    if (!required && !loom_tfile_find(c->tf, name)) return t;
    float *d = t_load_f32(c->tf, name, &t);
    if (d && c->n_owned < FX_MAX_OWNED) c->owned[c->n_owned++] = d;
    else if (d) {
        T_CHECK(0, "too many tensors in case %s", c->name);
        free(d);
        memset(&t, 0, sizeof t);
    }
    return t;
}

void fx_free_case(fx_case *c)
{
    for (int i = 0; i < c->n_owned; i++) free(c->owned[i]);
    c->n_owned = 0;
}

static int kind_from_name(const char *s)
{
    for (int k = 0; k < LOOM_AD_KIND_COUNT; k++)
        if (!strcmp(s, loom_ad_kind_name((loom_ad_kind)k))) return k;
    return -1;
}

json_t *fx_cases(const loom_tfile *tf, json_t **root)
{
    json_error_t jerr;
    const char *meta = loom_tfile_meta(tf, "fixture");
    *root = meta ? json_loads(meta, 0, &jerr) : NULL;
    json_t *cases = json_object_get(*root, "cases");
    return json_is_array(cases) ? cases : NULL;
}

int fx_load_case(fx_case *c, const loom_tfile *tf, json_t *jc)
{
    memset(c, 0, sizeof *c);
    c->tf = tf;
    c->name = json_string_value(json_object_get(jc, "name"));
    const char *op = json_string_value(json_object_get(jc, "op"));
    json_t *gof = json_object_get(jc, "group_of"), *groups = json_object_get(jc, "groups");
    if (!c->name || !op || !json_is_array(gof) || !json_is_array(groups) || json_array_size(gof) > FX_MAX_BATCH ||
        json_array_size(groups) + 1 > FX_MAX_GROUPS) {
        T_CHECK(0, "malformed fixture case %s", c->name ? c->name : "?");
        return 0;
    }
    c->is_conv = !strcmp(op, "conv2d");
    if (c->is_conv) {
        json_t *cv = json_object_get(jc, "conv");
        c->p = (loom_conv2d_params){(int)json_integer_value(json_array_get(cv, 0)),
                                    (int)json_integer_value(json_array_get(cv, 1)),
                                    (int)json_integer_value(json_array_get(cv, 2)),
                                    (int)json_integer_value(json_array_get(cv, 3))};
    }
    c->x = load(c, 1, "x"), c->w = load(c, 1, "w"), c->y_ref = load(c, 1, "y");
    c->bias = load(c, 0, "bias"), c->residual = load(c, 0, "residual");
    c->batch = (int)json_array_size(gof);
    for (int i = 0; i < c->batch; i++) c->group_of[i] = (int)json_integer_value(json_array_get(gof, (size_t)i));
    c->n_groups = (int)json_array_size(groups);
    for (int g = 0; g < c->n_groups; g++) {
        loom_ad_group *grp = &c->groups[g];
        json_t *terms = json_object_get(json_array_get(groups, (size_t)g), "terms");
        if (!json_is_array(terms) || json_array_size(terms) > FX_MAX_TERMS) {
            T_CHECK(0, "%s: malformed group %d", c->name, g);
            return 0;
        }
        grp->in_scale = load(c, 0, "g%d/in_scale", g);
        grp->out_scale = load(c, 0, "g%d/out_scale", g);
        grp->bias_add = load(c, 0, "g%d/bias_add", g);
        grp->n_terms = (int)json_array_size(terms);
        grp->terms = c->terms[g];
        for (int k = 0; k < grp->n_terms; k++) {
            json_t *jt = json_array_get(terms, (size_t)k);
            loom_ad_term *t = &c->terms[g][k];
            const char *kind = json_string_value(json_object_get(jt, "kind"));
            const int kd = kind ? kind_from_name(kind) : -1;
            T_CHECK(kd >= 0, "%s: group %d term %d: unknown kind %s", c->name, g, k, kind ? kind : "?");
            t->kind = (loom_ad_kind)kd;
            t->scale = (float)json_number_value(json_object_get(jt, "scale")); /* an f32 value, exact */
            t->down = load(c, 1, "g%d/t%d/down", g, k);
            t->up = load(c, kd != LOOM_AD_DENSE, "g%d/t%d/up", g, k);
            t->down2 = load(c, kd == LOOM_AD_HADA, "g%d/t%d/down2", g, k);
            t->up2 = load(c, kd == LOOM_AD_HADA, "g%d/t%d/up2", g, k);
            t->in_scale = load(c, 0, "g%d/t%d/in_scale", g, k);
            t->out_scale = load(c, 0, "g%d/t%d/out_scale", g, k);
        }
    }
    return c->x.data && c->w.data && c->y_ref.data;
}

loom_ad_plan fx_plan_of(const fx_case *c) { return (loom_ad_plan){c->batch, c->group_of, c->n_groups, c->groups}; }

loom_tensor fx_sample(const loom_tensor *t, int batch, int i)
{
    if (batch == 1) return *t;
    int64_t s[LOOM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) s[d] = t->shape[d];
    s[0] = 1;
    return loom_tensor_view((float *)t->data + i * (loom_tensor_numel(t) / batch), LOOM_F32, t->ndim, s);
}
