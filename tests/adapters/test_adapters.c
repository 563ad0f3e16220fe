/* test_adapters.c — adapter files → modules mapped to SD1.5 weights (adapters/adapter.h).
 *
 * Every inspect adapter fixture parses with the module count and per-kind counts LyCORIS / peft
 * reported (files.tsv, from expected.json); sampled modules have the kind, rank and scale of
 * adapters.md §3.1 and a ΔW equal to LyCORIS' own rebuild (modules.tsv, delta.safetensors,
 * rel L2 ≤ 1e-5); the three key spellings resolve to one row; bad adapters fail with one line
 * naming the file and the key (bad/expected.tsv). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "keymap.h"
#include "testlib.h"

typedef struct loaded {
    loom_tfile *tf;
    loom_adapter_src *src;
    int n;
} loaded;

/* The host side of the boundary: names + views from a loom_tfile. */
static int load(const char *path, loaded *l)
{
    memset(l, 0, sizeof *l);
    if (loom_tfile_open(path, &l->tf)) {
        T_CHECK(0, "open %s: %s", path, loom_last_error());
        return 0;
    }
    l->n = l->tf->n_tensors;
    l->src = calloc((size_t)l->n, sizeof *l->src);
    for (int i = 0; i < l->n; i++) {
        l->src[i].name = l->tf->tensors[i].name;
        T_OK(loom_tfile_tensor(l->tf, &l->tf->tensors[i], &l->src[i].t));
    }
    return 1;
}

static void unload(loaded *l)
{
    free(l->src);
    loom_tfile_close(l->tf);
}

static const loom_adapter_module *find_module(const loom_adapter *a, const char *stem)
{
    for (int i = 0; i < a->n_modules; i++)
        if (!strcmp(a->modules[i].target->kohya, stem)) return &a->modules[i];
    return NULL;
}

static int parse_fixture(const char *file, int strict, loaded *l, loom_adapter *a)
{
    char rel[256];
    snprintf(rel, sizeof rel, "inspect/%s", file);
    if (!load(t_fixture(rel), l)) return 0;
    loom_status st = loom_adapter_parse(file, l->src, l->n, &loom_keymap_sd15, strict, a);
    T_CHECK(st == LOOM_OK, "%s: %s", file, loom_last_error());
    if (st) unload(l);
    return st == LOOM_OK;
}

static void test_files(void)
{
    char *text = t_read_text(t_fixture("adapters/files.tsv")), *p = text, *line;
    T_CHECK(text != NULL, "files.tsv missing");
    int n_files = 0;
    while ((line = t_next_line(&p))) {
        char *f[3];
        if (line[0] == '#' || t_split_tabs(line, f, 3) != 3) continue;
        loaded l;
        loom_adapter a;
        if (!parse_fixture(f[0], 1, &l, &a)) continue;
        n_files++;
        T_CHECK(a.n_modules == atoi(f[1]), "%s: %d modules, LyCORIS built %s", f[0], a.n_modules, f[1]);
        T_CHECK(a.n_unmatched == 0, "%s: %d unmatched (%s)", f[0], a.n_unmatched, a.unmatched[0]);
        for (char *kv = f[2], *end; kv && *kv; kv = end) { /* "kind=count kind=count" */
            end = strchr(kv, ' ');
            if (end) *end++ = 0;
            char *eq = strchr(kv, '=');
            if (!eq) continue;
            *eq = 0;
            int n = 0;
            for (int i = 0; i < a.n_modules; i++) n += !strcmp(loom_adapter_kind_name(a.modules[i].kind), kv);
            T_CHECK(n == atoi(eq + 1), "%s: %d %s modules, want %s", f[0], n, kv, eq + 1);
        }
        loom_adapter_free(&a);
        unload(&l);
    }
    T_CHECK(n_files == 8, "parsed %d fixture files", n_files);
    free(text);
}

/* Sampled modules: kind, rank, scale (§3.1) and s·ΔW against LyCORIS (every stride-th element). */
static void test_modules(void)
{
    char *text = t_read_text(t_fixture("adapters/modules.tsv")), *p = text, *line;
    loom_tfile *ref = t_open_fixture("adapters/delta.safetensors");
    T_CHECK(text && ref, "modules.tsv / delta.safetensors missing");
    int n_delta = 0, n_mod = 0;
    while (ref && (line = t_next_line(&p))) {
        char *f[8];
        if (line[0] == '#' || t_split_tabs(line, f, 8) != 8) continue;
        loaded l;
        loom_adapter a;
        if (!parse_fixture(f[0], 0, &l, &a)) continue;
        const loom_adapter_module *m = find_module(&a, f[1]);
        T_CHECK(m != NULL, "%s: module %s not parsed", f[0], f[1]);
        if (m) {
            n_mod++;
            T_CHECK(!strcmp(loom_adapter_kind_name(m->kind), f[2]), "%s %s: kind %s, want %s", f[0], f[1],
                    loom_adapter_kind_name(m->kind), f[2]);
            T_CHECK(m->rank == atoll(f[3]), "%s %s: rank %lld, want %s", f[0], f[1], (long long)m->rank, f[3]);
            T_CHECK(fabs(m->scale - atof(f[4])) <= 1e-6 * fabs(atof(f[4])), "%s %s: scale %g, want %s", f[0], f[1],
                    m->scale, f[4]);
            T_CHECK(m->on_input == atoi(f[7]), "%s %s: on_input %d, want %s", f[0], f[1], m->on_input, f[7]);
            int64_t numel = loom_adapter_module_numel(m), stride = atoll(f[5]);
            T_CHECK(numel == atoll(f[6]), "%s %s: ΔW numel %lld, want %s", f[0], f[1], (long long)numel, f[6]);
            char key[512];
            snprintf(key, sizeof key, "%s/%s", f[0], f[1]);
            if (m->kind == LOOM_ADAPTER_IA3) { /* W ⊙ w needs the base weight (§2.4): no reference ΔW */
                float out = 0;
                T_EXPECT_FAIL(loom_adapter_module_delta(m, &out), "depends on the base weight");
            } else if (numel == atoll(f[6]) && stride > 0) {
                loom_tensor shape;
                float *want = t_load_f32(ref, key, &shape), *got = malloc((size_t)numel * sizeof *got);
                if (want && got) {
                    T_OK(loom_adapter_module_delta(m, got));
                    int64_t n = loom_tensor_numel(&shape);
                    float *sampled = malloc((size_t)n * sizeof *sampled);
                    for (int64_t i = 0; i < n; i++) sampled[i] = i * stride < numel ? got[i * stride] : NAN;
                    double e = t_rel_l2(sampled, want, n);
                    T_CHECK(e <= 1e-5, "%s: ΔW rel L2 %g vs LyCORIS", key, e);
                    n_delta++;
                    free(sampled);
                }
                free(want), free(got);
            }
        }
        loom_adapter_free(&a);
        unload(&l);
    }
    T_CHECK(n_mod >= 30 && n_delta >= 24, "checked %d modules, %d ΔW", n_mod, n_delta);
    if (ref) loom_tfile_close(ref);
    free(text);
}

