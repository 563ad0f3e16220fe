# `loom inspect` on real-format files made by the reference tools
# (scripts/gen_fixtures_inspect.py -> tests/fixtures/inspect/, expected.json).
loom_add_test(NAME test_inspect SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_inspect.c LABELS cli)
add_dependencies(test_inspect loom)
