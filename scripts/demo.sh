#!/usr/bin/env bash
# The main job: text to image.
#
#   scripts/demo.sh                                   # the demo model, a 256×256 image in out/
#   scripts/demo.sh -m model.safetensors -p "a cat"   # your checkpoint, any `loom generate` flags
#
# Builds loom when needed. With no -m it renders with a small demo checkpoint
# in real SD1.x single-file format that `loom make-checkpoint --preset demo`
# writes once (out/demo-sd1.safetensors, 15 MB): its weights are random, so
# the picture is noise — it shows the whole pipeline (tokenizer, A1111 prompt
# syntax, CLIP, UNet, sampler, VAE, PNG with A1111's parameters text) running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
export PATH="$PATH:/usr/local/cuda/bin"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target loom >/dev/null
mkdir -p out

args=("$@")
has_model=0
for a in "${args[@]}"; do
  case "$a" in -m|--model) has_model=1 ;; esac
done
if [ $has_model = 0 ]; then
  [ -f out/demo-sd1.safetensors ] || build/loom make-checkpoint --preset demo --seed 1 out/demo-sd1.safetensors
  build/loom inspect out/demo-sd1.safetensors
  [ ${#args[@]} -eq 0 ] && args=(-p "a lighthouse on a cliff at dusk, (dramatic clouds:1.2), [oil painting|photo]"
                                 -n "blurry, lowres" -W 256 -H 256 --steps 20 -s 42
                                 --sampling-method "DPM++ 2M Karras" -o out/demo.png)
  args=(-m out/demo-sd1.safetensors "${args[@]}")
fi
build/loom generate "${args[@]}"
