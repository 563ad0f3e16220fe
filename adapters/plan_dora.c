/* plan_dora.c — what the plan builder needs of the base weight: DoRA's per-channel vectors
 * (adapters.md §2.9, §6.7) computed on the running weight W_{k−1} of A1111's sequential
 * application (§3.5, §6.11), kept in fp32 scratch by plan.c only for modules that need it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

loom_status loom_plan_base_f32(loom_adapter_base_fn base, void *user, const loom_keymap_table *map, int row,
                               float **out)
{
    const loom_keymap_row *r = &map->rows[row];
    *out = NULL;
    if (!base)
        return loom_fail(LOOM_E_INVALID, "adapter plan: %s: DoRA needs the base weight, and no callback was given",
                         r->kohya);
    loom_plan_geom g;
    loom_plan_geom_of(r, &g);
    loom_tensor w;
    memset(&w, 0, sizeof w);
    LOOM_TRY(base(user, row, &w));
    /* the backend layout: linear [O, I], conv OHWI [O, kh, kw, I] (plan.h) */
    loom_tensor want;
    memset(&want, 0, sizeof want);
    want.ndim = g.conv ? 4 : 2;
    int64_t shape[4] = {g.o, g.conv ? g.kh : g.i, g.kw, g.i};
    memcpy(want.shape, shape, sizeof shape);
    int ok = w.data && w.device == LOOM_HOST && loom_dtype_is_float(w.dtype) && w.ndim == want.ndim;
    for (int d = 0; ok && d < w.ndim; d++) ok = w.shape[d] == want.shape[d];
    if (!ok) {
        char got_s[64], want_s[64];
        if (w.ndim < 0 || w.ndim > LOOM_MAX_DIMS) w.ndim = 0; /* a bad view: print no shape */
        return loom_fail(LOOM_E_INVALID,
                         "adapter plan: %s: base weight %s is %s %s on the %s, want %s float on the host", r->kohya,
                         r->weight, loom_dtype_name(w.dtype), loom_shape_str(&w, got_s, sizeof got_s),
                         w.device == LOOM_HOST ? "host" : "device", loom_shape_str(&want, want_s, sizeof want_s));
    }
    float *f = malloc((size_t)(g.o * g.cols) * sizeof *f);
    if (!f) return loom_fail(LOOM_E_NOMEM, "adapter plan: %s: out of memory for the base weight", r->kohya);
    loom_status st = loom_tensor_to_f32(&w, f);
    if (st) {
        free(f);
        return loom_fail_wrap(st, "adapter plan: %s", r->kohya);
    }
    *out = f;
    return LOOM_OK;
}

/* §2.9: output axis when dora_scale.shape[0] == O (ComfyUI's rule: [O, 1], [O, 1, 1, 1], PEFT's
 * [O]), input axis when it holds I values ([1, I], [1, I, 1, 1]: A1111's), and a remaining
 * O-element vector ([1, O, 1, 1] with O ≠ I, PEFT's conv layout) on the output axis. */
static int dora_axis(const loom_adapter_factor *v, const loom_plan_geom *g)
{
    if (v->numel == g->o && v->ndim >= 1 && v->shape[0] == g->o) return 1;
    if (v->numel == g->i) return 0;
    if (v->numel == g->o) return 1;
    return -1;
}

loom_status loom_plan_dora(const loom_adapter_module *m, const loom_plan_geom *g, float mult, float *w, float *dw,
                           int update, int *out_axis, float *vec)
{
    const loom_adapter_factor *mag = &m->f[LOOM_AR_DORA];
    int axis = dora_axis(mag, g);
    if (axis < 0)
        return loom_fail(LOOM_E_INVALID,
                         "adapter plan: %s: dora_scale has %lld values, fitting neither O = %lld nor I = %lld",
                         m->target->kohya, (long long)mag->numel, (long long)g->o, (long long)g->i);
    *out_axis = axis;
    int64_t n = axis ? g->o : g->i;
    double *sq = calloc((size_t)n, sizeof *sq);
    if (!sq) return loom_fail(LOOM_E_NOMEM, "adapter plan: out of memory for DoRA norms");
    /* V = W_run + s·ΔW (s inside, multiplier outside: A1111 bfbca310, §2.9), into dw; ‖·‖ over
     * I·kh·kw per output row, or over O·kh·kw per input channel (OHWI column pq·I + i) */
    float s = m->scale;
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t pq = 0; pq < g->k; pq++) {
            float *v = dw + o * g->cols + pq * g->i;
            const float *x = w + o * g->cols + pq * g->i;
            for (int64_t i = 0; i < g->i; i++) {
                v[i] = x[i] + s * v[i];
                sq[axis ? o : i] += (double)v[i] * v[i];
            }
        }
    /* no epsilon (A1111). A zero V row/column makes g⊙V/‖V‖ 0/0; its merged values are taken as 0 */
    for (int64_t j = 0; j < n; j++) vec[j] = sq[j] > 0 ? (float)(mag->data[j] / sqrt(sq[j])) : 0.0f;
    free(sq);
    if (update) /* W_k = W_run + m·(scale ⊙ V − W_run): the running weight a later DoRA reads */
        for (int64_t o = 0; o < g->o; o++)
            for (int64_t pq = 0; pq < g->k; pq++) {
                const float *v = dw + o * g->cols + pq * g->i;
                float *x = w + o * g->cols + pq * g->i;
                for (int64_t i = 0; i < g->i; i++) x[i] += mult * (vec[axis ? o : i] * v[i] - x[i]);
            }
    return LOOM_OK;
}
