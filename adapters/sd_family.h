/* sd_family.h — the model families loom knows (SD1.x, SD2.x, SDXL), one table
 * for CLI, JSON and logs. Shared by adapter key mapping and model detection. */
#ifndef LOOM_SD_FAMILY_H
#define LOOM_SD_FAMILY_H

typedef enum loom_sd_family {
    LOOM_FAMILY_UNKNOWN = 0,
    LOOM_FAMILY_SD1,  /* CLIP ViT-L/14 text encoder, cross-attention context 768 */
    LOOM_FAMILY_SD2,  /* OpenCLIP ViT-H/14, context 1024 */
    LOOM_FAMILY_SDXL, /* CLIP-L + OpenCLIP bigG, context 2048 */
    LOOM_FAMILY_COUNT
} loom_sd_family;

/* "unknown", "sd1", "sd2", "sdxl". */
const char *loom_sd_family_name(loom_sd_family f);
/* "SD1.x", "SD2.x", "SDXL" for people. */
const char *loom_sd_family_title(loom_sd_family f);

#endif
