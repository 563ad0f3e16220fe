# Adapter files by name (host/adapter_files.h) and the parsed-adapter cache (adapters/registry.h).
loom_add_test(NAME test_registry SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry.c LABELS unit)
