/* prompt_util.h — what the prompt_*.c files share (internal to host/text):
 * a growable byte buffer, UTF-8 stepping, the character classes of Python's
 * `re` module on str (\s, \w, \d), and Python's float()/int() string syntax.
 * A1111's prompt code is Python regexes over str, so these decide exactness
 * on non-ASCII input. */
#ifndef LOOM_PROMPT_UTIL_H
#define LOOM_PROMPT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

/* ---- byte buffer (always NUL-terminated once anything was put) ---------- */
typedef struct loom_prompt_buf {
    char *p;
    size_t n, cap;
} loom_prompt_buf;

loom_status loom_prompt_buf_put(loom_prompt_buf *b, const char *s, size_t n);
/* Hands the string over (an empty "" when nothing was put); b is reset. */
loom_status loom_prompt_buf_take(loom_prompt_buf *b, char **out, size_t *out_len);
void loom_prompt_buf_free(loom_prompt_buf *b);

/* Grows *v (elements of `size` bytes) so that it holds at least `need`. */
loom_status loom_prompt_grow(void **v, size_t *cap, size_t need, size_t size);

char *loom_prompt_strndup(const char *s, size_t n);

/* ---- UTF-8 -------------------------------------------------------------- */
/* The code point at s[i] (i < n) and its byte length. A byte that does not
 * start a valid sequence is one "character" U+FFFD of length 1, which is in
 * no class below — malformed input is carried along, never over-read. */
size_t loom_prompt_utf8_at(const char *s, size_t n, size_t i, uint32_t *cp);
/* The code point that ends just before s[i] (i > 0), same rules; returns its start. */
size_t loom_prompt_utf8_before(const char *s, size_t i, uint32_t *cp);

/* ---- Python `re` classes on str ----------------------------------------- */
bool loom_prompt_is_space(uint32_t cp); /* \s = str.isspace() */
bool loom_prompt_is_word(uint32_t cp);  /* \w = str.isalnum() or '_' */
bool loom_prompt_is_digit(uint32_t cp); /* \d = str.isdecimal() */
/* Length of the \s run at s[i]. */
size_t loom_prompt_space_run(const char *s, size_t n, size_t i);

/* ---- Python number syntax ------------------------------------------------ */
/* float(s): surrounding whitespace, sign, '_' between digits, any Unicode
 * decimal digit, inf/infinity/nan. Returns false if Python raises ValueError. */
bool loom_prompt_py_float(const char *s, size_t n, double *out);
/* int(s) in base 10; false for a ValueError or a value outside long long. */
bool loom_prompt_py_int(const char *s, size_t n, long long *out);

#endif
