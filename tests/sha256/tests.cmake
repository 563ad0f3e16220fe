# SHA-256 (host/core/sha256.c) against hashlib vectors; file ranges as A1111's hashes use them.
loom_add_test(NAME test_sha256 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sha256.c LABELS unit
              ARGS ${CMAKE_CURRENT_BINARY_DIR})
