loom_add_test(NAME test_base SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_base.c LABELS unit)
