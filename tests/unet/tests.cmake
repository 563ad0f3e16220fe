# The SD1.x/SD2.x UNet on the CPU backend against diffusers float64 outputs
# (tests/fixtures/unet, written by scripts/gen_fixtures_golden_unet.py).
loom_add_test(NAME test_unet SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_unet.c LABELS unit)
