/* inspect_report.h — the two renderings of `loom inspect`: text for people
 * (inspect_text.c) and one JSON object per file (inspect_json.c). */
#ifndef LOOM_INSPECT_REPORT_H
#define LOOM_INSPECT_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "detect.h"

/* kohya / modelspec keys worth showing without -v (adapters.md §1.5, addons.md §5.8). */
extern const char *const loom_inspect_main_meta[];

/* s with control bytes replaced by '?', for terminals and JSON (the buffer is reused). */
const char *loom_inspect_clean(const char *s, char *buf, size_t n);

void loom_inspect_print(FILE *f, const loom_tfile *tf, const loom_model_info *m, int verbose);
/* NULL when out of memory. */
json_t *loom_inspect_json(const loom_tfile *tf, const loom_model_info *m, int verbose);

#endif
