/* pipeline_adapters.h — the live adapters of one generation request (issue 4 items 4–6).
 *
 * Every batch item has an adapter set: the `--lora` specs in command-line order, then the
 * `<lora:…>` / `<lyco:…>` tags of the item's prompt in prompt order (A1111 applies networks in
 * that order, adapters.md §3.5). Names resolve in --lora-model-dir as A1111 does
 * (host/adapter_files.h); a --lora NAME holding a '/' may also be a file path. Files are parsed
 * once through the registry, equal sets are shared, and one plan per request covers them all
 * (adapters/plan.h). Items with equal sets share a set index; set_of_item maps items to sets. */
#ifndef LOOM_PIPELINE_ADAPTERS_H
#define LOOM_PIPELINE_ADAPTERS_H

#include "adapter_files.h"
#include "pipeline.h"
#include "plan.h"
#include "plan_device.h"
#include "prompt.h"
#include "registry.h"
#include "sd_model.h"

typedef struct loom_gen_adapters {
    loom_adapter_registry *reg;
    loom_adapter_load_opts load_opts;
    loom_adapter_dir dir;
    int have_dir;
    int n_items;
    int *set_of_item;            /* [n_items] */
    int n_sets;
    loom_adapter_set *sets;      /* uses owned here */
    int n_held;
    const loom_adapter **held;   /* registry entries acquired, released by free */
    loom_adapter_plans *plans;   /* NULL when no item uses an adapter */
    loom_adapter_plans_device *dplans; /* the plans on the GPU when the request runs there, else NULL */
} loom_gen_adapters;

/* item_nets[i]: the extra-network tags of item i's prompt (kinds lora/lyco only). Errors are one
 * line naming the adapter (file, key) and leave *out empty; with req->skip_broken_adapters a
 * missing or broken adapter is reported as a warning and left out instead. */
loom_status loom_gen_adapters_prepare(const loom_gen_request *req, const loom_sd_model *model,
                                      const loom_net_list *item_nets, int n_items, loom_gen_adapters *out);
void loom_gen_adapters_free(loom_gen_adapters *a);

/* Before any model is loaded: every --lora spec parses and every adapter name resolves to a file
 * (a typo costs no model load). Nothing is opened. */
loom_status loom_gen_adapters_check_names(const loom_gen_request *req, const loom_net_list *item_nets, int n_items);

#endif
