# Adapter parsing (adapters/adapter.h) against LyCORIS / peft references
# (scripts/gen_fixtures_adapters.py -> tests/fixtures/adapters/).
loom_add_test(NAME test_adapters SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adapters.c LABELS unit)
# Live-adapter plans (adapters/plan.h) against LyCORIS ΔW and A1111's sequential merge
# (scripts/gen_fixtures_plan.py -> tests/fixtures/adapters/plan.safetensors).
loom_add_test(NAME test_plan SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plan.c LABELS unit)
