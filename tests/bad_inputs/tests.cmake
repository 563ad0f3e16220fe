# The bad-input corpus: every file listed in tests/bad_inputs/*.tsv must be
# refused by the loaders and by `loom inspect` with one clean line.
loom_add_test(NAME test_bad_inputs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bad_inputs.c
              LABELS bad_inputs ARGS ${CMAKE_CURRENT_LIST_DIR})
add_dependencies(test_bad_inputs loom)
