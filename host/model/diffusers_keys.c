/* diffusers_keys.c — see diffusers_keys.h.
 *
 * With L = layers_per_block (adapters.md §4.3):
 *   input_blocks.0.0            conv_in
 *   input_blocks.n (n ≥ 1)      down block i = (n−1)/(L+1), slot j = (n−1)%(L+1):
 *                               j < L: .0 → resnets.j, .1 → attentions.j; j == L: .0.op → downsamplers.0.conv
 *   middle_block.{0,1,2}        mid_block.resnets.0, attentions.0, resnets.1
 *   output_blocks.n             up block i = n/(L+1), slot j = n%(L+1): .0 → resnets.j, .1 → attentions.j,
 *                               .1.conv / .2.conv → upsamplers.0.conv (".1" when the block has no
 *                               transformer; a transformer has no child named "conv", so no config is needed)
 *   time_embed.{0,2}, out.{0,2} time_embedding.linear_{1,2}, conv_norm_out, conv_out
 * Inside a transformer the names are the same in both layouts; inside a
 * ResBlock, in_layers.0/2, emb_layers.1, out_layers.0/3, skip_connection are
 * norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut. */
#include "diffusers_keys.h"

#include <stdio.h>
#include <string.h>

#include "unet.h"

/* s after `prefix`, or NULL. */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* "<digits>." → value and the text after the dot; NULL unless 1–4 digits. */
static const char *number(const char *s, int *out)
{
    int v = 0, d = 0;
    if (!s) return NULL;
    for (; s[d] >= '0' && s[d] <= '9'; d++) {
        if (d == 4) return NULL;
        v = v * 10 + (s[d] - '0');
    }
    if (d == 0 || s[d] != '.') return NULL;
    *out = v;
    return s + d + 1;
}

/* "<group>.<what>.<j>.<tail>" into buf; group is e.g. "down_blocks.1" or "mid_block". */
static const char *emit(char *buf, size_t n, const char *group, const char *what, int j, const char *tail)
{
    int len = snprintf(buf, n, "%s.%s.%d.%s", group, what, j, tail);
    return len > 0 && (size_t)len < n ? buf : NULL;
}

/* <group>.resnets.j.<diffusers child of the ResBlock tail>, e.g. "in_layers.2.weight" → "conv1.weight". */
static const char *resnet(char *buf, size_t n, const char *group, int j, const char *tail)
{
    static const char *const MAP[][2] = {
        {"in_layers.0.", "norm1."},  {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
        {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."},
    };
    for (size_t k = 0; k < sizeof MAP / sizeof MAP[0]; k++) {
        const char *rest = after(tail, MAP[k][0]);
        if (!rest) continue;
        char child[256];
        int len = snprintf(child, sizeof child, "%s%s", MAP[k][1], rest);
        if (len < 0 || (size_t)len >= sizeof child) return NULL;
        return emit(buf, n, group, "resnets", j, child);
    }
    return NULL;
}

const char *loom_diffusers_unet_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len)
{
    const loom_diffusers_unet_keys *k = ctx;
    const char *r = after(ldm_key, LOOM_UNET_PREFIX), *t;
    if (!r || k->layers_per_block < 1) return NULL;
    const int l1 = k->layers_per_block + 1;
    static const char *const FIXED[][2] = {
        {"time_embed.0.", "time_embedding.linear_1."}, {"time_embed.2.", "time_embedding.linear_2."},
        {"input_blocks.0.0.", "conv_in."},             {"out.0.", "conv_norm_out."},
        {"out.2.", "conv_out."},
    };
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++) {
        if (!(t = after(r, FIXED[i][0]))) continue;
        int len = snprintf(buf, buf_len, "%s%s", FIXED[i][1], t);
        return len > 0 && (size_t)len < buf_len ? buf : NULL;
    }

    char group[32];
    int b, m;
    if ((t = number(number(after(r, "input_blocks."), &b), &m))) {
        if (b < 1) return NULL;
        const int i = (b - 1) / l1, j = (b - 1) % l1;
        snprintf(group, sizeof group, "down_blocks.%d", i);
        if (j == l1 - 1) { /* LDM's Downsample wraps its conv as "op" */
            char conv[256];
            if (m != 0 || !(t = after(t, "op.")) || snprintf(conv, sizeof conv, "conv.%s", t) >= (int)sizeof conv)
                return NULL;
            return emit(buf, buf_len, group, "downsamplers", 0, conv);
        }
        if (m == 0) return resnet(buf, buf_len, group, j, t);
        return m == 1 ? emit(buf, buf_len, group, "attentions", j, t) : NULL;
    }
    if ((t = number(after(r, "middle_block."), &m))) {
        if (m == 0 || m == 2) return resnet(buf, buf_len, "mid_block", m / 2, t);
        return m == 1 ? emit(buf, buf_len, "mid_block", "attentions", 0, t) : NULL;
    }
    if ((t = number(number(after(r, "output_blocks."), &b), &m))) {
        const int i = b / l1, j = b % l1;
        snprintf(group, sizeof group, "up_blocks.%d", i);
        if (m == 0) return resnet(buf, buf_len, group, j, t);
        if ((m == 1 || m == 2) && after(t, "conv.")) return emit(buf, buf_len, group, "upsamplers", 0, t);
        return m == 1 ? emit(buf, buf_len, group, "attentions", j, t) : NULL;
    }
    return NULL;
}
