/* json_file.h — reading a small JSON file (diffusers config.json, job files)
 * with loom's error rules: one line naming the file, a size bound, and the
 * root checked to be an object. jansson (Debian's libjansson) does the parsing. */
#ifndef LOOM_JSON_FILE_H
#define LOOM_JSON_FILE_H

#include <jansson.h>

#include "loom_base.h"

#define LOOM_JSON_FILE_MAX (16u << 20)

/* *root: a JSON object (json_decref it). Duplicate keys are refused. */
loom_status loom_json_load_object(const char *path, json_t **root);

#endif
