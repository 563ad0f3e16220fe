# Op tests: the CPU reference ops against PyTorch float64 fixtures
# (tests/fixtures/ops, written by scripts/gen_fixtures.py ops).
loom_add_test(NAME test_cpu_ops
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cpu_ops.c ${CMAKE_CURRENT_LIST_DIR}/fixture_rng.c
              LABELS ops)
# Live adapters (linear_adapted, conv2d_adapted) against PyTorch with dense ΔW
# (tests/fixtures/ops/adapter_ops.safetensors, scripts/gen_fixtures_adapter_ops.py).
loom_add_test(NAME test_adapter_ops
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adapter_ops.c ${CMAKE_CURRENT_LIST_DIR}/adapter_cases.c LABELS ops)
loom_add_test(NAME test_cpu_table SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cpu_table.c LABELS unit ops)
loom_add_test(NAME test_dtype_conv SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dtype_conv.c LABELS unit ops)
# CUDA ops (own kernels and vendor baselines) against the CPU reference at
# SD's shapes; skipped (exit 77) without a usable GPU. `perf` mode and op
# filters via argv; scripts/gpu-check.sh runs it on a GPU machine.
loom_add_test(NAME test_backend_ops
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_backend_ops.c ${CMAKE_CURRENT_LIST_DIR}/backend_cases.c
                      ${CMAKE_CURRENT_LIST_DIR}/backend_cases_misc.c ${CMAKE_CURRENT_LIST_DIR}/fixture_rng.c
              LABELS gpu)
loom_add_test(NAME test_device_memory SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_device_memory.c LABELS unit gpu)
# The CUDA live adapters (loom_cuda_linear_adapted / conv2d_adapted) on the same fixture, plans
# uploaded with adapters/plan_device.h; against PyTorch and the CPU op on f16-rounded inputs.
# Runs its host half and exits 77 (skipped) without a usable GPU.
loom_add_test(NAME test_adapter_ops_gpu
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adapter_ops_gpu.c ${CMAKE_CURRENT_LIST_DIR}/adapter_cases.c
              LABELS gpu)
# adapters/plan_device.h: host plans → device copies (checks, sharing, bits); host half always,
# skipped (77) without a usable GPU.
loom_add_test(NAME test_plan_device SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plan_device.c LABELS gpu)
# The CUDA linears' argument checks (host code, no GPU needed): same refusals, same messages.
loom_add_test(NAME test_cuda_args SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_args.c LABELS unit ops)
