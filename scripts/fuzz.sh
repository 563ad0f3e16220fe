#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.c) for a while, seeded with
# the good fixtures and the bad-input corpus. Exits non-zero on any finding.
#
#   scripts/fuzz.sh                 # 120 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh fuzz_pickle
set -euo pipefail
cd "$(dirname "$0")/.."
LOOM_WITH_CLANG=1 LOOM_SKIP_NVCC_CHECK=1 scripts/setup-deps.sh
secs=${FUZZ_SECONDS:-120}
jobs=$(nproc 2>/dev/null || echo 2)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_CUDA=OFF -DLOOM_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//'))

status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  # seeds: every fixture and every bad input (the fuzzer keeps what adds coverage)
  find tests/fixtures tests/bad_inputs -type f \( -name '*.safetensors' -o -name '*.ckpt' -o -name '*.pt' \
       -o -name '*.bin' -o -name '*.pkl' -o -name '*.gguf' \) -size -2M -exec cp -n {} "$corpus"/ \; 2>/dev/null || true
  echo "== $t: ${secs}s =="
  if ! (cd build-fuzz && ./tests/fuzz/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
          -max_len=1048576 -print_final_stats=1 "corpus-$t" 2>&1 | tail -n 15); then
    echo "fuzz: $t found a problem (crash input saved in build-fuzz/)"; status=1
  fi
done
exit $status
