/* backend_cases_misc.c — the backend-ops cases of the memory-bound ops
 * (group_norm, layer_norm, geglu, unary, add, mul, concat, upsample2x,
 * timestep_embedding, softmax) at SD1.x's shapes at 512×512: NHWC maps
 * 64×64×320 … 8×8×1280 and the decoder's concat widths, token rows
 * [B, 4096, 320] and CLIP's [1, 77, 768], attention probabilities
 * [B·heads, Sq, 77]; the CFG pair (batch 2) where SD runs one. See
 * backend_cases.h; backend_cases.c hands these kinds here.
 *
 * Values: the norms' x is uniform in [−1, 1) (one case adds 8 to test
 * |mean| ≫ std), γ in [−1.5, 1.5), β in [−0.5, 0.5); activations and GEGLU
 * see [−6, 6) and [−3, 3) so the curves' tails are exercised; softmax logits
 * [−20, 20) times a scale of 0.08–0.16 (scores of a few units, as SD's). */
#include <stdio.h>

#include "backend_cases.h"

#define GN(where_, n, h, w, c, silu, aff, off, q)                                                           \
    {.kind = BO_GROUP_NORM, .where = where_, .p = {n, h, w, c}, .quick = q,                                  \
     .m = {.ndim = 4, .groups = 32, .act = (silu) ? LOOM_ACT_SILU : LOOM_ACT_NONE, .affine = aff, .offset = off}}

