/* backend_cases.c — see backend_cases.h. Shapes are SD1.x's at 512×512
 * (64×64 latents): channels 320/640/1280, 8 heads (head dims 40/80/160),
 * 77 text tokens of width 768; one SD2.x-style head dim 64 case; the VAE's
 * single 512-wide head; CLIP's causal self-attention (12 heads × 64). Batch
 * 1 except the cross-attention case (the CFG pair), to keep the CPU
 * reference affordable. */
#include "backend_cases.h"
#include "fixture_rng.h"

#include <math.h>
#include <stdio.h>

const bo_case bo_cases[] = {
    /* linear: B, S, K, N */
    {BO_LINEAR, "attn1.to_out (+residual)", {1, 4096, 320, 320}, 0, 0, 1, 1, 0, {0}},
    {BO_LINEAR, "attn2.to_k on the text", {2, 77, 768, 320}, 0, 0, 0, 0, 1, {0}},
    {BO_LINEAR, "ff.net.0.proj (GEGLU in)", {1, 4096, 320, 2560}, 0, 0, 1, 0, 0, {0}},
    {BO_LINEAR, "ff.net.2 (+residual)", {1, 4096, 1280, 320}, 0, 0, 1, 1, 0, {0}},
    /* conv2d: N, H, W, C, O, kernel */
    {BO_CONV2D, "conv_in", {1, 64, 64, 4, 320, 3}, 1, 1, 1, 0, 0, {0}},
    {BO_CONV2D, "resnet conv at 64 (+residual)", {1, 64, 64, 320, 320, 3}, 1, 1, 1, 1, 0, {0}},
    {BO_CONV2D, "resnet conv at 32", {1, 32, 32, 640, 640, 3}, 1, 1, 1, 0, 0, {0}},
    {BO_CONV2D, "resnet conv at 16", {1, 16, 16, 1280, 1280, 3}, 1, 1, 1, 0, 0, {0}},
    {BO_CONV2D, "resnet conv at 8 (+residual)", {1, 8, 8, 1280, 1280, 3}, 1, 1, 1, 1, 1, {0}},
    {BO_CONV2D, "downsample, stride 2", {1, 64, 64, 320, 320, 3}, 2, 1, 1, 0, 1, {0}},
    {BO_CONV2D, "skip 1x1 320->640", {1, 32, 32, 320, 640, 1}, 1, 0, 1, 0, 1, {0}},
    /* attention: B, Sq, Sk, heads, D */
    {BO_ATTENTION, "attn1 at 64x64, D 40", {1, 4096, 4096, 8, 40}, 0, 0, 0, 0, 0, {0}},
    {BO_ATTENTION, "attn2 at 64x64, 77 keys", {2, 4096, 77, 8, 40}, 0, 0, 0, 0, 0, {0}},
    {BO_ATTENTION, "attn1 at 32x32, D 80", {1, 1024, 1024, 8, 80}, 0, 0, 0, 0, 0, {0}},
    {BO_ATTENTION, "attn1 at 16x16, D 160", {1, 256, 256, 8, 160}, 0, 0, 0, 0, 0, {0}},
    {BO_ATTENTION, "attn1 at 8x8, D 160", {1, 64, 64, 8, 160}, 0, 0, 0, 0, 1, {0}},
    {BO_ATTENTION, "SD2.x attn1 at 64x64, D 64", {1, 4096, 4096, 5, 64}, 0, 0, 0, 0, 0, {0}},
    /* the VAE's mid-block attention: one 512-wide head (here its 32x32 latent, a 256x256 image; 64x64 at
     * 512x512 costs 16x the CPU reference). Beyond cuDNN's fused attention: the vendor table's cuBLAS fallback */
    {BO_ATTENTION, "VAE mid attention at 32x32, D 512", {1, 1024, 1024, 1, 512}, 0, 0, 0, 0, 0, {0}},
    /* attention_causal: CLIP ViT-L/14 text transformer */
    {BO_ATTENTION_CAUSAL, "CLIP text self-attention", {1, 77, 77, 12, 64}, 0, 0, 0, 0, 1, {0}},
};
const int bo_case_count = (int)(sizeof bo_cases / sizeof bo_cases[0]);

