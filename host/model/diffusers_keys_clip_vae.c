/* diffusers_keys_clip_vae.c — key maps for diffusers text_encoder/ and vae/
 * files, and layout detection of VAE-only files (diffusers_keys_clip_vae.h). */
#include "diffusers_keys_clip_vae.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* s after `prefix`, or NULL. */
static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s && strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* A small decimal index followed by '.', returning what follows the dot; NULL otherwise. */
static const char *index_dot(const char *s, int *out)
{
    int v = 0, digits = 0;
    while (s && *s >= '0' && *s <= '9' && digits < 4) v = v * 10 + (*s++ - '0'), digits++;
    if (!s || digits == 0 || *s != '.') return NULL;
    *out = v;
    return s + 1;
}

static const char *emit(char *buf, size_t n, const char *fmt, ...) LOOM_PRINTF(3, 4);
static const char *emit(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return len >= 0 && (size_t)len < n ? buf : NULL;
}

/* ---- text encoder ------------------------------------------------------------ */

void loom_diffusers_clip_keys_init(loom_diffusers_clip_keys *k, const loom_tfile *tf, const char *prefix)
{
    k->prefix = prefix;
    k->text_model_level = loom_tfile_find(tf, "text_model.embeddings.token_embedding.weight") != NULL;
}

const char *loom_diffusers_clip_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len)
{
    const loom_diffusers_clip_keys *k = ctx;
    const char *rest = after(ldm_key, k->prefix);
    if (!rest) return NULL;
    const char *body = after(rest, "text_model.");
    if (!body) body = rest; /* the model asked for the level-less form */
    return k->text_model_level ? emit(buf, buf_len, "text_model.%s", body) : body;
}

/* ---- VAE --------------------------------------------------------------------- */

static int has_fmt(const loom_tfile *tf, const char *fmt, int i)
{
    char key[128];
    snprintf(key, sizeof key, fmt, i);
    return loom_tfile_find(tf, key) != NULL;
}

loom_status loom_diffusers_vae_keys_init(loom_diffusers_vae_keys *k, const loom_tfile *tf, const char *prefix)
{
    memset(k, 0, sizeof *k);
    k->prefix = prefix;
    static const char *const fmts[] = {"decoder.up_blocks.%d.resnets.0.conv1.weight",
                                       "encoder.down_blocks.%d.resnets.0.conv1.weight"};
    for (int f = 0; f < 2 && k->levels == 0; f++)
        while (k->levels < 64 && has_fmt(tf, fmts[f], k->levels)) k->levels++;
    if (k->levels == 0)
        return loom_fail(LOOM_E_FORMAT, "%s: missing tensor 'decoder.up_blocks.0.resnets.0.conv1.weight' (no diffusers VAE)",
                         tf->path);
    k->old_attention = loom_tfile_find(tf, "decoder.mid_block.attentions.0.query.weight") ||
                       loom_tfile_find(tf, "encoder.mid_block.attentions.0.query.weight");
    return LOOM_OK;
}

/* ResBlock leaves: LDM nin_shortcut is diffusers conv_shortcut; norm1/conv1/norm2/conv2 keep their names. */
static const char *resnet_leaf(const char *leaf, char *tmp, size_t n)
{
    const char *t = after(leaf, "nin_shortcut.");
    return t ? emit(tmp, n, "conv_shortcut.%s", t) : leaf;
}

static const char *mid_block(const loom_diffusers_vae_keys *k, const char *side, const char *rest, char *buf,
                             size_t n)
{
    char tmp[160];
    const char *t;
    int j;
    if ((t = after(rest, "block_")) && (t = index_dot(t, &j)) && j >= 1 && j <= 2) {
        const char *leaf = resnet_leaf(t, tmp, sizeof tmp);
        return leaf ? emit(buf, n, "%s.mid_block.resnets.%d.%s", side, j - 1, leaf) : NULL;
    }
    if (!(t = after(rest, "attn_1."))) return NULL;
    static const char *const ldm[] = {"norm.", "q.", "k.", "v.", "proj_out."};
    static const char *const now[] = {"group_norm", "to_q", "to_k", "to_v", "to_out.0"};
    static const char *const old[] = {"group_norm", "query", "key", "value", "proj_attn"};
    for (int i = 0; i < 5; i++) {
        const char *leaf = after(t, ldm[i]);
        if (leaf)
            return emit(buf, n, "%s.mid_block.attentions.0.%s.%s", side, k->old_attention ? old[i] : now[i], leaf);
    }
    return NULL;
}

