#!/usr/bin/env bash
# spill-check.sh — fails when a promoted CUDA kernel (kernels/cuda/, vendor
# glue included; not the kernels/dev/ lab files) spills registers to local
# memory, for any architecture the build targets (issue 5: "a script fails
# the build when a promoted kernel spills"). It recompiles each .cu with the
# build's own command (compile_commands.json) plus -Xptxas -v, so the flags
# and architecture list are exactly the build's, and reads ptxas's report:
#   ptxas info : Compiling entry function '_Z…' for 'sm_90'
#   ptxas info : Function properties for _Z…
#       0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
# A kernel's stack frame alone (no spills) is reported, not failed.
#
#   scripts/spill-check.sh [BUILD_DIR]      (default build; JOBS=n)
# Writes BUILD_DIR/spill-report.txt; exit 1 on a spill, 2 on a setup error.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${1:-build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
db="$BUILD/compile_commands.json"
[ -f "$db" ] || { echo "spill-check: $db not found (configure the build first)"; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
# one shell script per .cu: its compile command with the object sent to $tmp and -Xptxas -v added
python3 - "$db" "$tmp" "$(pwd)" <<'PY' || exit 2
import json, os, shlex, sys
db, tmp, root = sys.argv[1:4]
n = 0
for e in json.load(open(db)):
    f = os.path.realpath(e["file"])
    rel = os.path.relpath(f, root)
    if not rel.endswith(".cu") or not rel.startswith("kernels/cuda/"):
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    if "-o" in args:
        i = args.index("-o")
        args[i + 1] = os.path.join(tmp, f"obj{n}.o")
    args += ["-Xptxas", "-v"]
    with open(os.path.join(tmp, f"job{n}.sh"), "w") as out:
        out.write(f"cd {shlex.quote(e['directory'])} && {shlex.join(args)} > {tmp}/log{n}.txt 2>&1; "
                  f"echo $? > {tmp}/rc{n}.txt; echo {shlex.quote(rel)} > {tmp}/name{n}.txt\n")
    n += 1
if n == 0:
    sys.exit("spill-check: no kernels/cuda/*.cu in the compile database (LOOM_CUDA=OFF?)")
PY
ls "$tmp"/job*.sh | xargs -P "$JOBS" -n 1 bash
report="$BUILD/spill-report.txt"
python3 - "$tmp" >"$report" <<'PY'
import glob, os, re, subprocess, sys
tmp = sys.argv[1]
rows, bad, failed = [], 0, []
def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.split("\n")
        return dict(zip(names, out))
    except OSError:
        return {n: n for n in names}
for log in sorted(glob.glob(os.path.join(tmp, "log*.txt"))):
    k = log[len(os.path.join(tmp, "log")):-4]
    name = open(os.path.join(tmp, f"name{k}.txt")).read().strip()
    rc = open(os.path.join(tmp, f"rc{k}.txt")).read().strip()
    if rc != "0":
        failed.append(name)
        continue
    entry, arch, props = None, None, {}
    for line in open(log):
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\w+)'", line)
        if m:
            entry, arch = m.group(1), m.group(2)
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and entry:
            props.setdefault((entry, arch), {})["regs"] = int(m.group(1))
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and entry:
            p = props.setdefault((entry, arch), {})
            p.update(stack=int(m.group(1)), st=int(m.group(2)), ld=int(m.group(3)))
    for (e, a), p in props.items():
        rows.append((name, e, a, p))
names = demangle(sorted({r[1] for r in rows}))
print(f"{'file':34s} {'arch':7s} {'regs':>4s} {'stack':>5s} {'spill st/ld':>11s}  kernel")
for name, e, a, p in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
    spill = p.get("st", 0) + p.get("ld", 0)
    bad += spill > 0
    flag = "  SPILLS" if spill else ""
    print(f"{name:34s} {a:7s} {p.get('regs', 0):4d} {p.get('stack', 0):5d} {p.get('st', 0):5d}/{p.get('ld', 0):<5d}"
          f"  {names.get(e, e)[:110]}{flag}")
for f in failed:
    print(f"{f}: did not compile (see the build)")
print(f"spill-check: {len(rows)} kernel builds, {bad} spilling, {len(failed)} files failed")
sys.exit(1 if bad or failed else 0)
PY
rc=$?
tail -1 "$report"
[ $rc = 0 ] || grep -E "SPILLS|did not compile" "$report" | head -20
exit $rc
