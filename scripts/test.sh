#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (every .cu
# included, no GPU needed), runs ctest; then builds the loaders with ASan +
# UBSan (CUDA off) and runs the loader and bad-input tests under them.
#
#   scripts/test.sh            # full run
#   LOOM_TEST_FAST=1 scripts/test.sh   # skip the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-deps.sh
export PATH="$PATH:/usr/local/cuda/bin"
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (CUDA archs: default list, see CMakeLists.txt) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
grep "loom:" build-configure.log || true
cmake --build build -j "$jobs"

echo "== spill check (every promoted CUDA kernel, every architecture: no local-memory spills) =="
status=0
scripts/spill-check.sh build || status=1

echo "== tests =="
ctest --test-dir build --output-on-failure -j "$jobs" || status=1

if [ "${LOOM_TEST_FAST:-0}" != 1 ]; then
  echo "== sanitizer build (ASan + UBSan, CUDA off): every CPU test again =="
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLOOM_CUDA=OFF -DLOOM_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
  # the 2 GB full-size render runs in the main pass only (under ASan it would need ~15 GB)
  LOOM_TEST_SKIP_SD15=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -L 'loader|bad_inputs|unit|cli|ops' || status=1
fi
exit $status
