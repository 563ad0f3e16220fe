/* loader_stubs.c — LOOM_GPU_CHECK_ONLY builds only (CMakeLists.txt): the
 * file loaders need jansson and zlib, which a bare GPU machine may lack, and
 * the backend-ops test reads no fixtures. testlib.c still refers to the
 * loaders, so these stand in and fail plainly if anything calls them. */
#include "tensor_file.h"

loom_status loom_tfile_open(const char *path, loom_tfile **out)
{
    *out = NULL;
    return loom_fail(LOOM_E_UNSUPPORTED, "%s: file loaders are not built with LOOM_GPU_CHECK_ONLY", path);
}

const loom_tf_entry *loom_tfile_find(const loom_tfile *tf, const char *name)
{
    (void)tf, (void)name;
    return NULL;
}

loom_status loom_tfile_tensor(const loom_tfile *tf, const loom_tf_entry *e, loom_tensor *out)
{
    (void)tf, (void)e, (void)out;
    return loom_fail(LOOM_E_UNSUPPORTED, "file loaders are not built with LOOM_GPU_CHECK_ONLY");
}
