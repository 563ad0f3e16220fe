/* sd_model.c — see sd_model.h. */
#define _POSIX_C_SOURCE 200809L
#include "sd_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "detect.h"
#include "log.h"

static loom_status open_file(loom_sd_model *m, const char *path, loom_tfile **out)
{
    if (m->n_files == LOOM_SD_MODEL_MAX_FILES) return loom_fail(LOOM_E_INVALID, "too many model files");
    LOOM_TRY(loom_tfile_open(path, out));
    m->files[m->n_files++] = *out;
    return LOOM_OK;
}

static void stem(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (!*b) { /* "folder/" */
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/') len--;
        const char *s = path + len;
        while (s > path && s[-1] != '/') s--;
        snprintf(out, n, "%.*s", (int)(path + len - s), s);
        return;
    }
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

int loom_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The first of `names` that exists under dir/sub/, into buf. */
static int find_in(const char *dir, const char *sub, const char *const *names, char *buf, size_t n)
{
    struct stat st;
    for (int i = 0; names[i]; i++) {
        snprintf(buf, n, "%s/%s/%s", dir, sub, names[i]);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    }
    return 0;
}

/* A single-file checkpoint: must be SD1.x with UNet, text encoder and VAE
 * (the VAE may come from --vae instead). */
static loom_status load_single(loom_sd_model *m, const char *path, loom_vae_config *vc, int have_vae_file)
{
    loom_tfile *tf;
    LOOM_TRY(open_file(m, path, &tf));
    loom_model_info info;
    LOOM_TRY(loom_model_detect(tf, &info));
    if (info.kind != LOOM_FK_CHECKPOINT && info.kind != LOOM_FK_UNET)
        return loom_fail(LOOM_E_INVALID, "%s: this is a%s %s file, not a model checkpoint", path,
                         info.kind == LOOM_FK_ADAPTER || info.kind == LOOM_FK_EMBEDDING ? "n" : "",
                         loom_file_kind_name(info.kind));
    if (info.family != LOOM_FAMILY_SD1)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: this is an %s checkpoint; loom runs SD1.x models for now", path,
                         loom_sd_family_title(info.family));
    if (info.layout && strcmp(info.layout, "ldm") != 0)
        return loom_fail(LOOM_E_UNSUPPORTED, "%s: a %s-layout file; pass the diffusers model folder instead", path,
                         info.layout);
    if (!(info.parts & LOOM_PART_TE))
        return loom_fail(LOOM_E_FORMAT, "%s: the checkpoint has no text encoder", path);
    if (!(info.parts & LOOM_PART_VAE) && !have_vae_file)
        return loom_fail(LOOM_E_FORMAT, "%s: the checkpoint has no VAE; pass one with --vae", path);
    LOOM_TRY(loom_weights_add(&m->w, tf, NULL, NULL));
    (void)vc;
    return LOOM_OK;
}

static int weight_shape(void *user, const char *key, int64_t shape[4], int *ndim)
{
    int64_t s[LOOM_MAX_DIMS];
    int nd;
    if (!loom_weights_has(user, key) || loom_weights_shape(user, key, &nd, s) != LOOM_OK || nd > 4) return 0;
    for (int i = 0; i < nd; i++) shape[i] = s[i];
    *ndim = nd;
    return 1;
}

loom_status loom_sd_model_load(loom_sd_model *m, const char *path, const char *vae_path, loom_backend backend)
{
    return loom_sd_model_load_dtype(m, path, vae_path, backend, loom_backend_ops(backend)->dtype);
}

