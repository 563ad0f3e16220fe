#!/usr/bin/env bash
# gpu-deps.sh — fetch (here, with network) the Debian packages of loom's
# build dependencies that a bare GPU machine may lack (jansson, stb, zlib
# headers; OpenBLAS is usually there), into .gpu-deps/ (git-ignored), so
# scripts/gpu-check.sh can build the full project there — the `loom` CLI,
# the pipeline test and `loom bench` — with no network. The device tool
# carries the folder: run(..., carry=[".gpu-deps"]). gpu-check unpacks the
# packages into its build folder (dpkg -x, nothing installed system-wide)
# only when pkg-config does not find them on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
rm -f ./*.deb
apt-get download libjansson-dev libjansson4 libstb-dev libstb0 zlib1g-dev libopenblas-dev libopenblas0-pthread \
  libopenblas-pthread-dev libgfortran5 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -la
du -sh .
