#!/usr/bin/env bash
# gpu-check.sh — everything loom can learn from one unattended run on a bare
# GPU machine (CUDA, CMake and python3 present; no network; maybe no Debian
# -dev packages): build for the GPU found, run the `gpu` tests (every CUDA op,
# own and vendor, against the CPU reference), compute-sanitizer over them,
# the perf mode (vendor baselines' times on SD's shapes), and a short table
# printed LAST (a remote runner returns the end of the output).
#
#   OUT=/some/dir scripts/gpu-check.sh        # results in $OUT (default ./gpu-check-out)
#   BUILD=dir  (default build-gpu-check)      JOBS=n (default nproc)
#   GPU_CHECK_MODE=check-only                 skip the full-project attempt (faster build)
#   GPU_CHECK_SKIP="torch sanitizer bench"    leave those stages out (a short device window);
#                                             "tests perf" too: build only the loom CLI and run
#                                             loom bench alone (a timing probe; never a PASS)
#   GPU_CHECK_ASSUME_CC=90                    testing this script without a GPU: skip detection,
#                                             build for sm_90; the tests then report SKIPPED (exit 1)
#
# It only reads the GPU's state (nvidia-smi queries); it never changes clocks,
# power, compute mode, MIG or persistence, and never resets the GPU.
#
# Exactly 8 files are written to $OUT (the device tool of loom's workplace
# returns at most 8): summary.md, build.log (the machine's description, then
# the build), ctest.log, check.csv, sanitizer.log, perf.log, perf.csv and
# torch.csv (scripts/gpu_torch_ref.py: PyTorch's fp16 error and time on the
# same cases — the bar "loom fp16 ≤ 2× PyTorch's" — and, into summary.md,
# torch.randn(device='cuda') against loom's seed-compatible noise fixture).
#
# Exit status: 0 all passed; 1 a check failed; 2 no usable GPU; 3 the build failed.
#
# Full mode (the loom CLI built: jansson/stb found, or unpacked from .gpu-deps/ — see
# scripts/gpu-deps.sh) also runs the pipeline GPU-vs-CPU test (ctest -L gpu) and `loom bench`
# (an SD1.5-shaped random checkpoint's UNet step, own vs vendor kernels; live adapters' overhead
# on the demo model), whose table goes into summary.md and whose log into perf.log.
#
# Build mode: the full project if its dependencies are there (jansson, stb,
# OpenBLAS, zlib through pkg-config), else -DLOOM_GPU_CHECK_ONLY=ON (kernels +
# test_backend_ops; the CPU reference on a naive threaded GEMM when OpenBLAS
# is absent — said in summary.md). cuDNN: the system's, else the one inside
# python3's nvidia-cudnn wheel (PyTorch's), which ships no libcudnn.so link.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 3
ROOT=$(pwd)
OUT=${OUT:-gpu-check-out}
BUILD=${BUILD:-build-gpu-check}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
mkdir -p "$OUT" || { echo "gpu-check: cannot create $OUT"; exit 3; }
OUT=$(cd "$OUT" && pwd)
export PATH="$PATH:/usr/local/cuda/bin"
summary="$OUT/summary.md" blog="$OUT/build.log" env="$OUT/build.log"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

# ---- 1. the GPU, read-only -------------------------------------------------
cc=${GPU_CHECK_ASSUME_CC:-}
if [ -z "$cc" ] && command -v nvidia-smi >/dev/null 2>&1; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
fi
if [ -z "$cc" ] && command -v python3 >/dev/null 2>&1; then # no nvidia-smi: ask PyTorch
  cc=$(python3 -c 'import torch; m, n = torch.cuda.get_device_capability(0); print(f"{m}{n}")' 2>/dev/null)
