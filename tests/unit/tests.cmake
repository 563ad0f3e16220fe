loom_add_test(NAME test_base SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_base.c LABELS unit)
# kernels/device_arena.h: the activation-arena planner and its record/replay state machine on a
# host allocator (no GPU needed).
loom_add_test(NAME test_device_arena SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_device_arena.c LABELS unit)
