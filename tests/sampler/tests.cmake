# Samplers and schedulers against k-diffusion / A1111 / torchsde references
# (tests/fixtures/sampler, written by scripts/gen_fixtures_sampler.py).
loom_add_test(NAME test_sampler
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sampler.c ${CMAKE_CURRENT_LIST_DIR}/test_sampler_names.c
              LABELS unit)
