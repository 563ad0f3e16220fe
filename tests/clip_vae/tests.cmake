# CLIP text encoder and VAE against transformers/diffusers float64 references
# (tests/fixtures/clip_vae, scripts/gen_fixtures_golden_clip_vae.py).
loom_add_test(NAME test_clip
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_clip.c ${CMAKE_CURRENT_LIST_DIR}/st_build.c
              LABELS unit)
loom_add_test(NAME test_vae
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vae.c ${CMAKE_CURRENT_LIST_DIR}/st_build.c
              LABELS unit)
