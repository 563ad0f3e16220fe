/* sampler_lms.c — k-diffusion sample_lms (order 4) and the coefficients of
 * linear_multistep_coeff, which integrates a Lagrange basis polynomial with
 * scipy.integrate.quad(epsrel=1e-4). quad (QUADPACK dqagse) first applies the
 * 21-point Gauss-Kronrod rule dqk21; the integrand is a polynomial of degree
 * <= 3, which that rule integrates exactly, and its error estimate (about
 * 50 * eps * integral of |f|) is far below the requested tolerance, so quad
 * returns that first result. loom evaluates the same rule in the same order. */
#include "sampler_impl.h"

/* QUADPACK dqk21: Kronrod abscissae (xgk[1,3,..] are the 10-point Gauss
 * nodes) and Kronrod weights, as published with QUADPACK */
static const double k_xgk[11] = {
    0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
    0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
    0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
    0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
    0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
    0.000000000000000000000000000000000,
};
static const double k_wgk[11] = {
    0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
    0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
    0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
    0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
    0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
    0.149445554002916905664936468389821,
};

typedef struct lagrange {
    int order, i, j;
    const double *t;
} lagrange;

/* fn(tau) of linear_multistep_coeff: prod over k != j of (tau - t[i-k]) / (t[i-j] - t[i-k]) */
static double lagrange_at(const lagrange *L, double tau)
{
    double prod = 1.0;
    for (int k = 0; k < L->order; k++) {
        if (k == L->j) continue;
        prod *= (tau - L->t[L->i - k]) / (L->t[L->i - L->j] - L->t[L->i - k]);
    }
    return prod;
}

static double qk21(const lagrange *L, double a, double b)
{
    double centr = 0.5 * (a + b), hlgth = 0.5 * (b - a);
    double resk = k_wgk[10] * lagrange_at(L, centr);
    for (int j = 1; j <= 5; j++) { /* Gauss nodes first: Fortran jtw = 2j */
        int jtw = 2 * j - 1;
        double absc = hlgth * k_xgk[jtw];
        double fsum = lagrange_at(L, centr - absc) + lagrange_at(L, centr + absc);
        resk = resk + k_wgk[jtw] * fsum;
    }
    for (int j = 1; j <= 5; j++) { /* then the Kronrod extension: jtwm1 = 2j - 1 */
        int jtwm1 = 2 * j - 2;
        double absc = hlgth * k_xgk[jtwm1];
        double fsum = lagrange_at(L, centr - absc) + lagrange_at(L, centr + absc);
        resk = resk + k_wgk[jtwm1] * fsum;
    }
    return resk * hlgth;
}

loom_status loom_lms_coeff(int order, const double *t, int i, int j, double *out)
{
    if (order < 1 || order - 1 > i || j < 0 || j >= order)
        return loom_fail(LOOM_E_INVALID, "lms: order %d too high for step %d (j %d)", order, i, j);
    lagrange L = {order, i, j, t};
    *out = qk21(&L, t[i], t[i + 1]);
    return LOOM_OK;
}

loom_status loom_run_lms(loom_sampler_ctx *c)
{
    enum { ORDER = 4 };
    float *x = c->x, *den = c->buf[0];
    float *ds[ORDER] = {c->buf[1], c->buf[2], c->buf[3], c->buf[4]}; /* ds[0] newest */
    for (int i = 0; i < c->steps; i++) {
        double si = c->sig[i];
        LOOM_TRY(loom_sctx_denoise(c, x, si, den));
        /* ds.append(d), keeping the last `order` */
        float *slot = ds[ORDER - 1];
        for (int q = ORDER - 1; q > 0; q--) ds[q] = ds[q - 1];
        ds[0] = slot;
        for (int64_t k = 0; k < c->n; k++) slot[k] = (float)(((double)x[k] - den[k]) / si);
        int cur = i + 1 < ORDER ? i + 1 : ORDER;
        double coeff[ORDER];
        for (int j = 0; j < cur; j++) LOOM_TRY(loom_lms_coeff(cur, c->sig, i, j, &coeff[j]));
        /* x = x + sum(coeff * d for coeff, d in zip(coeffs, reversed(ds))) */
        for (int64_t k = 0; k < c->n; k++) {
            double v = 0;
            for (int j = 0; j < cur; j++) v += coeff[j] * ds[j][k];
            x[k] = (float)(x[k] + v);
        }
        loom_sctx_step_done(c, i, den);
    }
    return LOOM_OK;
}