const bo_case bo_misc_cases[] = {
    /* group_norm: N, H, W, C (or N, S, C), 32 groups as SD */
    GN("resnet norm1 at 64 (+SiLU)", 1, 64, 64, 320, 1, 1, 0.0f, 0),
    GN("transformer norm at 64 (no act)", 1, 64, 64, 320, 0, 1, 0.0f, 0),
    GN("at 64 without gamma/beta (+SiLU)", 1, 64, 64, 320, 1, 0, 0.0f, 0),
    GN("resnet norm at 8 (+SiLU)", 1, 8, 8, 1280, 1, 1, 0.0f, 1),
    GN("resnet norm at 8 (no act)", 1, 8, 8, 1280, 0, 1, 0.0f, 0),
    GN("decoder resnet norm at 16, 1920 channels", 1, 16, 16, 1920, 1, 1, 0.0f, 0),
    GN("at 32, x mean 8 (|mean| >> std)", 1, 32, 32, 640, 1, 1, 8.0f, 0),
    GN("VAE decoder norm at 64, 512 channels", 1, 64, 64, 512, 1, 1, 0.0f, 0),
    {.kind = BO_GROUP_NORM, .where = "[N, S, C] view, CFG pair at 64", .p = {2, 4096, 320},
     .m = {.ndim = 3, .groups = 32, .affine = 1}},
    /* layer_norm: rows × C */
    {.kind = BO_LAYER_NORM, .where = "transformer norm1, CFG pair at 64", .p = {2, 4096, 320},
     .m = {.ndim = 3, .affine = 1}},
    {.kind = BO_LAYER_NORM, .where = "CLIP text layer norm", .p = {1, 77, 768}, .quick = 1,
     .m = {.ndim = 3, .affine = 1}},
    {.kind = BO_LAYER_NORM, .where = "at 8x8 without gamma/beta", .p = {1, 64, 1280}, .m = {.ndim = 3}},
    {.kind = BO_LAYER_NORM, .where = "at 32, x mean 8", .p = {1, 1024, 640},
     .m = {.ndim = 3, .affine = 1, .offset = 8.0f}},
    /* geglu: x [.., 2F] → [.., F] */
    {.kind = BO_GEGLU, .where = "ff GEGLU at 64", .p = {1, 4096, 2560}, .m = {.ndim = 3}},
    {.kind = BO_GEGLU, .where = "ff GEGLU at 8", .p = {1, 64, 10240}, .quick = 1, .m = {.ndim = 3}},
    /* unary */
    {.kind = BO_UNARY, .where = "SiLU", .p = {1, 4096, 1280}, .m = {.ndim = 3, .act = LOOM_ACT_SILU}},
    {.kind = BO_UNARY, .where = "GELU (erf)", .p = {1, 4096, 1280}, .m = {.ndim = 3, .act = LOOM_ACT_GELU}},
    {.kind = BO_UNARY, .where = "GELU (tanh)", .p = {1, 4096, 1280}, .m = {.ndim = 3, .act = LOOM_ACT_GELU_TANH}},
    {.kind = BO_UNARY, .where = "QuickGELU", .p = {1, 4096, 1280}, .m = {.ndim = 3, .act = LOOM_ACT_QUICK_GELU}},
    {.kind = BO_UNARY, .where = "CLIP MLP QuickGELU", .p = {1, 77, 3072}, .quick = 1,
     .m = {.ndim = 3, .act = LOOM_ACT_QUICK_GELU}},
    {.kind = BO_UNARY, .where = "time_embed SiLU, CFG pair", .p = {2, 1280}, .m = {.ndim = 2, .act = LOOM_ACT_SILU}},
    /* add: a's shape, b's broadcast */
    {.kind = BO_ADD, .where = "resnet residual at 64", .p = {1, 64, 64, 320}, .m = {.ndim = 4, .bshape = BO_B_SAME}},
    {.kind = BO_ADD, .where = "time embedding onto the map, CFG pair", .p = {2, 64, 64, 320},
     .m = {.ndim = 4, .bshape = BO_B_SAMPLE}},
    {.kind = BO_ADD, .where = "per-channel bias at 32", .p = {1, 32, 32, 640}, .m = {.ndim = 4, .bshape = BO_B_CHANNEL}},
    {.kind = BO_ADD, .where = "bias [C] at 8", .p = {1, 8, 8, 1280}, .quick = 1,
     .m = {.ndim = 4, .bshape = BO_B_VECTOR}},
    /* mul */
    {.kind = BO_MUL, .where = "same shape, tokens at 64", .p = {1, 4096, 1280}, .m = {.ndim = 3, .bshape = BO_B_SAME}},
    {.kind = BO_MUL, .where = "per-sample, per-channel, CFG pair at 32", .p = {2, 32, 32, 640},
     .m = {.ndim = 4, .bshape = BO_B_SAMPLE}},
    {.kind = BO_MUL, .where = "scalar at 64", .p = {1, 4096, 320}, .m = {.ndim = 3, .bshape = BO_B_SCALAR}},
    {.kind = BO_MUL, .where = "per-channel at 8", .p = {1, 8, 8, 1280}, .quick = 1,
     .m = {.ndim = 4, .bshape = BO_B_CHANNEL}},
    /* concat: a's shape, b's last dim (the decoder's skip connections) */
    {.kind = BO_CONCAT, .where = "up_blocks at 16: 1280 | 640", .p = {1, 16, 16, 1280}, .m = {.ndim = 4, .cb = 640}},
    {.kind = BO_CONCAT, .where = "up_blocks at 32: 640 | 320", .p = {1, 32, 32, 640}, .m = {.ndim = 4, .cb = 320}},
    {.kind = BO_CONCAT, .where = "up_blocks at 64: 320 | 320, CFG pair", .p = {2, 64, 64, 320},
     .m = {.ndim = 4, .cb = 320}},
    {.kind = BO_CONCAT, .where = "up_blocks at 8: 1280 | 1280", .p = {1, 8, 8, 1280}, .quick = 1,
     .m = {.ndim = 4, .cb = 1280}},
    /* upsample2x: x [N, H, W, C] */
    {.kind = BO_UPSAMPLE2X, .where = "up_blocks upsampler at 8", .p = {1, 8, 8, 1280}, .quick = 1, .m = {.ndim = 4}},
    {.kind = BO_UPSAMPLE2X, .where = "up_blocks upsampler at 16", .p = {1, 16, 16, 1280}, .m = {.ndim = 4}},
    {.kind = BO_UPSAMPLE2X, .where = "up_blocks upsampler at 32, CFG pair", .p = {2, 32, 32, 640}, .m = {.ndim = 4}},
    {.kind = BO_UPSAMPLE2X, .where = "VAE decoder upsampler at 64", .p = {1, 64, 64, 512}, .m = {.ndim = 4}},
    /* timestep_embedding: N, dim (t = 999, 1, 500.5) */
    {.kind = BO_TIMESTEP_EMBEDDING, .where = "UNet time_proj, CFG pair", .p = {2, 320}, .quick = 1,
     .m = {.ndim = 1, .flip = 1}},
    {.kind = BO_TIMESTEP_EMBEDDING, .where = "odd dim, [sin | cos], freq_shift 1", .p = {3, 321},
     .m = {.ndim = 1, .flip = 0, .shift = 1.0f}},
    /* softmax: [B·heads, Sq, Sk], scale 1/√D */
    {.kind = BO_SOFTMAX, .where = "attn2 probabilities at 64, 77 keys", .p = {8, 4096, 77},
     .m = {.ndim = 3, .scale = 0.158f}},
    {.kind = BO_SOFTMAX, .where = "attn1 probabilities at 32", .p = {8, 1024, 1024},
     .m = {.ndim = 3, .scale = 0.1118f}},
    {.kind = BO_SOFTMAX, .where = "attn2 probabilities at 8, 77 keys", .p = {8, 64, 77}, .quick = 1,
     .m = {.ndim = 3, .scale = 0.0791f}},
};
const int bo_misc_case_count = (int)(sizeof bo_misc_cases / sizeof bo_misc_cases[0]);

