/* group_norm.c — GroupNorm over NHWC x[N, ..., C] (ops.h), optional fused SiLU.
 *
 * Statistics per (n, group) over every spatial position and the group's
 * C/groups channels, as torch.nn.functional.group_norm: biased variance,
 * eps inside the square root. A 64×64×320 map has 40960 elements per group,
 * so mean and variance are accumulated in double, and the variance is a
 * second pass around the mean (no E[x²]−E[x]² cancellation). */
#include "cpu_check.h"
#include "cpu_internal.h"
#include "cpu_ops.h"

#include <math.h>
#include <stdlib.h>

loom_status loom_cpu_group_norm(const loom_tensor *x, const loom_tensor *gamma, const loom_tensor *beta,
                                loom_tensor *y, int groups, float eps, int fuse_silu)
{
    static const char op[] = "group_norm";
    LOOM_TRY(loom_cpu_check_tensor(op, "x", x));
    LOOM_TRY(loom_cpu_check_tensor(op, "y", y));
    LOOM_TRY(loom_cpu_check_ndim(op, "x", x, 2, 4));
    LOOM_TRY(loom_cpu_check_shape(op, "y", y, x->ndim, x->shape));
    const int64_t nb = x->shape[0], c = x->shape[x->ndim - 1];
    const int64_t s = loom_cpu_rows(x) / (nb ? nb : 1); /* spatial positions per sample */
    if (groups < 1 || c % groups != 0) {
        char xs[96];
        return loom_fail(LOOM_E_INVALID, "group_norm: %d groups do not divide the %lld channels of x %s", groups,
                         (long long)c, loom_shape_str(x, xs, sizeof xs));
    }
    if (!(eps >= 0.0f) || !isfinite(eps))
        return loom_fail(LOOM_E_INVALID, "group_norm: eps %g must be finite and >= 0", (double)eps);
    LOOM_TRY(loom_cpu_check_vector(op, "gamma", gamma, c));
    LOOM_TRY(loom_cpu_check_vector(op, "beta", beta, c));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "x", x, 1));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "gamma", gamma, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "y", y, "beta", beta, 0));
    if (loom_tensor_numel(x) == 0) return LOOM_OK;

    const int64_t cg = c / groups;
    const float *xd = x->data, *gd = gamma ? gamma->data : NULL, *bd = beta ? beta->data : NULL;
    float *yd = y->data;
    /* acc[c]: per-channel partial sums; mean per group; cm/ca/cb: per
     * channel, y = (x − cm)·ca + cb. The subtraction stays in double: with a
     * mean far from zero (|μ| ≫ σ), folding it into an f32 bias would cancel. */
    double *acc = malloc((size_t)c * sizeof(double));
    double *mean = malloc((size_t)groups * sizeof(double));
    double *cm = malloc((size_t)c * sizeof(double)), *ca = malloc((size_t)c * sizeof(double));
    double *cb = malloc((size_t)c * sizeof(double));
    if (!acc || !mean || !cm || !ca || !cb) {
        free(acc), free(mean), free(cm), free(ca), free(cb);
        return loom_fail(LOOM_E_NOMEM, "group_norm: out of memory for %lld channels", (long long)c);
    }
    const double count = (double)(s * cg);
    const loom_act act = fuse_silu ? LOOM_ACT_SILU : LOOM_ACT_NONE;
    for (int64_t n = 0; n < nb; n++) {
        const float *xn = xd + n * s * c;
        float *yn = yd + n * s * c;
        /* pass 1: mean */
        for (int64_t ch = 0; ch < c; ch++) acc[ch] = 0;
        for (int64_t i = 0; i < s; i++)
            for (int64_t ch = 0; ch < c; ch++) acc[ch] += xn[i * c + ch];
        for (int g = 0; g < groups; g++) {
            double sum = 0;
            for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) sum += acc[ch];
            mean[g] = sum / count;
            for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) cm[ch] = mean[g];
        }
        /* pass 2: biased variance around the mean */
        for (int64_t ch = 0; ch < c; ch++) acc[ch] = 0;
        for (int64_t i = 0; i < s; i++)
            for (int64_t ch = 0; ch < c; ch++) {
                const double d = xn[i * c + ch] - cm[ch];
                acc[ch] += d * d;
            }
        for (int g = 0; g < groups; g++) {
            double var = 0;
            for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) var += acc[ch];
            const double rstd = 1.0 / sqrt(var / count + (double)eps);
            for (int64_t ch = g * cg; ch < (g + 1) * cg; ch++) {
                ca[ch] = rstd * (gd ? gd[ch] : 1.0);
                cb[ch] = bd ? bd[ch] : 0.0;
            }
        }
        /* pass 3: normalise, then SiLU; element i is read before it is written (in place ok) */
        for (int64_t i = 0; i < s; i++)
            for (int64_t ch = 0; ch < c; ch++)
                yn[i * c + ch] = loom_cpu_act((float)((xn[i * c + ch] - cm[ch]) * ca[ch] + cb[ch]), act);
    }
    free(acc), free(mean), free(cm), free(ca), free(cb);
    return LOOM_OK;
}
