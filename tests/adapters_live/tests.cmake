# Issue 4's acceptance: live adapters on the demo checkpoint against PyTorch with the libraries'
# merged weights (scripts/gen_fixtures_adapters_live.py made tests/fixtures/adapters_live/).
loom_add_test(NAME test_adapters_live SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adapters_live.c LABELS cli
              ARGS ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(test_adapters_live loom)
set_tests_properties(test_adapters_live PROPERTIES TIMEOUT 900)
