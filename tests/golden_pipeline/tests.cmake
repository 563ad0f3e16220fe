# Issue 3's golden-state test: text contexts, one UNet output, the final latents of
# `loom generate` (Euler, DPM++ 2M Karras) and the VAE decode against diffusers +
# k-diffusion on the demo checkpoint, which `loom make-checkpoint` regenerates into the
# build folder (scripts/gen_fixtures_golden_pipeline.py made the fixture).
loom_add_test(NAME test_golden_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_golden_pipeline.c LABELS cli
              ARGS ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(test_golden_pipeline loom)
set_tests_properties(test_golden_pipeline PROPERTIES TIMEOUT 600)
