#!/usr/bin/env python3
"""Fixtures for loom's seed-compatible noise (host/sample/rng*.c, addons.md §7).

Writes tests/fixtures/rng/rng_cases.json with the expected float32 bit
patterns of:

  cpu    torch.randn on the CPU, from real torch (a worker subprocess per
         CPU-capability setting): ATEN_CPU_CAPABILITY=avx2 gives the
         avx_mathfun kernel every x86-64 AVX2/AVX-512 machine runs (loom's
         "avx2" math), =default gives the portable kernel with the C library's
         logf/cosf/sinf (loom's "libm" math). Many seeds, sizes around the
         16-element threshold, tails, SD latent shapes, and several draws from
         one generator (the cached second normal and the mt19937 stream carry
         over between calls).
  cuda   A1111's "NV" generator (modules/rng_philox.py): Philox4x32-10 with
         counter (call, 0, element, 0), key (lo32, hi32 of the seed), the sine
         output of a float64 Box–Muller rounded to float32, one counter step
         per call (§7.3). Re-implemented here with numpy from the spec's
         description, NOT copied from A1111. Also torch's CUDA launch layout
         for a given thread capacity S (§7.2 steps 1–4) with the same
         Box–Muller, for draws larger than S.
  noise  the per-job semantics: A1111 per-image generators seeded seed+i
         with ENSD (§7.1), ComfyUI's single batch draw and its step-noise
         generator (§7.5).
  spec   the published values of §7.7, checked here against the references
         above before being written.

torch's CPU generator cannot emulate the CUDA one (torch.Generator('cpu') is
mt19937 only), and this machine has no GPU, so the real
torch.randn(device='cuda') comparison is a GPU-machine task (see the report /
tests/rng/test_rng.c header).

Large draws are stored as a checksum of all bits plus the bits at ~56
positions (always including the first 8 and the last 24, which hold the tail
window); draws of up to 64 elements are stored in full. Checksum (also in
test_rng.c): sum over i of mix64((i << 32) | bits[i]) mod 2^64, where mix64
is the SplitMix64 output function.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_rng.py
"""
import json
import os
import random
import subprocess
import sys

import numpy as np

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "rng",
                                   "rng_cases.json"))
FULL_MAX = 64

SEEDS = [0, 1, 42, 2**31 - 1, 2**32 + 5, 2**63 - 1, 2**64 - 1]
_r = random.Random(20240607)
SEEDS += [_r.randrange(2**32) for _ in range(3)] + [_r.randrange(2**64) for _ in range(2)]

CPU_SHAPES = [[1], [2], [7], [15], [16], [17], [31], [32], [33], [47], [100], [1, 4, 13, 17], [4, 64, 64],
              [4, 96, 64]]
# several draws from one generator; each inner list is one randn call's shape
SEQUENCES = [
    [[4, 64, 64], [5], [4, 64, 64]],
    [[5], [3], [2]],              # the cached second normal crosses calls
    [[3], [20], [1]],             # ... and survives a block-path call
    [[1], [1], [1], [16], [1]],
    [[17], [17], [4, 8, 8]],
]
SEQ_SEEDS = [0, 42, 2**32 + 5, 3141592653]
LIBM_SEEDS = [0, 42, 2**32 + 5]
LIBM_SHAPES = [[16], [17], [33], [100], [1, 4, 13, 17], [4, 64, 64]]

NV_SHAPES = [[1], [7], [16], [17], [33], [1, 4, 13, 17], [4, 64, 64], [4, 96, 64], [4, 128, 128]]
# torch CUDA layout: (S, draws); S = thread capacity of a GPU (§7.2 item 8)
LAYOUTS = [
    (40960, [[4, 128, 128]]),           # T4, SDXL latent: n > S
    (256, [[2000], [100], [2000]]),     # 1 block: several counter steps per thread, offsets 8, 4, 8
    (512, [[300], [1025], [4096], [7]]),
    (270336, [[4, 64, 64], [4, 128, 128]]),  # H100: n <= S, same as NV
]

