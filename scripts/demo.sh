#!/usr/bin/env bash
# The main job. Until `loom generate` lands (SD1.x pipeline issue) this
# builds loom and shows what it makes of a sample SD1.x-architecture
# checkpoint and a kohya-format LoRA (tests/fixtures/inspect/, made by
# PyTorch, diffusers and the LyCORIS library). Pass files to inspect yours:
#
#   scripts/demo.sh                       # the samples
#   scripts/demo.sh ~/models/*.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
export PATH="$PATH:/usr/local/cuda/bin"
if [ ! -x build/loom ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target loom >/dev/null

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(tests/fixtures/inspect/sd1_tiny_fp16.safetensors tests/fixtures/inspect/lora_kohya_sd15.safetensors)
fi
build/loom version
for f in "${files[@]}"; do
  echo
  build/loom inspect "$f"
done
