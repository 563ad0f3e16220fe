# PyTorch zip checkpoints and the restricted unpickler, against torch.load
# (fixtures and expected values: scripts/gen_fixtures_torch.py).
loom_add_test(NAME test_torch_zip SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_torch_zip.c LABELS loader)
