#!/usr/bin/env bash
# Installs the Debian packages loom builds against, only those missing.
# The CUDA toolkit (nvcc, cuBLAS, cuDNN, NVTX headers) is expected to be
# present already (it is on loom's development and CI machines); if nvcc is
# missing this script says so and the build falls back to LOOM_CUDA=OFF only
# when the caller asks for it.
set -euo pipefail

pkgs=(cmake pkg-config gcc make libjansson-dev libstb-dev zlib1g-dev libopenblas-dev)
[ "${LOOM_WITH_CLANG:-0}" = 1 ] && pkgs+=(clang libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${LOOM_SKIP_NVCC_CHECK:-0}" != 1 ] && ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup-deps: nvcc not found: install the CUDA toolkit (13.x) or configure with -DLOOM_CUDA=OFF" >&2
  exit 1
fi
