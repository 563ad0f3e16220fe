# `loom generate` through the CLI: bad input gives one line, a non-zero exit
# and no output file; real renders with a demo and a full-size SD1.5-layout
# checkpoint that `loom make-checkpoint` writes into the build folder.
loom_add_test(NAME test_generate_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_generate_cli.c LABELS cli
              ARGS ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(test_generate_cli loom)
set_tests_properties(test_generate_cli PROPERTIES TIMEOUT 1200)
