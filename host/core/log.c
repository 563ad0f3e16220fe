/* log.c — see log.h. Messages are one line each, prefixed "loom: <level>: ". */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static loom_log_level current = LOOM_LOG_WARN;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
_Static_assert(sizeof level_names / sizeof level_names[0] == LOOM_LOG_LEVEL_COUNT, "log level table");

void loom_log_set_level(loom_log_level l) { current = l; }
loom_log_level loom_log_get_level(void) { return current; }

void loom_log(loom_log_level l, const char *fmt, ...)
{
    if (l > current) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "loom: %s: %s\n", level_names[l], line);
}
