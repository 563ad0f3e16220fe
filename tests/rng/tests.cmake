# Seed-compatible noise: torch CPU randn, A1111 NV / torch CUDA layout, A1111 and ComfyUI seed semantics.
loom_add_test(NAME test_rng SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rng.c LABELS unit)
