/* sd_family.c — family names (sd_family.h). */
#include "sd_family.h"

static const char *const names[] = {"unknown", "sd1", "sd2", "sdxl"};
static const char *const titles[] = {"unknown family", "SD1.x", "SD2.x", "SDXL"};
_Static_assert(sizeof names / sizeof names[0] == LOOM_FAMILY_COUNT, "family names");
_Static_assert(sizeof titles / sizeof titles[0] == LOOM_FAMILY_COUNT, "family titles");

const char *loom_sd_family_name(loom_sd_family f)
{
    return (unsigned)f < LOOM_FAMILY_COUNT ? names[f] : "?";
}

const char *loom_sd_family_title(loom_sd_family f)
{
    return (unsigned)f < LOOM_FAMILY_COUNT ? titles[f] : "?";
}