loom_status loom_sd_model_load_dtype(loom_sd_model *m, const char *path, const char *vae_path, loom_backend backend,
                                     loom_dtype dtype)
{
    memset(m, 0, sizeof *m);
    loom_weights_init(&m->w, backend);
    loom_status s = loom_weights_set_dtype(&m->w, dtype);
    if (s != LOOM_OK) return s;
    loom_clip_config cc;
    loom_unet_config uc;
    loom_vae_config vc;
    int diffusers = loom_path_is_dir(path);
    stem(path, m->name, sizeof m->name);

    /* A separate VAE goes first: sources are searched in order, so it overrides. */
    if (vae_path) {
        loom_tfile *vtf;
        s = open_file(m, vae_path, &vtf);
        if (s == LOOM_OK) s = loom_vae_add_file(&m->w, vtf, LOOM_VAE_PREFIX, &m->vae_file_keys, NULL);
        if (s != LOOM_OK) goto fail;
        stem(vae_path, m->vae_name, sizeof m->vae_name);
    }

    if (!diffusers) {
        s = load_single(m, path, &vc, vae_path != NULL);
        if (s != LOOM_OK) goto fail;
        s = loom_clip_config_infer(&m->w, LOOM_CLIP_PREFIX_SD1, &cc);
        if (s == LOOM_OK) s = loom_unet_config_infer(&m->w, &uc);
        if (s == LOOM_OK) s = loom_vae_config_infer(&m->w, LOOM_VAE_PREFIX, &vc);
        if (s != LOOM_OK) goto fail;
    } else {
        static const char *const unet_files[] = {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin",
                                                 NULL};
        static const char *const te_files[] = {"model.safetensors", "pytorch_model.bin", NULL};
        char f[4096], cfgp[4096];
        loom_tfile *tf;
        if (!find_in(path, "unet", unet_files, f, sizeof f)) {
            s = loom_fail(LOOM_E_IO, "%s: a folder, but no unet/diffusion_pytorch_model.safetensors in it "
                          "(pass a .safetensors/.ckpt checkpoint or a diffusers model folder)", path);
            goto fail;
        }
        snprintf(cfgp, sizeof cfgp, "%s/unet/config.json", path);
        s = loom_unet_config_from_diffusers(cfgp, &uc);
        if (s == LOOM_OK) s = open_file(m, f, &tf);
        if (s != LOOM_OK) goto fail;
        m->unet_keys.layers_per_block = uc.num_res_blocks;
        if ((s = loom_weights_add(&m->w, tf, loom_diffusers_unet_key, &m->unet_keys)) != LOOM_OK) goto fail;

        if (!find_in(path, "text_encoder", te_files, f, sizeof f)) {
            s = loom_fail(LOOM_E_IO, "%s: no text_encoder/model.safetensors in the model folder", path);
            goto fail;
        }
        snprintf(cfgp, sizeof cfgp, "%s/text_encoder/config.json", path);
        s = loom_clip_config_from_diffusers(cfgp, &cc);
        if (s == LOOM_OK) s = open_file(m, f, &tf);
        if (s != LOOM_OK) goto fail;
        loom_diffusers_clip_keys_init(&m->clip_keys, tf, LOOM_CLIP_PREFIX_SD1);
        if ((s = loom_weights_add(&m->w, tf, loom_diffusers_clip_key, &m->clip_keys)) != LOOM_OK) goto fail;

        if (!vae_path) {
            if (!find_in(path, "vae", unet_files, f, sizeof f)) {
                s = loom_fail(LOOM_E_IO, "%s: no vae/diffusion_pytorch_model.safetensors in the model folder", path);
                goto fail;
            }
            snprintf(cfgp, sizeof cfgp, "%s/vae/config.json", path);
            s = loom_vae_config_from_diffusers(cfgp, &vc);
            if (s == LOOM_OK) s = open_file(m, f, &tf);
            if (s == LOOM_OK) s = loom_vae_add_file(&m->w, tf, LOOM_VAE_PREFIX, &m->vae_keys, NULL);
            if (s != LOOM_OK) goto fail;
        } else if ((s = loom_vae_config_infer(&m->w, LOOM_VAE_PREFIX, &vc)) != LOOM_OK) {
            goto fail;
        }
    }
    if (!(vc.parts & LOOM_VAE_DECODER)) {
        s = loom_fail(LOOM_E_FORMAT, "%s: the VAE has no decoder", vae_path ? vae_path : path);
        goto fail;
    }
    /* adapters target modules by checkpoint key: fit the SD1 table to this model's tensors
     * before binding, so every module gets its slot (model_ad.h) */
    if ((s = loom_keymap_for_model(&loom_keymap_sd15, weight_shape, &m->w, &m->adapter_map)) != LOOM_OK) goto fail;
    m->w.modules = &m->adapter_map;
    if ((s = loom_clip_load(&m->clip, &m->w, LOOM_CLIP_PREFIX_SD1, &cc)) != LOOM_OK) goto fail;
    m->has_clip = 1;
    if ((s = loom_unet_load(&m->unet, &m->w, &uc)) != LOOM_OK) goto fail;
    m->has_unet = 1;
    if ((s = loom_vae_load(&m->vae, &m->w, LOOM_VAE_PREFIX, &vc)) != LOOM_OK) goto fail;
    m->has_vae = 1;
    if (uc.context_dim != cc.width) {
        s = loom_fail(LOOM_E_FORMAT, "%s: the UNet expects a %d-wide context but the text encoder gives %lld", path,
                      uc.context_dim, (long long)cc.width);
        goto fail;
    }
    LOOM_INFO("%s: loaded (%.2f GiB of f32 weights)", path, (double)m->w.bytes_loaded / (1u << 30));
    return LOOM_OK;
fail:
    loom_sd_model_free(m);
    return s;
}

void loom_sd_model_free(loom_sd_model *m)
{
    if (m->has_clip) loom_clip_free(&m->clip);
    if (m->has_unet) loom_unet_free(&m->unet);
    if (m->has_vae) loom_vae_free(&m->vae);
    for (int i = 0; i < m->n_files; i++) loom_tfile_close(m->files[i]);
    loom_keymap_table_free(&m->adapter_map);
    memset(m, 0, sizeof *m);
}