static const char *const kind_ops[] = {"linear", "conv2d", "attention", "attention_causal", "group_norm",
                                       "layer_norm", "geglu", "unary", "add", "mul", "concat", "upsample2x",
                                       "timestep_embedding", "softmax"};
_Static_assert(sizeof kind_ops / sizeof kind_ops[0] == BO_KIND_COUNT, "op name table");

const char *bo_kind_op(bo_kind k) { return (unsigned)k < BO_KIND_COUNT ? kind_ops[k] : "?"; }

int bo_table_has(const loom_ops *t, bo_kind k)
{
    switch (k) {
    case BO_LINEAR: return t->linear != NULL;
    case BO_CONV2D: return t->conv2d != NULL;
    case BO_ATTENTION: return t->attention != NULL;
    case BO_ATTENTION_CAUSAL: return t->attention_causal != NULL;
    case BO_GROUP_NORM: return t->group_norm != NULL;
    case BO_LAYER_NORM: return t->layer_norm != NULL;
    case BO_GEGLU: return t->geglu != NULL;
    case BO_UNARY: return t->unary != NULL;
    case BO_ADD: return t->add != NULL;
    case BO_MUL: return t->mul != NULL;
    case BO_CONCAT: return t->concat != NULL;
    case BO_UPSAMPLE2X: return t->upsample2x != NULL;
    case BO_TIMESTEP_EMBEDDING: return t->timestep_embedding != NULL;
    case BO_SOFTMAX: return t->softmax != NULL;
    default: return 0;
    }
}

static loom_tensor shape_of(int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t s[4] = {a, b, c, d};
    return loom_tensor_view(NULL, LOOM_F32, ndim, s);
}

static int64_t conv_out(const bo_case *c, int64_t in) { return (in + 2 * c->pad - c->p[5]) / c->stride + 1; }

/* Scales keep every output O(1): weights ~ 1/√fan-in (uniform [−1,1) has
 * variance 1/3), so rounding, not magnitude, decides the error. Attention's
 * q is scaled up so the softmax is far from uniform (scores' std ≈ 1). */
void bo_case_shapes(const bo_case *c, loom_tensor in[BO_SLOTS], float scale[BO_SLOTS], loom_tensor *out)
{
    const int64_t *p = c->p;
    for (int i = 0; i < BO_SLOTS; i++) {
        in[i] = shape_of(0, 0, 0, 0, 0);
        scale[i] = 1.0f;
    }
    switch (c->kind) {
    case BO_LINEAR:
        in[0] = shape_of(3, p[0], p[1], p[2], 0);
        in[1] = shape_of(2, p[3], p[2], 0, 0);
        scale[1] = 1.7320508f / sqrtf((float)p[2]);
        if (c->bias) in[2] = shape_of(1, p[3], 0, 0, 0), scale[2] = 0.5f;
        *out = shape_of(3, p[0], p[1], p[3], 0);
        if (c->residual) in[3] = *out;
        break;
    case BO_CONV2D:
        in[0] = shape_of(4, p[0], p[1], p[2], p[3]);
        in[1] = shape_of(4, p[4], p[5], p[5], p[3]);
        scale[1] = 1.7320508f / sqrtf((float)(p[3] * p[5] * p[5]));
        if (c->bias) in[2] = shape_of(1, p[4], 0, 0, 0), scale[2] = 0.5f;
        *out = shape_of(4, p[0], conv_out(c, p[1]), conv_out(c, p[2]), p[4]);
        if (c->residual) in[3] = *out;
        break;
    case BO_ATTENTION:
    case BO_ATTENTION_CAUSAL:
        in[0] = shape_of(3, p[0], p[1], p[3] * p[4], 0);
        in[1] = shape_of(3, p[0], p[2], p[3] * p[4], 0);
        in[2] = in[1];
        scale[0] = 3.0f;
        *out = in[0];
        break;
    default: bo_misc_shapes(c, in, scale, out); break;
    }
}