static loom_tensor shape_n(int ndim, const int64_t *s) { return loom_tensor_view(NULL, LOOM_F32, ndim, s); }

/* x's shape with the last dim replaced by `last`. */
static loom_tensor with_last(const bo_case *c, int64_t last)
{
    loom_tensor t = shape_n(c->m.ndim, c->p);
    t.shape[t.ndim - 1] = last;
    return loom_tensor_view(NULL, LOOM_F32, t.ndim, t.shape);
}

static loom_tensor b_shape(const bo_case *c)
{
    const int nd = c->m.ndim;
    int64_t s[LOOM_MAX_DIMS];
    for (int i = 0; i < nd; i++) s[i] = 1;
    switch (c->m.bshape) {
    case BO_B_SAME: return shape_n(nd, c->p);
    case BO_B_SAMPLE: /* [N, 1, …, 1, C] */
    case BO_B_CHANNEL: /* [1, …, 1, C] */
        if (c->m.bshape == BO_B_SAMPLE) s[0] = c->p[0];
        s[nd - 1] = c->p[nd - 1];
        return shape_n(nd, s);
    case BO_B_VECTOR: return shape_n(1, &c->p[nd - 1]);
    default: return shape_n(1, s); /* BO_B_SCALAR: [1] */
    }
}

void bo_misc_shapes(const bo_case *c, loom_tensor in[BO_SLOTS], float scale[BO_SLOTS], loom_tensor *out)
{
    const int64_t *p = c->p;
    const int64_t last = p[c->m.ndim > 0 ? c->m.ndim - 1 : 0];
    for (int i = 0; i < BO_SLOTS; i++) {
        in[i] = shape_n(0, p);
        scale[i] = 1.0f;
    }
    in[0] = shape_n(c->m.ndim, p);
    *out = in[0];
    switch (c->kind) {
    case BO_GROUP_NORM:
    case BO_LAYER_NORM:
        if (c->m.affine) {
            in[1] = in[2] = shape_n(1, &last);
            scale[1] = 1.5f, scale[2] = 0.5f;
        }
        break;
    case BO_GEGLU:
        scale[0] = 3.0f;
        *out = with_last(c, last / 2);
        break;
    case BO_UNARY: scale[0] = 6.0f; break;
    case BO_ADD:
    case BO_MUL: in[1] = b_shape(c); break;
    case BO_CONCAT:
        in[1] = with_last(c, c->m.cb);
        *out = with_last(c, last + c->m.cb);
        break;
    case BO_UPSAMPLE2X: {
        const int64_t s[4] = {p[0], 2 * p[1], 2 * p[2], p[3]};
        *out = shape_n(4, s);
        break;
    }
    case BO_TIMESTEP_EMBEDDING:
        in[0] = shape_n(1, &p[0]);
        *out = shape_n(2, p);
        break;
    case BO_SOFTMAX: scale[0] = 20.0f; break;
    default: break;
    }
}