const char *loom_diffusers_vae_key(void *ctx, const char *ldm_key, char *buf, size_t buf_len)
{
    const loom_diffusers_vae_keys *k = ctx;
    const char *rest = after(ldm_key, k->prefix), *t;
    if (!rest) return NULL;
    if (after(rest, "quant_conv.") || after(rest, "post_quant_conv.")) return rest;
    const int dec = after(rest, "decoder.") != NULL;
    const char *side = dec ? "decoder" : "encoder";
    const char *body = after(rest, dec ? "decoder." : "encoder.");
    if (!body) return NULL;
    if (after(body, "conv_in.") || after(body, "conv_out.")) return rest;
    if ((t = after(body, "norm_out."))) return emit(buf, buf_len, "%s.conv_norm_out.%s", side, t);
    if ((t = after(body, "mid."))) return mid_block(k, side, t, buf, buf_len);
    int i, j;
    if (!(t = after(body, dec ? "up." : "down.")) || !(t = index_dot(t, &i)) || i >= k->levels) return NULL;
    const int di = dec ? k->levels - 1 - i : i; /* LDM's up.0 is the last up block */
    const char *grp = dec ? "up_blocks" : "down_blocks";
    const char *leaf;
    if ((leaf = after(t, dec ? "upsample.conv." : "downsample.conv.")))
        return emit(buf, buf_len, "%s.%s.%d.%s.0.conv.%s", side, grp, di, dec ? "upsamplers" : "downsamplers", leaf);
    char tmp[160];
    if (!(t = after(t, "block.")) || !(t = index_dot(t, &j)) || !(leaf = resnet_leaf(t, tmp, sizeof tmp)))
        return NULL;
    return emit(buf, buf_len, "%s.%s.%d.resnets.%d.%s", side, grp, di, j, leaf);
}

/* ---- VAE-only files ---------------------------------------------------------- */

loom_status loom_vae_add_file(loom_weights *w, const loom_tfile *tf, const char *prefix, loom_diffusers_vae_keys *keys,
                              const char **layout)
{
    char key[256];
    int has_prefixed = 0;
    static const char *const probes[] = {"decoder.conv_in.weight", "encoder.conv_in.weight"};
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, probes[i]);
        has_prefixed |= loom_tfile_find(tf, key) != NULL;
    }
    const int has_ldm = loom_tfile_find(tf, "decoder.up.0.block.0.conv1.weight") ||
                        loom_tfile_find(tf, "encoder.down.0.block.0.conv1.weight");
    const int has_diffusers = loom_tfile_find(tf, "decoder.up_blocks.0.resnets.0.conv1.weight") ||
                              loom_tfile_find(tf, "encoder.down_blocks.0.resnets.0.conv1.weight");
    if (layout) *layout = has_diffusers && !has_ldm && !has_prefixed ? "diffusers" : "ldm";
    if (has_prefixed) return loom_weights_add(w, tf, NULL, NULL);
    if (has_ldm) return loom_weights_add(w, tf, loom_key_map_strip, (void *)prefix);
    if (!has_diffusers)
        return loom_fail(LOOM_E_FORMAT, "%s: not a VAE: no 'decoder.conv_in.weight' with LDM or diffusers block names",
                         tf->path);
    LOOM_TRY(loom_diffusers_vae_keys_init(keys, tf, prefix));
    return loom_weights_add(w, tf, loom_diffusers_vae_key, keys);
}
