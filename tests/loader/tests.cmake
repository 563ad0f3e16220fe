# Tensor-file loaders against files written by the reference libraries.
loom_add_test(NAME test_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c LABELS loader)
