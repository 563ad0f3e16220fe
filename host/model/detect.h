/* detect.h — say what an opened tensor file is: an SD checkpoint (which family,
 * which parts), a bare UNet / VAE / text encoder (LDM or diffusers layout), an
 * adapter, a hypernetwork, a textual-inversion or aesthetic embedding, or
 * unknown. Everything is inferred from key names and shapes; metadata is only
 * reported (and a disagreement noted), never trusted (adapters.md §1.5).
 *
 * Checkpoint layouts: addons.md §5.7 and the LDM/SGM names of adapters.md §4.3/4.5
 * (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*
 * for SD1's CLIP-L, cond_stage_model.model.* for SD2's OpenCLIP,
 * conditioner.embedders.0/1.* for SDXL, model_ema.* for LitEma's copy). */
#ifndef LOOM_DETECT_H
#define LOOM_DETECT_H

#include "adapter_detect.h"
#include "sd_family.h"
#include "tensor_file.h"

typedef enum loom_file_kind {
    LOOM_FK_UNKNOWN = 0,
    LOOM_FK_CHECKPOINT,   /* UNet plus text encoder(s) and/or VAE in one file */
    LOOM_FK_UNET,
    LOOM_FK_VAE,
    LOOM_FK_TEXT_ENCODER,
    LOOM_FK_ADAPTER,
    LOOM_FK_HYPERNETWORK,
    LOOM_FK_EMBEDDING,    /* textual inversion */
    LOOM_FK_AESTHETIC,    /* aesthetic-gradients image embedding */
    LOOM_FK_COUNT
} loom_file_kind;

/* "checkpoint", "unet", … (JSON) */
const char *loom_file_kind_name(loom_file_kind k);

enum {
    LOOM_PART_UNET = 1 << 0,
    LOOM_PART_TE = 1 << 1,
    LOOM_PART_TE2 = 1 << 2,
    LOOM_PART_VAE = 1 << 3,
    LOOM_PART_EMA = 1 << 4,
    LOOM_PART_COUNT = 5
};
/* Name of part bit i: "unet", "text_encoder", "text_encoder_2", "vae", "ema". */
const char *loom_part_name(int bit_index);

#define LOOM_DETECT_MAX_SIZES 16
#define LOOM_DETECT_MAX_EXAMPLES 5

typedef struct loom_model_info {
    loom_file_kind kind;
    loom_sd_family family;
    const char *layout;       /* "ldm", "diffusers", "kohya", "a1111", … or NULL */
    const char *family_reason;/* static text, or NULL */
    unsigned parts;           /* LOOM_PART_* */

    /* UNet dimensions read from shapes (checkpoints and bare UNets) */
    int has_dims;
    int64_t model_channels, in_channels, context_dim;
    int dims_standard;        /* the family's own values (SD1.5: 320, 4, 768) */

    /* every tensor of the file, including the ones only the pickle tree reaches */
    int64_t n_tensors;
    int64_t dtype_count[LOOM_DTYPE_COUNT];
    uint64_t tensor_bytes, file_bytes;

    loom_adapter_info adapter;

    struct {                  /* hypernetwork (addons.md §1.3) */
        int sizes[LOOM_DETECT_MAX_SIZES], n_sizes;
        const char *name, *activation; /* strings from the pickle; NULL when absent */
        double layer_structure[LOOM_DETECT_MAX_SIZES];
        int n_layer_structure;  /* -1: absent (A1111 then uses [1, 2, 1]) */
        int layer_norm, has_step;
        int64_t step;
    } hyper;

    struct {                  /* textual inversion (addons.md §2.3) */
        int64_t vectors, width;
        const char *layout;   /* "a1111", "original", "diffusers", "kohya", "sdxl" */
        const char *name;     /* stored name (A1111 .pt), or NULL */
        int has_step;
        int64_t step;
    } emb;

    /* metadata that names a family (ss_base_model_version, ss_v2) */
    loom_sd_family metadata_family;
    int family_mismatch;      /* metadata says one family, the keys another */

    const char *examples[LOOM_DETECT_MAX_EXAMPLES]; /* a few keys of an unknown file */
    int n_examples;
} loom_model_info;

/* Fills *out; fails only when out of memory (message names the file). */
loom_status loom_model_detect(const loom_tfile *tf, loom_model_info *out);

/* The parts of detection that read the pickle tree or non-model layouts
 * (detect_addons.c). Each returns 1 when it recognised the file. */
int loom_detect_hypernetwork(const loom_tfile *tf, loom_model_info *out);
int loom_detect_embedding(const loom_tfile *tf, loom_model_info *out);

#endif