# addons.md §7.7 (published torch outputs); tol = half a unit of the last
# printed digit, plus 5e-7 for NV (A1111's docstring shows GPU-rounded values)
SPEC = [
    ("cuda", 0, 12, [-0.924662, -0.425344, -2.643846, 0.145184, -0.120866, -0.579726, -0.622851, -0.328387,
                     -1.074542, -0.363144, -1.671050, 2.265505], 1e-6),
    ("cuda", 42, 4, [0.194019, 2.161374, -0.172051, 0.849060], 1e-6),
    ("cpu", 0, 12, [1.5410, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986, 0.4033, 0.8380, -0.7193, -0.4033,
                    -0.5966, 0.1820], 5.1e-5),
    ("cpu", 42, 4, [0.3367, 0.1288, 0.2345, 0.2303], 5.1e-5),
    ("cpu", 0, 16, [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.6920, -0.3160, -2.1152, 0.3223, -1.2633,
                    0.3500, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473], 5.1e-5),
    ("cpu", 0, 20, [-1.1258, -1.1524, -0.2506, -0.4339, 0.5988, -1.5551, -0.3414, 1.8530, 0.4681, -0.1577,
                    1.4437, 0.2660, 1.3894, 1.5863, 0.9463, -0.8437, 0.9318, 1.2590, 2.0050, 0.0537], 5.1e-5),
]

M64 = (1 << 64) - 1


# ---------------------------------------------------------------- encoding

def mix64(z):
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def bits_hash(bits):
    i = np.arange(bits.size, dtype=np.uint64)
    z = (i << np.uint64(32)) | bits.astype(np.uint64)
    with np.errstate(over="ignore"):
        return int(np.sum(mix64(z), dtype=np.uint64))


def record(vals, shape):
    vals = np.ascontiguousarray(vals, dtype=np.float32).reshape(-1)
    bits = vals.view(np.uint32)
    n = bits.size
    rec = {"n": n, "shape": list(shape)}
    if n <= FULL_MAX:
        rec["bits"] = [int(b) for b in bits]
        return rec
    pos = set(range(8)) | set(range(n - 24, n))
    pos |= set(int(p) for p in np.random.default_rng(n).choice(n, 24, replace=False))
    idx = sorted(pos)
    rec["hash"] = "%016x" % bits_hash(bits)
    rec["idx"] = idx
    rec["bits"] = [int(bits[i]) for i in idx]
    return rec


def numel(shape):
    return int(np.prod(shape, dtype=np.int64))


# ---------------------------------------------------------------- torch CPU (worker)

def torch_worker(cap):
    import torch
    want = {"avx2": "AVX2", "default": "DEFAULT"}[cap]
    got = torch.backends.cpu.get_cpu_capability()
    assert got == want, f"ATEN_CPU_CAPABILITY={cap} gave {got}: this machine cannot produce these fixtures"

    def draws(seed, shapes):
        g = torch.Generator().manual_seed(seed)
        return [record(torch.randn(s, generator=g, dtype=torch.float32).numpy(), s) for s in shapes]

    out = {"torch": torch.__version__, "capability": got, "single": [], "seq": [], "noise": []}
    if cap == "avx2":
        for seed in SEEDS:
            for s in CPU_SHAPES:
                out["single"].append({"seed": seed, "draws": draws(seed, [s])})
        for seed in SEQ_SEEDS:
            for seq in SEQUENCES:
                out["seq"].append({"seed": seed, "draws": draws(seed, seq)})
        out["noise"] = torch_noise_cases(torch)
    else:
        for seed in LIBM_SEEDS:
            for s in LIBM_SHAPES:
                out["single"].append({"seed": seed, "draws": draws(seed, [s])})
            out["seq"].append({"seed": seed, "draws": draws(seed, SEQUENCES[0])})
    return out


def torch_noise_cases(torch):
    """A1111 'CPU' and ComfyUI semantics, with real torch generators."""
    cases = []
    for seed, batch, shape, ensd in [(1000, 3, [4, 8, 6], 0), (1000, 3, [4, 8, 6], 31337), (7, 2, [4, 5, 3], 0)]:
        # A1111 ImageRNG: a generator per image seeded seed+i; first() draws the
        # initial noise, then (ENSD) re-creates them at seed+i+ENSD; next() continues
        gens = [torch.Generator().manual_seed(seed + i) for i in range(batch)]
        calls = [torch.stack([torch.randn(shape, generator=g) for g in gens])]
        if ensd:
            gens = [torch.Generator().manual_seed(seed + i + ensd) for i in range(batch)]
        for _ in range(2):
            calls.append(torch.stack([torch.randn(shape, generator=g) for g in gens]))
        cases.append(noise_case("cpu", "a1111", seed, batch, shape, ensd, calls))
    for seed, batch, shape in [(77, 3, [4, 8, 6]), (5, 1, [4, 5, 3])]:
        # ComfyUI: prepare_noise = torch.manual_seed(seed) + one randn of the
        # batch; default_noise_sampler on the CPU: a generator seeded seed+1
        g0 = torch.manual_seed(seed)
        calls = [torch.randn([batch] + shape, generator=g0)]
        g1 = torch.Generator().manual_seed(seed + 1)
        calls += [torch.randn([batch] + shape, generator=g1) for _ in range(2)]
        cases.append(noise_case("cpu", "comfy", seed, batch, shape, 0, calls))
        # the ComfyUI-with-cuda-steps case needs this initial draw too
        cases.append({"comfy_initial": True, "seed": seed, "batch": batch, "shape": shape,
                      "record": record(calls[0].numpy(), [batch] + shape)})
    return cases


