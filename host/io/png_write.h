/* png_write.h — PNG output through stb_image_write (Debian's libstb), with
 * A1111's "parameters" text chunk (addons.md §6.2) and atomic file writes. */
#ifndef LOOM_PNG_WRITE_H
#define LOOM_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "loom_base.h"

/* Encode 8-bit RGB (w·h·3 bytes, rows top to bottom) to a malloc'd PNG with
 * an optional text chunk `keyword` = `text` (UTF-8) placed before the image
 * data: tEXt when the text is Latin-1 encodable, else uncompressed iTXt —
 * byte for byte what Pillow's PngInfo.add_text writes, which A1111 uses. */
loom_status loom_png_encode(const uint8_t *rgb, int w, int h, const char *keyword, const char *text,
                            uint8_t **png, size_t *png_len);

/* The text chunk alone (length, type, data, CRC), malloc'd; exposed for tests. */
loom_status loom_png_text_chunk(const char *keyword, const char *text, uint8_t **chunk, size_t *len);

/* Write bytes to `path` atomically: a temp file in the same folder, fsync,
 * rename. On any failure nothing is left at `path` (no partial output). */
loom_status loom_write_file_atomic(const char *path, const void *data, size_t len);

#endif
