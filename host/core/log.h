/* log.h — leveled logging to stderr. `-v` raises the level to debug. */
#ifndef LOOM_LOG_H
#define LOOM_LOG_H

#include "loom_base.h"

typedef enum loom_log_level {
    LOOM_LOG_ERROR = 0,
    LOOM_LOG_WARN,
    LOOM_LOG_INFO,
    LOOM_LOG_DEBUG,
    LOOM_LOG_LEVEL_COUNT
} loom_log_level;

void loom_log_set_level(loom_log_level l);
loom_log_level loom_log_get_level(void);
void loom_log(loom_log_level l, const char *fmt, ...) LOOM_PRINTF(2, 3);

#define LOOM_ERROR(...) loom_log(LOOM_LOG_ERROR, __VA_ARGS__)
#define LOOM_WARN(...) loom_log(LOOM_LOG_WARN, __VA_ARGS__)
#define LOOM_INFO(...) loom_log(LOOM_LOG_INFO, __VA_ARGS__)
#define LOOM_DEBUG(...) loom_log(LOOM_LOG_DEBUG, __VA_ARGS__)

#endif