void bo_case_fill(const bo_case *c, int slot, float *v, int64_t n, uint32_t seed, float scale)
{
    if (c->kind == BO_TIMESTEP_EMBEDDING) { /* the ends of SD's schedule, then values between */
        static const float ts[] = {999.0f, 1.0f, 500.5f, 0.0f, 250.25f, 750.0f};
        for (int64_t i = 0; i < n; i++) v[i] = ts[i % (int64_t)(sizeof ts / sizeof ts[0])];
        return;
    }
    fixture_rng_fill(v, n, seed, scale);
    if (slot == 0 && c->m.offset != 0.0f)
        for (int64_t i = 0; i < n; i++) v[i] += c->m.offset;
}

loom_dtype bo_case_dtype(const bo_case *c, int slot)
{
    return c->kind == BO_TIMESTEP_EMBEDDING && slot == 0 ? LOOM_F32 : LOOM_F16;
}

double bo_case_flops(const bo_case *c)
{
    const int64_t *p = c->p;
    switch (c->kind) {
    case BO_LINEAR: return 2.0 * (double)(p[0] * p[1]) * (double)p[2] * (double)p[3];
    case BO_CONV2D:
        return 2.0 * (double)(p[0] * conv_out(c, p[1]) * conv_out(c, p[2])) * (double)p[4] *
               (double)(p[5] * p[5] * p[3]);
    case BO_ATTENTION:
    case BO_ATTENTION_CAUSAL: return 2.0 * 2.0 * (double)(p[0] * p[3]) * (double)(p[1] * p[2]) * (double)p[4];
    default: return 0;
    }
}

const char *bo_case_label(const bo_case *c, char *buf, size_t n)
{
    const int64_t *p = c->p;
    switch (c->kind) {
    case BO_LINEAR:
        snprintf(buf, n, "[%lld,%lld,%lld]x[%lld,%lld]T%s%s", (long long)p[0], (long long)p[1], (long long)p[2],
                 (long long)p[3], (long long)p[2], c->bias ? " +b" : "", c->residual ? " +r" : "");
        break;
    case BO_CONV2D:
        snprintf(buf, n, "%lldx%lld %lld->%lld k%lld s%d%s%s", (long long)p[1], (long long)p[2], (long long)p[3],
                 (long long)p[4], (long long)p[5], c->stride, c->bias ? " +b" : "", c->residual ? " +r" : "");
        break;
    case BO_ATTENTION:
    case BO_ATTENTION_CAUSAL:
        snprintf(buf, n, "B%lld Sq%lld Sk%lld H%lld D%lld", (long long)p[0], (long long)p[1], (long long)p[2],
                 (long long)p[3], (long long)p[4]);
        break;
    default: return bo_misc_label(c, buf, n);
    }
    return buf;
}

loom_status bo_case_call(const loom_ops *t, const bo_case *c, const loom_tensor *const in[BO_SLOTS], loom_tensor *out)
{
    switch (c->kind) {
    case BO_LINEAR: return t->linear(in[0], in[1], in[2], in[3], out);
    case BO_CONV2D: {
        const loom_conv2d_params cp = {c->stride, c->stride, c->pad, c->pad};
        return t->conv2d(in[0], in[1], in[2], in[3], out, &cp);
    }
    case BO_ATTENTION: return t->attention(in[0], in[1], in[2], out, (int)c->p[3], 0.0f);
    case BO_ATTENTION_CAUSAL: return t->attention_causal(in[0], in[1], in[2], out, (int)c->p[3], 0.0f);
    default: return bo_misc_call(t, c, in, out);
    }
}
