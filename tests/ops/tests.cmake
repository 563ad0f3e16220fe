# Op tests: the CPU reference ops against PyTorch float64 fixtures
# (tests/fixtures/ops, written by scripts/gen_fixtures.py ops).
loom_add_test(NAME test_cpu_ops
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cpu_ops.c ${CMAKE_CURRENT_LIST_DIR}/fixture_rng.c
              LABELS ops)
loom_add_test(NAME test_cpu_table SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cpu_table.c LABELS unit ops)
loom_add_test(NAME test_dtype_conv SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dtype_conv.c LABELS unit ops)