def noise_case(kind, mode, seed, batch, shape, ensd, calls):
    return {"name": f"{mode} {kind} seed {seed} batch {batch} {shape} ensd {ensd}", "kind": kind, "mode": mode,
            "seed": str(seed), "batch": batch, "numel": numel(shape), "ensd": ensd,
            "calls": [record(np.asarray(c, dtype=np.float32), [batch] + list(shape)) for c in calls]}


def run_worker(cap):
    env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", cap], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


# ---------------------------------------------------------------- Philox (numpy, from §7.2/§7.3)

PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)


def philox4x32_10(c, key):
    """c: four uint32 arrays (counter words 0..3); key: (k0, k1) ints. Ten
    rounds; the key is bumped by the Weyl constants between rounds."""
    c = [np.asarray(w, dtype=np.uint32) for w in c]
    k0, k1 = key
    for rnd in range(10):
        if rnd:
            k0 = (k0 + PHILOX_W[0]) & 0xFFFFFFFF
            k1 = (k1 + PHILOX_W[1]) & 0xFFFFFFFF
        p0 = c[0].astype(np.uint64) * np.uint64(PHILOX_M[0])  # < 2^64: no wrap
        p1 = c[2].astype(np.uint64) * np.uint64(PHILOX_M[1])
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        c = [hi1 ^ c[1] ^ np.uint32(k0), lo1, hi0 ^ c[3] ^ np.uint32(k1), lo0]
    return c


K = np.float64(np.float32(2.3283064e-10))               # 2^-32 as CURAND's float constant
K2PI = np.float64(np.float32(2.3283064e-10 * 6.2831855))  # 2π·2^-32, likewise


def box_muller(x, y):
    """(sin, cos) outputs as float32; uniforms and the transform in float64,
    as A1111's numpy code evaluates it (§7.3)."""
    u = x.astype(np.float64) * K + K / 2
    v = y.astype(np.float64) * K2PI + K2PI / 2
    r = np.sqrt(-2.0 * np.log(u))
    return (r * np.sin(v)).astype(np.float32), (r * np.cos(v)).astype(np.float32)