/* adapters.md §4: kohya, diffusers/PEFT (prefixed and bare) spellings reach one row. */
static void test_resolve(void)
{
    const char *spellings[][4] = {
        {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
         "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
         "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q",
         "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"},
        {"lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_out_0",
         "unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0",
         "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out",
         "model.diffusion_model.output_blocks.5.1.transformer_blocks.0.attn2.to_out.0.weight"},
        {"lora_te_text_model_encoder_layers_11_mlp_fc2", "text_encoder.text_model.encoder.layers.11.mlp.fc2",
         "text_model.encoder.layers.11.mlp.fc2",
         "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.weight"},
        {"lora_unet_up_blocks_0_upsamplers_0_conv", "unet.up_blocks.0.upsamplers.0.conv", "up_blocks.0.upsamplers.0.conv",
         "model.diffusion_model.output_blocks.2.1.conv.weight"},
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        for (int j = 0; j < 3; j++) {
            const char *s = spellings[i][j];
            const loom_keymap_row *r = loom_keymap_resolve(&loom_keymap_sd15, s, strlen(s));
            T_CHECK(r && !strcmp(r->weight, spellings[i][3]), "%s -> %s, want %s", s, r ? r->weight : "(none)",
                    spellings[i][3]);
        }
    const char *te1 = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"; /* §4.4 step 4 */
    T_CHECK(loom_keymap_resolve(&loom_keymap_sd15, te1, strlen(te1)) != NULL, "lora_te1_ on SD1");
    const char *none[] = {"lora_unet_no_such_layer", "unet.down_blocks.9.resnets.0.conv1", "lora_te2_text_model_x", ""};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        T_CHECK(!loom_keymap_resolve(&loom_keymap_sd15, none[i], strlen(none[i])), "%s resolved", none[i]);
    T_CHECK(loom_keymap_for(LOOM_FAMILY_SD1) == &loom_keymap_sd15, "SD1 table");
    T_CHECK(loom_keymap_for(LOOM_FAMILY_SDXL) == NULL, "no SDXL table yet");
}

/* Bad adapters: one line naming the file and the key (bad/expected.tsv). */
static void test_bad(void)
{
    char *text = t_read_text(t_fixture("adapters/bad/expected.tsv")), *p = text, *line;
    T_CHECK(text != NULL, "bad/expected.tsv missing");
    int n = 0;
    while ((line = t_next_line(&p))) {
        char *f[3];
        if (line[0] == '#' || t_split_tabs(line, f, 3) != 3) continue;
        char rel[256];
        snprintf(rel, sizeof rel, "adapters/bad/%s", f[0]);
        loaded l;
        if (!load(t_fixture(rel), &l)) continue;
        int strict = atoi(f[1]);
        loom_adapter a;
        char path_colon[300];
        snprintf(path_colon, sizeof path_colon, "%s: ", rel);
        T_EXPECT_FAIL(loom_adapter_parse(rel, l.src, l.n, &loom_keymap_sd15, strict, &a), path_colon, f[2]);
        T_CHECK(a.n_modules == 0 && a.modules == NULL, "%s: output left after a failure", f[0]);
        if (strict) { /* without strict the unknown module is counted, the rest parses */
            loom_status st = loom_adapter_parse(rel, l.src, l.n, &loom_keymap_sd15, 0, &a);
            T_CHECK(st == LOOM_OK && a.n_unmatched == 1 && a.n_modules == 1 && a.unmatched[0] &&
                        strstr(f[2], a.unmatched[0]),
                    "%s non-strict: %s", f[0], st ? loom_last_error() : "counts");
            if (!st) loom_adapter_free(&a);
        }
        unload(&l);
        n++;
    }
    T_CHECK(n == 8, "%d bad adapters checked", n);
    free(text);
}

int main(void)
{
    test_resolve();
    test_files();
    test_modules();
    test_bad();
    return t_finish("test_adapters");
}
