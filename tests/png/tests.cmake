loom_add_test(NAME test_png SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_png.c LABELS unit)
