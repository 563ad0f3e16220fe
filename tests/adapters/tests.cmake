# Adapter parsing (adapters/adapter.h) against LyCORIS / peft references
# (scripts/gen_fixtures_adapters.py -> tests/fixtures/adapters/).
loom_add_test(NAME test_adapters SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adapters.c LABELS unit)
