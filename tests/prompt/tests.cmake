# A1111 prompt syntax: expected values from scripts/gen_fixtures_prompt.py (tests/fixtures/prompt/)
loom_add_test(NAME test_prompt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_prompt.c LABELS unit)
# hostile prompts: 100 KB of nesting, escapes, tags, invalid UTF-8, the size limit
loom_add_test(NAME test_prompt_bad SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_prompt_bad.c LABELS bad_inputs)
