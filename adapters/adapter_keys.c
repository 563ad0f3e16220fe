/* adapter_keys.c — split adapter keys into module stem, component and role
 * (adapters.md §1.2 kohya grammar, §1.3 suffixes, §1.4 diffusers/PEFT variants). */
#include "adapter_keys.h"

#include <string.h>

typedef struct suffix {
    const char *text;
    loom_adapter_role role;
} suffix;

/* kohya / LyCORIS: everything after the first '.' (§1.3, every reader's list). */
static const suffix kohya_suffixes[] = {
    {"lora_down.weight", LOOM_AR_DOWN}, {"lora_up.weight", LOOM_AR_UP}, {"lora_mid.weight", LOOM_AR_MID},
    {"lora_A.weight", LOOM_AR_DOWN}, {"lora_B.weight", LOOM_AR_UP}, /* PEFT naming under a kohya stem */
    {"alpha", LOOM_AR_ALPHA}, {"scale", LOOM_AR_SCALE}, {"dora_scale", LOOM_AR_DORA},
    {"hada_w1_a", LOOM_AR_HADA_W1_A}, {"hada_w1_b", LOOM_AR_HADA_W1_B},
    {"hada_w2_a", LOOM_AR_HADA_W2_A}, {"hada_w2_b", LOOM_AR_HADA_W2_B},
    {"hada_t1", LOOM_AR_HADA_T1}, {"hada_t2", LOOM_AR_HADA_T2},
    {"lokr_w1", LOOM_AR_LOKR_W1}, {"lokr_w1_a", LOOM_AR_LOKR_W1_A}, {"lokr_w1_b", LOOM_AR_LOKR_W1_B},
    {"lokr_w2", LOOM_AR_LOKR_W2}, {"lokr_w2_a", LOOM_AR_LOKR_W2_A}, {"lokr_w2_b", LOOM_AR_LOKR_W2_B},
    {"lokr_t1", LOOM_AR_LOKR_T1}, {"lokr_t2", LOOM_AR_LOKR_T2},
    {"weight", LOOM_AR_IA3_WEIGHT}, {"on_input", LOOM_AR_ON_INPUT},
    {"diff", LOOM_AR_DIFF}, {"diff_b", LOOM_AR_DIFF_B},
    {"w_norm", LOOM_AR_W_NORM}, {"b_norm", LOOM_AR_B_NORM},
    {"a1.weight", LOOM_AR_GLORA_A1}, {"a2.weight", LOOM_AR_GLORA_A2}, {"b1.weight", LOOM_AR_GLORA_B1},
    {"b2.weight", LOOM_AR_GLORA_B2}, {"bm.weight", LOOM_AR_GLORA_BM},
    {"oft_blocks", LOOM_AR_OFT_BLOCKS}, {"oft_diag", LOOM_AR_OFT_DIAG}, {"rescale", LOOM_AR_RESCALE},
    {"bias", LOOM_AR_BIAS}, {"bias_indices", LOOM_AR_LEGACY}, {"bias_values", LOOM_AR_LEGACY},
    {"bias_size", LOOM_AR_LEGACY}, {"reshape_weight", LOOM_AR_LEGACY},
};

/* diffusers / PEFT: suffix variants of §1.4, longest first so that ".lora_A.default.weight"
 * is not read as ".weight". "_lora.down.weight" is the old attention-processor form
 * ("attn1.processor.to_q_lora.down.weight"). */
