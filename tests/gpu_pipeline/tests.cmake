# Issue 5: the whole pipeline on the GPU against the CPU backend (label gpu: skipped without one).
loom_add_test(NAME test_pipeline_gpu SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline_gpu.c LABELS gpu
              ARGS ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(test_pipeline_gpu loom)
set_tests_properties(test_pipeline_gpu PROPERTIES TIMEOUT 900)
