#!/usr/bin/env python3
"""loom's fixture generator: writes the reference data under tests/fixtures/.

Run by developers (never in CI), with the venv that has torch, diffusers,
safetensors:

    /work/venv/bin/python scripts/gen_fixtures.py            # everything
    /work/venv/bin/python scripts/gen_fixtures.py ops        # tests/fixtures/ops only
    /work/venv/bin/python scripts/gen_fixtures.py ops conv2d attention   # some op files
    /work/venv/bin/python scripts/gen_fixtures.py safetensors   # runs gen_fixtures_safetensors.py
    /work/venv/bin/python scripts/gen_fixtures.py --list
    LOOM_BIN=build/loom /work/venv/bin/python scripts/gen_fixtures.py adapters_live   # areas that run loom

The op fixtures are generated in-process (fixtures_ops.py); every other
area has its own scripts/gen_fixtures_<area>.py, run here as a subprocess
so each stays independent.
"""
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")


def other_generators():
    """{area: path} for scripts/gen_fixtures_<area>.py."""
    found = {}
    for p in sorted(glob.glob(os.path.join(HERE, "gen_fixtures_*.py"))):
        found[os.path.basename(p)[len("gen_fixtures_"):-3]] = p
    return found


def run_ops(only):
    sys.path.insert(0, HERE)
    import fixtures_ops

    unknown = [o for o in only if o not in fixtures_ops.GENERATORS and o != "dtype_conv"]
    if unknown:
        sys.exit("gen_fixtures.py: unknown op(s) %s; ops are: %s dtype_conv"
                 % (", ".join(unknown), " ".join(fixtures_ops.GENERATORS)))
    fixtures_ops.generate(os.path.join(FIXTURES, "ops"), only or None)


# Areas whose generator runs loom (its make-checkpoint writes their model): they get the path of the
# built executable, $LOOM_BIN or build/loom.
NEEDS_LOOM = {"golden_pipeline", "adapters_live"}


def run_script(area, path):
    cmd = [sys.executable, path]
    if area in NEEDS_LOOM:
        loom = os.environ.get("LOOM_BIN") or os.path.join(HERE, "..", "build", "loom")
        if not os.access(loom, os.X_OK):
            sys.exit("gen_fixtures.py: %s needs a built loom: %s is not executable (set LOOM_BIN)" % (area, loom))
        cmd.append(os.path.abspath(loom))
    r = subprocess.run(cmd)
    if r.returncode != 0:
        sys.exit("gen_fixtures.py: %s failed with exit code %d" % (os.path.relpath(path), r.returncode))


def main(argv):
    others = other_generators()
    if argv and argv[0] == "--list":
        print("ops " + " ".join(others))
        return
    areas = argv[:1] or ["ops"] + list(others)
    if areas[0] != "ops" and areas[0] not in others:
        sys.exit("gen_fixtures.py: unknown area '%s'; areas are: ops %s" % (areas[0], " ".join(others)))
    for area in areas:
        t0 = time.time()
        print("== %s ==" % area, flush=True)
        if area == "ops":
            run_ops(argv[1:])
        else:
            run_script(area, others[area])
        print("== %s: %.1f s ==" % (area, time.time() - t0), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
