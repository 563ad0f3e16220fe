# Random-weights SD1.x checkpoints (`loom make-checkpoint`) and the safetensors
# writer: key layout against the reference models (scripts/gen_fixtures_layout.py
# -> tests/fixtures/layout/), writer bytes against the reference writer, and the
# demo checkpoint through inspect and the model loaders. Files go to the build tree.
loom_add_test(NAME test_layout SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_layout.c LABELS unit)
target_compile_definitions(test_layout PRIVATE LOOM_TEST_OUT="${CMAKE_CURRENT_BINARY_DIR}")
loom_add_test(NAME test_demo_checkpoint SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_demo_checkpoint.c LABELS unit)
target_compile_definitions(test_demo_checkpoint PRIVATE LOOM_TEST_OUT="${CMAKE_CURRENT_BINARY_DIR}")
add_dependencies(test_demo_checkpoint loom)
