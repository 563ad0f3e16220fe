/* adapter_kind.c — names of the adapter algorithms (adapters.md §1.3). */
#include "adapter_kind.h"

static const char *const kind_names[] = {"lora", "loha", "lokr", "ia3", "full", "norm", "glora", "oft"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == LOOM_ADAPTER_KIND_COUNT, "adapter kind table");

const char *loom_adapter_kind_name(loom_adapter_kind k)
{
    return (unsigned)k < LOOM_ADAPTER_KIND_COUNT ? kind_names[k] : "?";
}
