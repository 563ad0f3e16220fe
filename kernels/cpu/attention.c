/* attention.c — multi-head softmax(q·kᵀ·scale)·v, plain or causal (ops.h).
 *
 * Heads split the last dim: head h of q[B,Sq,H·D] is columns [h·D, (h+1)·D),
 * a [Sq, D] matrix with row stride H·D, which BLAS reads in place. Per
 * (batch, head) the queries go in blocks so the score buffer is
 * [q_block, Sk] with q_block·Sk ≤ ATTN_SCORE_FLOATS: 4096×4096 self-attention
 * needs 4 MB of scores instead of 64 MB per head. Softmax in f32 after
 * subtracting the row max; the row sum is accumulated in double. The causal
 * variant sets the scores of keys j > i to −inf before the softmax (key 0 is
 * always visible, so every row has a finite max). */
#include "cpu_check.h"
#include "cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#define ATTN_SCORE_FLOATS (INT64_C(1) << 20)

static void softmax_rows(float *s, int64_t rows, int64_t n)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * n, mx = row[0];
        for (int64_t j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (int64_t j = 0; j < n; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        const float inv = (float)(1.0 / sum); /* sum ≥ 1: the max term is exp(0) */
        for (int64_t j = 0; j < n; j++) row[j] *= inv;
    }
}

static loom_status check_args(const char *op, const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                              const loom_tensor *o, int heads)
{
    LOOM_TRY(loom_cpu_check_tensor(op, "q", q));
    LOOM_TRY(loom_cpu_check_tensor(op, "k", k));
    LOOM_TRY(loom_cpu_check_tensor(op, "v", v));
    LOOM_TRY(loom_cpu_check_tensor(op, "o", o));
    LOOM_TRY(loom_cpu_check_ndim(op, "q", q, 3, 3));
    LOOM_TRY(loom_cpu_check_ndim(op, "k", k, 3, 3));
    LOOM_TRY(loom_cpu_check_ndim(op, "v", v, 3, 3));
    char qs[96], ks[96], vs[96];
    if (heads < 1 || q->shape[2] % heads != 0 || v->shape[2] % heads != 0)
        return loom_fail(LOOM_E_INVALID, "%s: %d heads do not divide q %s and v %s", op, heads,
                         loom_shape_str(q, qs, sizeof qs), loom_shape_str(v, vs, sizeof vs));
    if (k->shape[0] != q->shape[0] || k->shape[2] != q->shape[2])
        return loom_fail(LOOM_E_INVALID, "%s: q is %s but k is %s (batch and H·D must match)", op,
                         loom_shape_str(q, qs, sizeof qs), loom_shape_str(k, ks, sizeof ks));
    if (v->shape[0] != k->shape[0] || v->shape[1] != k->shape[1])
        return loom_fail(LOOM_E_INVALID, "%s: k is %s but v is %s (batch and keys must match)", op,
                         loom_shape_str(k, ks, sizeof ks), loom_shape_str(v, vs, sizeof vs));
    if (k->shape[1] == 0 && q->shape[0] * q->shape[1] > 0)
        return loom_fail(LOOM_E_INVALID, "%s: k %s has no keys; softmax over nothing is undefined", op,
                         loom_shape_str(k, ks, sizeof ks));
    const int64_t oshape[3] = {q->shape[0], q->shape[1], v->shape[2]};
    LOOM_TRY(loom_cpu_check_shape(op, "o", o, 3, oshape));
    LOOM_TRY(loom_cpu_check_alias(op, "o", o, "q", q, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "o", o, "k", k, 0));
    LOOM_TRY(loom_cpu_check_alias(op, "o", o, "v", v, 0));
    /* the leading dimensions H·D and H·Dv are BLAS ints too */
    return loom_cpu_check_blas_dims(op, q->shape[1], k->shape[1], q->shape[2] > v->shape[2] ? q->shape[2] : v->shape[2]);
}

static loom_status attention(const char *name, const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                             loom_tensor *o, int heads, float scale, int causal)
{
    LOOM_TRY(check_args(name, q, k, v, o, heads));
    const int64_t nb = q->shape[0], sq = q->shape[1], sk = k->shape[1];
    const int64_t hd = q->shape[2], hdv = v->shape[2], d = hd / heads, dv = hdv / heads;
    if (nb == 0 || sq == 0 || hdv == 0) return LOOM_OK;
    if (!(scale > 0.0f)) scale = d > 0 ? (float)(1.0 / sqrt((double)d)) : 1.0f;

    int64_t blk = ATTN_SCORE_FLOATS / sk;
    if (blk < 1) blk = 1;
    if (blk > sq) blk = sq;
    float *scores = malloc((size_t)(blk * sk) * sizeof(float));
    if (!scores)
        return loom_fail(LOOM_E_NOMEM, "%s: cannot allocate %lld x %lld scores", name, (long long)blk,
                         (long long)sk);
    const float *qd = q->data, *kd = k->data, *vd = v->data;
    float *od = o->data;
    for (int64_t b = 0; b < nb; b++)
        for (int h = 0; h < heads; h++) {
            const float *kp = kd + b * sk * hd + h * d, *vp = vd + b * sk * hdv + h * dv;
            for (int64_t q0 = 0; q0 < sq; q0 += blk) {
                const int64_t m = sq - q0 < blk ? sq - q0 : blk;
                const float *qp = qd + (b * sq + q0) * hd + h * d;
                float *op = od + (b * sq + q0) * hdv + h * dv;
                if (d > 0) {
                    // scores[m,Sk] = scale · q_h[m,D]·k_h[Sk,D]ᵀ  (row strides H·D)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)sk, (int)d, scale, qp, (int)hd,
                                kp, (int)hd, 0.0f, scores, (int)sk);
                } else {
                    for (int64_t i = 0; i < m * sk; i++) scores[i] = 0; /* empty dot products */
                }
                if (causal) /* query q0+r sees keys 0..q0+r */
                    for (int64_t r = 0; r < m; r++)
                        for (int64_t j = q0 + r + 1; j < sk; j++) scores[r * sk + j] = -INFINITY;
                softmax_rows(scores, m, sk);
                if (dv > 0) {
                    // o_h[m,Dv] = scores[m,Sk]·v_h[Sk,Dv]  (row strides H·Dv)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)dv, (int)sk, 1.0f, scores,
                                (int)sk, vp, (int)hdv, 0.0f, op, (int)hdv);
                }
            }
        }
    free(scores);
    return LOOM_OK;
}

loom_status loom_cpu_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                               int heads, float scale)
{
    return attention("attention", q, k, v, o, heads, scale, 0);
}

loom_status loom_cpu_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                                      int heads, float scale)
{
    return attention("attention_causal", q, k, v, o, heads, scale, 1);
}