static int dims(char *buf, size_t n, const loom_tensor *t)
{
    int k = snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "]");
    return k;
}

/* Unique per op (gpu-check.sh joins results on table, op and this label). */
const char *bo_misc_label(const bo_case *c, char *buf, size_t n)
{
    loom_tensor in[BO_SLOTS], out;
    float scale[BO_SLOTS];
    bo_misc_shapes(c, in, scale, &out);
    char x[64], b[64];
    dims(x, sizeof x, &in[0]);
    switch (c->kind) {
    case BO_GROUP_NORM:
        snprintf(buf, n, "%s g%d%s%s%s", x, c->m.groups, c->m.act == LOOM_ACT_SILU ? " silu" : "",
                 c->m.affine ? " affine" : "", c->m.offset != 0.0f ? " +mean" : "");
        break;
    case BO_LAYER_NORM:
        snprintf(buf, n, "%s%s%s", x, c->m.affine ? " affine" : "", c->m.offset != 0.0f ? " +mean" : "");
        break;
    case BO_GEGLU: snprintf(buf, n, "%s->%lld", x, (long long)out.shape[out.ndim - 1]); break;
    case BO_UNARY: snprintf(buf, n, "%s %s", loom_act_name((loom_act)c->m.act), x); break;
    case BO_ADD:
    case BO_MUL:
    case BO_CONCAT:
        dims(b, sizeof b, &in[1]);
        snprintf(buf, n, "%s%s%s", x, c->kind == BO_CONCAT ? "|" : c->kind == BO_ADD ? "+" : "*", b);
        break;
    case BO_TIMESTEP_EMBEDDING:
        snprintf(buf, n, "N%lld dim%lld %s shift%g", (long long)c->p[0], (long long)c->p[1],
                 c->m.flip ? "cos|sin" : "sin|cos", (double)c->m.shift);
        break;
    case BO_SOFTMAX: snprintf(buf, n, "%s s%.4g", x, (double)c->m.scale); break;
    default: snprintf(buf, n, "%s", x); break;
    }
    return buf;
}

loom_status bo_misc_call(const loom_ops *t, const bo_case *c, const loom_tensor *const in[BO_SLOTS], loom_tensor *out)
{
    switch (c->kind) {
    case BO_GROUP_NORM:
        return t->group_norm(in[0], in[1], in[2], out, c->m.groups, 1e-5f, c->m.act == LOOM_ACT_SILU);
    case BO_LAYER_NORM: return t->layer_norm(in[0], in[1], in[2], out, 1e-5f);
    case BO_GEGLU: return t->geglu(in[0], out);
    case BO_UNARY: return t->unary(in[0], out, (loom_act)c->m.act);
    case BO_ADD: return t->add(in[0], in[1], out);
    case BO_MUL: return t->mul(in[0], in[1], out);
    case BO_CONCAT: return t->concat(in[0], in[1], out);
    case BO_UPSAMPLE2X: return t->upsample2x(in[0], out);
    case BO_TIMESTEP_EMBEDDING: {
        const loom_timestep_params tp = {(int)c->p[1], 10000.0f, c->m.flip, c->m.shift};
        return t->timestep_embedding(in[0], out, &tp);
    }
    case BO_SOFTMAX: return t->softmax(in[0], out, c->m.scale);
    default: return loom_fail(LOOM_E_INVALID, "backend-ops: unknown case kind %d", (int)c->kind);
    }
}
