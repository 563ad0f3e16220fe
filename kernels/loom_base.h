/* loom_base.h — the types every layer shares: status codes with a message,
 * dtypes, and the tensor view. Lowest layer: depends on nothing but libc.
 *
 * Errors: a function that fails returns a non-zero loom_status and leaves a
 * one-line message in a thread-local buffer (loom_fail / loom_last_error).
 * Callers that add context (the file name, the key) wrap the message with
 * loom_fail_wrap so the user sees "file: key: problem" on one line. */
#ifndef LOOM_BASE_H
#define LOOM_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status -------------------------------------------------------------- */

typedef enum loom_status {
    LOOM_OK = 0,
    LOOM_E_INVALID,     /* bad argument or flag */
    LOOM_E_IO,          /* open/read/mmap failed */
    LOOM_E_FORMAT,      /* file is corrupt, truncated or hostile */
    LOOM_E_UNSUPPORTED, /* valid, but not something loom handles (yet) */
    LOOM_E_NOMEM,       /* allocation failed or a size limit was hit */
    LOOM_E_DEVICE,      /* CUDA / cuBLAS / cuDNN error or no usable GPU */
    LOOM_STATUS_COUNT
} loom_status;

const char *loom_status_name(loom_status s);

#if defined(__GNUC__)
#define LOOM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOOM_PRINTF(a, b)
#endif

/* Sets the thread's error message and returns `code` (so `return loom_fail(...)`). */
loom_status loom_fail(loom_status code, const char *fmt, ...) LOOM_PRINTF(2, 3);
/* Prefixes the current message: "<prefix>: <old message>". Returns `code`. */
loom_status loom_fail_wrap(loom_status code, const char *fmt, ...) LOOM_PRINTF(2, 3);
const char *loom_last_error(void);
void loom_clear_error(void);

/* A string from a file made safe for a one-line message: control bytes
 * become '?', and a name longer than the buffer is cut with "...". */
const char *loom_printable(const char *s, char *buf, size_t n);

/* Propagate a failure unchanged. */
#define LOOM_TRY(expr)                                                         \
    do {                                                                       \
        loom_status loom_try_s_ = (expr);                                      \
        if (loom_try_s_ != LOOM_OK) return loom_try_s_;                        \
    } while (0)

/* ---- dtypes --------------------------------------------------------------- */

typedef enum loom_dtype {
    LOOM_F32 = 0,
    LOOM_F16,
    LOOM_BF16,
    LOOM_F64,
    LOOM_F8_E4M3,
    LOOM_F8_E5M2,
    LOOM_I64,
    LOOM_I32,
    LOOM_I16,
    LOOM_I8,
    LOOM_U64,
    LOOM_U32,
    LOOM_U16,
    LOOM_U8,
    LOOM_BOOL,
    LOOM_DTYPE_COUNT
} loom_dtype;

size_t loom_dtype_size(loom_dtype t);
/* Short lowercase name used in logs and `loom inspect` ("f16", "i64"). */
const char *loom_dtype_name(loom_dtype t);
/* safetensors spelling ("F16", "BF16", "F8_E4M3"). */
const char *loom_dtype_st_name(loom_dtype t);
/* Parse the safetensors spelling; returns 0 and sets *out, or -1 if unknown. */
int loom_dtype_from_st_name(const char *s, loom_dtype *out);
int loom_dtype_is_float(loom_dtype t);

/* ---- tensor view ---------------------------------------------------------- */

#define LOOM_MAX_DIMS 4

typedef enum loom_device { LOOM_HOST = 0, LOOM_CUDA = 1 } loom_device;

/* A view: it never owns `data`. Shapes and strides are in elements, outermost
 * first (PyTorch order). ndim 0 is a scalar. */
typedef struct loom_tensor {
    void *data;
    loom_dtype dtype;
    loom_device device;
    int ndim;
    int64_t shape[LOOM_MAX_DIMS];
    int64_t stride[LOOM_MAX_DIMS];
} loom_tensor;

/* A contiguous view of `data` with the given shape (row-major strides). */
loom_tensor loom_tensor_view(void *data, loom_dtype dtype, int ndim, const int64_t *shape);
int64_t loom_tensor_numel(const loom_tensor *t);
size_t loom_tensor_nbytes(const loom_tensor *t); /* numel * dtype size (contiguous) */
int loom_tensor_is_contiguous(const loom_tensor *t);
/* "[2, 320, 64, 64]" into buf; returns buf. */
const char *loom_shape_str(const loom_tensor *t, char *buf, size_t n);

/* fp16 / bf16 <-> f32, round to nearest even (the same as torch's casts). */
float loom_f16_to_f32(uint16_t h);
uint16_t loom_f32_to_f16(float f);
float loom_bf16_to_f32(uint16_t h);
uint16_t loom_f32_to_bf16(float f);

/* Element i (row-major logical index over `shape`, honouring strides) of a
 * float or integer host tensor, as double. For tools and tests, not hot paths. */
double loom_tensor_get(const loom_tensor *t, int64_t i);
/* Copy any-dtype, any-stride host tensor into a contiguous f32 array of numel floats. */
loom_status loom_tensor_to_f32(const loom_tensor *t, float *out);

#ifdef __cplusplus
}
#endif
#endif