static const suffix diffusers_suffixes[] = {
    {".lora_linear_layer.down.weight", LOOM_AR_DOWN}, {".lora_linear_layer.up.weight", LOOM_AR_UP},
    {".lora_magnitude_vector.default.weight", LOOM_AR_DORA}, {".lora_magnitude_vector.weight", LOOM_AR_DORA},
    {".lora_A.default.weight", LOOM_AR_DOWN}, {".lora_B.default.weight", LOOM_AR_UP},
    {".lora_magnitude_vector", LOOM_AR_DORA},
    {".lora.down.weight", LOOM_AR_DOWN}, {".lora.up.weight", LOOM_AR_UP},
    {"_lora.down.weight", LOOM_AR_DOWN}, {"_lora.up.weight", LOOM_AR_UP},
    {".lora_down.weight", LOOM_AR_DOWN}, {".lora_up.weight", LOOM_AR_UP},
    {".lora_A.weight", LOOM_AR_DOWN}, {".lora_B.weight", LOOM_AR_UP}, {".lora_B.bias", LOOM_AR_BIAS},
    {".dora_scale", LOOM_AR_DORA}, {".lora_A", LOOM_AR_DOWN}, {".lora_B", LOOM_AR_UP}, {".alpha", LOOM_AR_ALPHA},
};

static const struct {
    const char *prefix;
    loom_adapter_part part;
    int diffusers;
} prefixes[] = {
    {"lora_unet_", LOOM_AP_UNET, 0}, {"lora_te1_", LOOM_AP_TE1, 0}, {"lora_te2_", LOOM_AP_TE2, 0},
    {"lora_te_", LOOM_AP_TE, 0}, {"oft_unet_", LOOM_AP_UNET, 0}, {"lycoris_", LOOM_AP_OTHER, 0},
    {"lora_transformer_", LOOM_AP_OTHER, 0},
    {"unet.", LOOM_AP_UNET, 1}, {"text_encoder_2.", LOOM_AP_TE2, 1}, {"text_encoder.", LOOM_AP_TE, 1},
    {"base_model.model.", LOOM_AP_UNET, 1}, /* a raw peft save of a UNet */
};

static const char *const role_names[] = {
    "unknown", "down", "up", "mid", "alpha", "scale", "dora_scale",
    "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2",
    "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t1", "lokr_t2",
    "weight", "on_input", "diff", "diff_b", "w_norm", "b_norm",
    "a1", "a2", "b1", "b2", "bm", "oft_blocks", "oft_diag", "rescale", "bias", "legacy",
};
_Static_assert(sizeof role_names / sizeof role_names[0] == LOOM_AR_COUNT, "role names");

const char *loom_adapter_role_name(loom_adapter_role r)
{
    return (unsigned)r < LOOM_AR_COUNT ? role_names[r] : "?";
}

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

void loom_adapter_key_split(const char *key, loom_adapter_key_parts *out)
{
    size_t n = strlen(key);
    out->stem_len = n;
    out->role = LOOM_AR_UNKNOWN;
    out->part = LOOM_AP_OTHER;
    out->diffusers = 0;

    if (starts_with(key, "bundle_emb.")) { /* bundle_emb.<name>.<rest>: the module is the embedding */
        const char *dot = strchr(key + 11, '.');
        out->stem_len = dot ? (size_t)(dot - key) : n;
        out->part = LOOM_AP_EMBEDDING;
        return;
    }
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (!starts_with(key, prefixes[i].prefix)) continue;
        out->part = prefixes[i].part;
        out->diffusers = prefixes[i].diffusers;
        break;
    }
    if (out->diffusers) {
        for (size_t i = 0; i < sizeof diffusers_suffixes / sizeof diffusers_suffixes[0]; i++) {
            size_t l = strlen(diffusers_suffixes[i].text);
            if (l < n && !strcmp(key + n - l, diffusers_suffixes[i].text)) {
                out->stem_len = n - l;
                out->role = diffusers_suffixes[i].role;
                return;
            }
        }
        return; /* a diffusers key we do not know: its own module, role unknown */
    }
    const char *dot = strchr(key, '.'); /* A1111: key.partition('.') */
    if (!dot) return;
    out->stem_len = (size_t)(dot - key);
    for (size_t i = 0; i < sizeof kohya_suffixes / sizeof kohya_suffixes[0]; i++)
        if (!strcmp(dot + 1, kohya_suffixes[i].text)) {
            out->role = kohya_suffixes[i].role;
            return;
        }
}