fi
{
  echo "== date"; date -u
  echo "== git"; git describe --always --dirty 2>/dev/null || echo "unknown (no .git in this copy)"
  echo "== uname"; uname -a
  echo "== nvidia-smi -q"; nvidia-smi -q 2>&1 || echo "nvidia-smi not available"
  echo "== nvcc"; nvcc --version 2>&1 || echo "nvcc not found"
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== cc"; cc --version 2>&1 | head -1
  echo "== compute-sanitizer"; compute-sanitizer --version 2>&1 | tail -1
  echo "== python3 torch"; python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())' 2>&1
} >"$env" 2>&1
if ! [[ "$cc" =~ ^[0-9]+$ ]]; then
  note "gpu-check: no GPU: nvidia-smi and torch found no CUDA device here (details in $env)"
  exit 2
fi
gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
archs=$cc
[ "$cc" = 90 ] && archs="90;90a" # Hopper: also the sm_90a objects (wgmma kernels, HOPPER.md)

# ---- 2. configure and build ------------------------------------------------
cudnn_args=()
cudnn_note="system cuDNN"
if ! ls /usr/include/cudnn.h /usr/include/*/cudnn.h /usr/local/cuda/include/cudnn.h >/dev/null 2>&1; then
  wheel=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
  if [ -n "$wheel" ] && [ -f "$wheel/include/cudnn.h" ]; then
    lib=$(find "$wheel/lib" -name 'libcudnn.so*' | sort | head -1)
    cudnn_args=(-DCUDNN_INCLUDE_DIR="$wheel/include" -DCUDNN_LIBRARY="$lib")
    export LD_LIBRARY_PATH="$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" # its sub-libraries are dlopened
    cudnn_note="cuDNN from python3's wheel ($wheel)"
  fi
fi
# Build dependencies the machine lacks, from .gpu-deps/ (scripts/gpu-deps.sh, carried with the tree):
# unpacked into the build folder, .pc prefixes pointed there; nothing is installed system-wide.
deps_note="build dependencies: the machine's"
if ! pkg-config --exists jansson stb 2>/dev/null && ls "$ROOT"/.gpu-deps/*.deb >/dev/null 2>&1; then
  dep_root="$ROOT/$BUILD-deps"
  rm -rf "$dep_root" && mkdir -p "$dep_root"
  for d in "$ROOT"/.gpu-deps/*.deb; do
    pkg=$(basename "$d" | cut -d_ -f1)
    case $pkg in # OpenBLAS and zlib only when the machine has none
      libopenblas*|libgfortran5) pkg-config --exists openblas 2>/dev/null && continue ;;
      zlib1g-dev) [ -f /usr/include/zlib.h ] && continue ;;
    esac
    dpkg -x "$d" "$dep_root"
  done
  for pc in "$dep_root"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$dep_root"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed -i "s|^prefix=.*|prefix=$dep_root/usr|" "$pc"
  done
  export PKG_CONFIG_PATH="$dep_root/usr/lib/x86_64-linux-gnu/pkgconfig:$dep_root/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export CMAKE_PREFIX_PATH="$dep_root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$dep_root/usr/lib/x86_64-linux-gnu:$dep_root/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  deps_note="build dependencies: unpacked from .gpu-deps/ ($(ls "$ROOT"/.gpu-deps/*.deb | wc -l) packages offered)"
fi
mode=${GPU_CHECK_MODE:-full}
skip=" ${GPU_CHECK_SKIP:-} "
build_target=()
[[ $skip == *" tests "* && $skip == *" perf "* && $skip == *" sanitizer "* ]] && build_target=(--target loom)
configure() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLOOM_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$archs" \
    "${cudnn_args[@]}" "$@" >>"$blog" 2>&1
}
echo "== configure ($mode)" >>"$blog"
if [ "$mode" != full ] || ! configure -DLOOM_GPU_CHECK_ONLY=OFF; then
  mode=check-only
  echo "== full configure failed (dependencies missing?): LOOM_GPU_CHECK_ONLY=ON" >>"$blog"
  rm -rf "$BUILD"
  configure -DLOOM_GPU_CHECK_ONLY=ON || { note "gpu-check: configure failed (see build.log)"; tail -20 "$blog"; exit 3; }
fi
grep "loom:" "$blog" | sed 's/^-- //' >>"$summary"
t0=$(date +%s)
echo "== build" >>"$blog"
if ! cmake --build "$BUILD" -j "$JOBS" "${build_target[@]}" >>"$blog" 2>&1; then
  note "gpu-check: build failed (see build.log)"
  grep -E "error|Error" "$blog" | head -20
  exit 3
fi
build_s=$(($(date +%s) - t0))
test_bin=$(find "$BUILD" -name test_backend_ops -type f -perm -u+x | head -1)

# ---- 3. tests, sanitizers, perf ---------------------------------------------
if [[ $skip == *" tests "* ]]; then
  ctest_rc=skipped
  echo "ctest -L gpu: skipped (GPU_CHECK_SKIP)" >"$OUT/ctest.log"
else
  LOOM_BACKEND_OPS_CSV="$OUT/check.csv" ctest --test-dir "$BUILD" -L gpu --output-on-failure -V >"$OUT/ctest.log" 2>&1
  ctest_rc=$?
  if grep -q "SKIPPED" "$OUT/ctest.log" || grep -q "tests did not run" "$OUT/ctest.log"; then ctest_rc=77; fi
fi

# PyTorch's numbers on the same cases, and the CUDA noise check (rng.txt → summary)
torch_note="PyTorch reference: not run (python3 has no torch?)"
[[ $skip == *" torch "* ]] && torch_note="PyTorch reference: skipped (GPU_CHECK_SKIP)"
if [[ $skip != *" torch "* ]] && python3 -c 'import torch, numpy; assert torch.cuda.is_available()' 2>/dev/null; then
  if timeout 240 python3 "$ROOT/scripts/gpu_torch_ref.py" "$OUT" >>"$blog" 2>&1; then torch_rc=0; else torch_rc=$?; fi
  torch_note="PyTorch reference: exit $torch_rc (its log is at the end of build.log)"
  if [ -f "$OUT/rng.txt" ]; then
    rng_txt=$(cat "$OUT/rng.txt")
    rm -f "$OUT/rng.txt"
  fi
fi

san_log="$OUT/sanitizer.log"
: >"$san_log"
san() { # tool, timeout, test arguments…
  local tool=$1 limit=$2
  shift 2
  echo "== compute-sanitizer --tool $tool $* (limit ${limit}s)" >>"$san_log"
  timeout "$limit" compute-sanitizer --tool "$tool" --error-exitcode 99 "$test_bin" "$@" >>"$san_log" 2>&1
  local rc=$?
  echo "== exit $rc" >>"$san_log"
  case $rc in 0) echo clean ;; 99) echo ERRORS ;; 124) echo "timed out" ;; 1) echo "test failed" ;; *) echo "exit $rc" ;; esac
}
if [[ $skip == *" sanitizer "* ]]; then
  memcheck="skipped (GPU_CHECK_SKIP)" racecheck="$memcheck"
elif command -v compute-sanitizer >/dev/null 2>&1; then
  # --quick: one small case per op; the CPU reference and the GPU work stay short under instrumentation
  memcheck=$(san memcheck ${GPU_CHECK_MEMCHECK_S:-240} --quick)
  ad_bin=$(find "$BUILD" -name test_adapter_ops_gpu -type f -perm -u+x | head -1)
  if [ -n "$ad_bin" ]; then # the adapted ops, every fixture case (small)
    echo "== compute-sanitizer --tool memcheck $ad_bin" >>"$san_log"
    timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 "$ad_bin" >>"$san_log" 2>&1
    rc=$?
    echo "== exit $rc" >>"$san_log"
    [ $rc = 0 ] || memcheck="$memcheck; adapter ops: exit $rc"
  fi
  # shared memory: the vendor softmax, flash attention, GroupNorm's reductions
  # (loom's kernels only: the vendor attention is cuDNN's, whose runtime-compiled kernels are not ours to check)
  racecheck=$(san racecheck ${GPU_CHECK_RACECHECK_S:-90} --quick --table cuda attention attention_causal group_norm)
  # the runtime: a whole generation (CLIP, UNet steps recording then replaying the planned arena and
  # hitting the K/V cache, live adapters, VAE) under memcheck (full mode: needs the loom CLI)
  if [ -x "$BUILD/loom" ]; then
    san_demo="$BUILD/san-demo.safetensors"
    echo "== compute-sanitizer --tool memcheck loom generate (demo, 64x64, 3 steps, adapters)" >>"$san_log"
    if "$BUILD/loom" make-checkpoint --preset demo --seed 1 "$san_demo" >>"$san_log" 2>&1; then
      timeout ${GPU_CHECK_GEN_S:-180} compute-sanitizer --tool memcheck --error-exitcode 99 "$BUILD/loom" generate \
        -m "$san_demo" -W 64 -H 64 --steps 3 -s 1 --backend cuda --lora-model-dir "$ROOT/tests/fixtures/adapters_live" \
        -p "a cat <lora:locon:0.8> <lora:loha:0.6> <lora:lokr:0.7> <lora:dora:0.8>" -n blurry \
        -o "$BUILD/san-gen.png" >>"$san_log" 2>&1
      rc=$?
    else
      rc=1
    fi
    echo "== exit $rc" >>"$san_log"
    rm -f "$san_demo" "$BUILD/san-gen.png"
    [ $rc = 0 ] || memcheck="$memcheck; generation: exit $rc"
  fi
else
  memcheck="compute-sanitizer not found" racecheck="$memcheck"
fi

if [[ $skip == *" perf "* ]] || [ -z "$test_bin" ]; then
  echo "test_backend_ops perf: skipped (GPU_CHECK_SKIP)" >"$OUT/perf.log"
  perf_rc=0
else
  "$test_bin" perf --reps 30 --csv "$OUT/perf.csv" >"$OUT/perf.log" 2>&1
  perf_rc=$?
fi

# loom bench: the UNet step of a random-weights SD1.5 (own vs vendor kernels), and live adapters'
# overhead on the demo model with the adapter fixture (full mode only: it needs the loom CLI)
bench_txt="loom bench: not run (mode $mode: no loom CLI)"
loom_bin="$BUILD/loom"
[[ $skip == *" bench "* ]] && bench_txt="loom bench: skipped (GPU_CHECK_SKIP)"
if [ -x "$loom_bin" ] && [[ $skip != *" bench "* ]]; then
  ckpt="$BUILD/sd15-random.safetensors" demo="$BUILD/demo.safetensors"
  {
    echo "== loom bench"
    "$loom_bin" make-checkpoint --preset sd15 --seed 1 "$ckpt" &&
      timeout 300 "$loom_bin" bench -m "$ckpt" -W 512 -H 512 --batch 2 --reps 10 --rounds 2 --ops
    echo "== exit $?"
    timeout 200 "$loom_bin" bench -m "$ckpt" -W 512 -H 512 --batch 2 --reps 10 --dtype bf16
    echo "== exit $?"
    "$loom_bin" make-checkpoint --preset demo --seed 1 "$demo" &&
      timeout 120 "$loom_bin" bench -m "$demo" -W 512 -H 512 --batch 2 --reps 10 \
        --lora-model-dir "$ROOT/tests/fixtures/adapters_live" --lora locon --lora loha:0.5 --lora lokr --lora dora
    echo "== exit $?"
  } >"$BUILD/bench.log" 2>&1
  cat "$BUILD/bench.log" >>"$OUT/perf.log"
  if grep "^== exit" "$BUILD/bench.log" | grep -qv "== exit 0$"; then perf_rc=1; fi
  bench_txt=$(grep -v "^== " "$BUILD/bench.log" | grep -E "^loom bench|^kernels|^own|^vendor|^sum of ops|^memory|error|failed")
  rm -f "$ckpt" "$demo"
fi

# ---- 4. summary: markdown file, short table last on stdout ---------------
status=0
[ "$ctest_rc" = 0 ] || status=1 # skipped tests are not a pass
[ "$memcheck" = clean ] || [[ $skip == *" sanitizer "* ]] || status=1
[ "$perf_rc" = 0 ] || status=1
{
  echo
  echo "GPU: $gpu_name (sm_$cc); built for $archs in ${build_s}s, mode $mode, $cudnn_note"
  [ "$mode" = check-only ] && grep -q "naive GEMM" "$blog" &&
    echo "NOTE: no OpenBLAS here: the CPU reference ran on the naive GEMM (tests/ops/gpu_check_only)"
  case $ctest_rc in 0) verdict=passed ;; 77) verdict=SKIPPED ;; skipped) verdict="skipped (GPU_CHECK_SKIP)" ;; *) verdict=FAILED ;; esac
  echo "ctest -L gpu: $verdict"
  grep -m1 "SKIPPED:" "$OUT/ctest.log"
  echo "memcheck: $memcheck; racecheck (own attention, GroupNorm): $racecheck; perf: exit $perf_rc"
  echo "$torch_note; $deps_note"
  [ -n "${rng_txt:-}" ] && { echo; echo "torch.randn(device='cuda') vs loom's noise fixture generator:"; echo "$rng_txt"; }
  echo
  echo "$bench_txt"
  echo
  echo "ratio = loom's rel L2 / PyTorch fp16's on the same case (issue 5: at most 2); torch ms = PyTorch fp16 (cuBLAS/cuDNN/SDPA)"
  echo
  echo "| table | op | shape | rel L2 | % of tol | ratio | check | ms (median) | TFLOP/s | torch ms |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  # join check.csv and perf.csv on (table, op, shape); fields are quoted where they hold commas
  python3 - "$OUT/check.csv" "$OUT/perf.csv" "$OUT/torch.csv" <<'EOF' 2>/dev/null || echo "(no CSV results: see ctest.log and perf.log)"
import csv, sys
def load(p):
    try:
        with open(p) as f:
            # bf16 rows (test_backend_ops --dtype) as their own table, "cuda/bf16"; f16 rows keep the bare name
            return {(r["table"] + ("/" + r["dtype"] if r.get("dtype", "f16") not in ("", "f16") else ""), r["op"],
                     r["shape"]): r for r in csv.DictReader(f)}
    except OSError:
        return {}
chk, prf = load(sys.argv[1]), load(sys.argv[2])
tor = {(k[1], k[2]): r for k, r in load(sys.argv[3]).items()}
if not chk and not prf:
    print("| - | - | no results: see ctest.log and perf.log | - | - | - | - | - | - | - |")
for key in list(chk) + [k for k in prf if k not in chk]:
    c, p = chk.get(key), prf.get(key)
    rel = f'{float(c["rel_l2"]):.2e}' if c else "-"
    pct = f'{100 * float(c["rel_l2"]) / float(c["tol"]):.0f}%' if c and float(c["tol"]) > 0 else "-"
    res = c["result"] if c else "-"
    ms = f'{float(p["ms"]):.4f}' if p else "-"
    tf = f'{float(p["tflops"]):.1f}' if p else "-"
    t = tor.get((key[1], key[2]))
    ratio = f'{float(c["rel_l2"]) / float(t["torch_rel_l2"]):.2f}' if c and t and "/" not in key[0] else "-"  # torch: fp16
    tms = f'{float(t["torch_ms"]):.4f}' if t else "-"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {rel} | {pct} | {ratio} | {res} | {ms} | {tf} | {tms} |")
EOF
} >>"$summary"
overall=FAIL
[ $status = 0 ] && overall=PASS
[ "$ctest_rc" = skipped ] && overall="INCOMPLETE (tests skipped: a timing probe, not a check)"
echo "gpu-check: results in $OUT ($(find "$OUT" -type f | wc -l) files); overall: $overall" >>"$summary"
cat "$summary"
exit $status