class NV:
    """A1111's NV generator; with threads=S, torch's CUDA layout instead."""

    def __init__(self, seed, threads=0):
        self.key = (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
        self.offset = 0  # in 32-bit outputs, as torch counts it
        self.threads = threads

    def randn(self, n):
        if self.threads == 0:
            block = self.offset // 4
            self.offset += 4
            i = np.arange(n, dtype=np.uint64)
            w = philox4x32_10([np.full(n, block & 0xFFFFFFFF), np.full(n, block >> 32),
                               (i & np.uint64(0xFFFFFFFF)), (i >> np.uint64(32))], self.key)
            return box_muller(w[0], w[1])[0]
        if n == 0:
            return np.zeros(0, np.float32)
        threads = min(self.threads, (n + 255) // 256 * 256)
        inc = ((n - 1) // (threads * 4) + 1) * 4
        block0 = self.offset // 4
        self.offset += inc
        out = np.zeros(n, np.float32)
        t = np.arange(threads, dtype=np.uint64)
        for k in range(inc // 4):
            b = block0 + k
            w = philox4x32_10([np.full(threads, b & 0xFFFFFFFF), np.full(threads, b >> 32),
                               t & np.uint64(0xFFFFFFFF), t >> np.uint64(32)], self.key)
            s01, c01 = box_muller(w[0], w[1])
            s23, c23 = box_muller(w[2], w[3])
            for comp, vals in enumerate((s01, c01, s23, c23)):
                e = t.astype(np.int64) + k * 4 * threads + comp * threads
                keep = e < n
                out[e[keep]] = vals[keep]
        return out


def nv_cases():
    cases = []
    for seed in SEEDS:
        for s in NV_SHAPES:
            g = NV(seed)
            cases.append(case("cuda", seed, [record(g.randn(numel(s)), s)]))
    for seed in SEQ_SEEDS:
        g = NV(seed)
        cases.append(case("cuda", seed, [record(g.randn(numel(s)), s) for s in SEQUENCES[0]]))
    for threads, shapes in LAYOUTS:
        for seed in (0, 2**32 + 5):
            g = NV(seed, threads)
            cases.append(case("cuda", seed, [record(g.randn(numel(s)), s) for s in shapes], threads=threads))
    # the layout with S >= n is NV itself (§7.2 item 8)
    a, b = NV(9, 270336), NV(9)
    for n in (16384, 65536, 17):
        assert np.array_equal(a.randn(n).view(np.uint32), b.randn(n).view(np.uint32))
    return cases


def case(kind, seed, draws, math=None, threads=0):
    c = {"name": f"{kind}{'/' + math if math else ''}{'/S=%d' % threads if threads else ''} seed {seed} "
                 + " ".join(str(d["shape"]) for d in draws),
         "kind": kind, "seed": str(seed), "draws": draws}
    if math:
        c["math"] = math
    if threads:
        c["threads"] = threads
    return c


def nv_noise_cases(torch_noise):
    cases = []
    for seed, batch, shape, ensd in [(1000, 3, [4, 8, 6], 0), (1000, 3, [4, 8, 6], 31337)]:
        gens = [NV(seed + i) for i in range(batch)]
        calls = [np.stack([g.randn(numel(shape)) for g in gens])]
        if ensd:
            gens = [NV(seed + i + ensd) for i in range(batch)]
        for _ in range(2):
            calls.append(np.stack([g.randn(numel(shape)) for g in gens]))
        cases.append(noise_case("cuda", "a1111", seed, batch, shape, ensd, calls))
    # ComfyUI on a GPU: initial noise from the CPU generator (taken from torch),
    # step noise from the device generator seeded seed, one draw per batch
    for init in [c for c in torch_noise if c.get("comfy_initial")]:
        seed, batch, shape = init["seed"], init["batch"], init["shape"]
        g = NV(seed)
        calls = [g.randn(batch * numel(shape)) for _ in range(2)]
        c = noise_case("cuda", "comfy", seed, batch, shape, 0, calls)
        c["calls"].insert(0, init["record"])
        cases.append(c)
    return cases


# ---------------------------------------------------------------- checks and output

def check_spec(cpu_ref_values):
    spec = []
    for kind, seed, n, vals, tol in SPEC:
        got = NV(seed).randn(n) if kind == "cuda" else cpu_ref_values[(seed, n)]
        err = np.max(np.abs(np.asarray(got, np.float64) - np.asarray(vals)))
        assert err <= tol, f"spec vector {kind} seed {seed} n {n}: reference differs by {err}"
        spec.append({"name": f"addons.md §7.7 {kind} seed {seed} n {n}", "kind": kind, "seed": str(seed),
                     "values": vals, "tol": tol})
    return spec


def spec_cpu_values():
    """torch CPU values for the spec's CPU vectors (in the avx2 worker's process)."""
    import torch
    out = {}
    for kind, seed, n, _, _ in SPEC:
        if kind == "cpu":
            out[(seed, n)] = torch.randn(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return out


def main():
    avx2 = run_worker("avx2")
    libm = run_worker("default")
    cases = []
    for w, math in ((avx2, "avx2"), (libm, "libm")):
        for c in w["single"] + w["seq"]:
            cases.append(case("cpu", c["seed"], c["draws"], math=math))
    cases += nv_cases()
    noise = [c for c in avx2["noise"] if not c.get("comfy_initial")] + nv_noise_cases(avx2["noise"])
    spec = check_spec(spec_cpu_values())
    doc = {
        "generator": "scripts/gen_fixtures_rng.py",
        "torch": avx2["torch"], "numpy": np.__version__,
        "checksum": "sum_i mix64((i << 32) | bits[i]) mod 2^64, mix64 = SplitMix64 output function",
        "cases": cases, "noise": noise, "spec": spec,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: {len(cases)} cases, {len(noise)} noise cases, {len(spec)} spec vectors, "
          f"{os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-worker":
        json.dump(torch_worker(sys.argv[2]), sys.stdout)
    else:
        main()
