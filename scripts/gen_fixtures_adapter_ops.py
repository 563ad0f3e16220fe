#!/usr/bin/env python3
"""gen_fixtures_adapter_ops.py — references for linear_adapted / conv2d_adapted (test_adapter_ops).

Run by developers only (never in CI):
    /work/venv/bin/python scripts/gen_fixtures_adapter_ops.py     (or: scripts/gen_fixtures.py adapter_ops)
Writes tests/fixtures/ops/adapter_ops.safetensors.

Each case is one module (a linear, or an NHWC conv) with a batch whose samples use different
adapter groups (or none, group -1), and every term kind of kernels/adapter_plan.h. The expected
output follows the semantics stated there, per sample i with group g:

    y = out_scale ⊙ (W ⊛ (in_scale ⊙ x)) + Σ_t scale_t · t.out_scale ⊙ (ΔW_t ⊛ (t.in_scale ⊙ x))
        + b + bias_add + residual

computed in float64 by PyTorch with each ΔW_t formed densely (LoRA up·down, LoHa's Hadamard
product, LoKr through torch.kron) and run through F.linear / F.conv2d on NCHW. Inputs are
rounded to f32 first and stored; the reference is rounded to f32.

Layouts stored (loom's, kernels/ops.h): x NHWC or [B, S, I]; W and every conv-shaped factor
OHWI; linear factors [out, in]. The torch side keeps PyTorch's OIHW and permutes on storing.

Tensors: "<case>/x", "/w", "/bias", "/residual" (optional), "/y" (expected);
"<case>/g<j>/{in_scale,out_scale,bias_add}" (optional); "<case>/g<j>/t<k>/{down,up,down2,up2,
in_scale,out_scale}" (as the kind needs). One __metadata__ key, "fixture", a JSON object:
  {"format": "loom-adapter-ops/1", "cases": [{"name", "op": "linear"|"conv2d",
   "conv": [stride_h, stride_w, pad_h, pad_w] (conv only), "group_of": [...],
   "groups": [{"terms": [{"kind": "lowrank"|"hada"|"kron"|"dense", "scale": f32}, ...]}, ...]}]}
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "ops", "adapter_ops.safetensors")
FORMAT = "loom-adapter-ops/1"

gen = torch.Generator().manual_seed(20240604)


def rnd(*shape, scale=1.0):
    """f32-rounded normal values, kept in float64 for the reference."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def f32(v):
    return float(np.float32(v))


def loom_layout(t):
    """PyTorch OIHW → loom OHWI for 4-D tensors; 2-D unchanged."""
    return t.permute(0, 2, 3, 1).contiguous() if t.dim() == 4 else t


class Module:
    def __init__(self, name, o, i, k=None, conv=None):
        self.name, self.o, self.i, self.k, self.conv = name, o, i, k, conv  # k: (kh, kw) for conv

    def kernel(self, n, c, scale, flat=False):
        """A factor that acts with the module's kernel: [n, c] (linear) or [n, c, kh, kw] (conv);
        `flat` stores a 1×1 conv factor as the 2-D [n, c] (same bytes, also accepted)."""
        if self.conv is None or flat:
            return rnd(n, c, scale=scale)
        return rnd(n, c, *self.k, scale=scale)

    def apply(self, w, x):
        """w ⊛ x with x [B, S, I] (linear) or NCHW, w [O, I] or OIHW."""
        if self.conv is None:
            return F.linear(x, w)
        if w.dim() == 2:
            w = w[:, :, None, None]
        sh, sw, ph, pw = self.conv
        return F.conv2d(x, w, stride=(sh, sw), padding=(ph, pw))

    def chan(self, v):
        """A per-channel vector broadcast over activations: last dim (linear) or dim 1 (NCHW)."""
        return v if self.conv is None else v[None, :, None, None]


def mm(up, down):
    """up [O, r] · down [r, c(, kh, kw)] → [O, c(, kh, kw)]."""
    return torch.einsum("or,r...->o...", up, down)


def make_term(m, kind, scale, rank=None, vectors=False, flat=False):
    """Factors (PyTorch layout), its dense ΔW and its record."""
    t = {"kind": kind, "scale": f32(scale)}
    fs = 1.0 / (m.i * (1 if m.k is None else m.k[0] * m.k[1])) ** 0.5
    if kind == "lowrank":
        t["down"], t["up"] = m.kernel(rank, m.i, fs, flat), rnd(m.o, rank, scale=rank ** -0.5)
        dw = mm(t["up"], t["down"])
    elif kind == "hada":
        r1, r2 = rank
        t["down"], t["up"] = m.kernel(r1, m.i, fs ** 0.5, flat), rnd(m.o, r1, scale=r1 ** -0.5)
        t["down2"], t["up2"] = m.kernel(r2, m.i, fs ** 0.5, flat), rnd(m.o, r2, scale=r2 ** -0.5)
        dw = mm(t["up"], t["down"]) * mm(t["up2"], t["down2"])
    elif kind == "kron":
        (a, c) = rank  # W1 [a, c], W2 [O/a, I/c (, kh, kw)]
        b, d = m.o // a, m.i // c
        t["down"] = rnd(a, c)
        t["up"] = m.kernel(b, d, fs, flat)
        w1 = t["down"] if t["up"].dim() == 2 else t["down"][:, :, None, None]
        dw = torch.kron(w1, t["up"])  # [a·b, c·d (, kh, kw)]: ΔW[o1·b+o2, i1·d+i2] = W1[o1,i1]·W2[o2,i2]
        assert dw.shape[:2] == (m.o, m.i)
    else:
        t["down"] = m.kernel(m.o, m.i, fs, flat)
        dw = t["down"]
    if vectors:
        t["in_scale"], t["out_scale"] = 1 + rnd(m.i, scale=0.3), 1 + rnd(m.o, scale=0.3)
    return t, dw


def make_group(m, specs, vectors=False):
    g = {"terms": [], "dw": []}
    if vectors:
        g["in_scale"], g["out_scale"] = 1 + rnd(m.i, scale=0.3), 1 + rnd(m.o, scale=0.3)
        g["bias_add"] = rnd(m.o, scale=0.5)
    for spec in specs:
        t, dw = make_term(m, *spec)
        g["terms"].append(t)
        g["dw"].append(dw)
    return g


def reference(m, x, w, bias, residual, groups, group_of):
    """Per sample, the plan's formula with dense ΔW (x in torch layout; a 2-D x is one sample)."""
    if x.dim() == 2:
        y = reference(m, x[None], w, bias, None if residual is None else residual[None], groups, group_of)
        return y[0]
    ys = []
    for i, gi in enumerate(group_of):
        xi = x[i:i + 1]
        if gi < 0:
            y = m.apply(w, xi)
        else:
            g = groups[gi]
            y = m.apply(w, xi * m.chan(g["in_scale"]) if "in_scale" in g else xi)
            if "out_scale" in g:
                y = y * m.chan(g["out_scale"])
            for t, dw in zip(g["terms"], g["dw"]):
                xt = xi * m.chan(t["in_scale"]) if "in_scale" in t else xi
                d = t["scale"] * m.apply(dw, xt)
                if "out_scale" in t:
                    d = d * m.chan(t["out_scale"])
                y = y + d
            if "bias_add" in g:
                y = y + m.chan(g["bias_add"])
        if bias is not None:
            y = y + m.chan(bias)
        ys.append(y)
    y = torch.cat(ys)
    return y + residual if residual is not None else y


def to_loom(m, t):
    """Activations: NCHW → NHWC for conv; factors: OIHW → OHWI."""
    return t.permute(0, 2, 3, 1).contiguous() if (m.conv is not None and t.dim() == 4) else t


def build_case(tensors, cases, m, x_shape, group_of, groups, bias=True, residual=True):
    name = m.name
    x = rnd(*x_shape)
    w = m.kernel(m.o, m.i, 1.0 / (m.i * (1 if m.k is None else m.k[0] * m.k[1])) ** 0.5)
    b = rnd(m.o, scale=0.5) if bias else None
    y0 = reference(m, x, w, b, None, groups, group_of)
    r = rnd(*y0.shape) if residual else None
    y = y0 + r if residual else y0
    # guard against a test that cannot fail: every group term must move the output visibly
    for gi, g in enumerate(groups):
        for t, dw in zip(g["terms"], g["dw"]):
            assert m.apply(dw, x).norm() > 0.05 * m.apply(w, x).norm(), (name, gi, t["kind"])

    st = lambda k, v: tensors.__setitem__("%s/%s" % (name, k), np.ascontiguousarray(v.float().numpy()))
    st("x", to_loom(m, x))
    st("w", loom_layout(w))
    st("y", to_loom(m, y))
    if b is not None:
        st("bias", b)
    if r is not None:
        st("residual", to_loom(m, r))
    rec = {"name": name, "op": "linear" if m.conv is None else "conv2d", "group_of": list(group_of), "groups": []}
    if m.conv is not None:
        rec["conv"] = list(m.conv)
    for j, g in enumerate(groups):
        for k in ("in_scale", "out_scale", "bias_add"):
            if k in g:
                st("g%d/%s" % (j, k), g[k])
        gr = {"terms": []}
        for n, t in enumerate(g["terms"]):
            for k in ("down", "up", "down2", "up2", "in_scale", "out_scale"):
                if k in t:
                    st("g%d/t%d/%s" % (j, n, k), loom_layout(t[k]))
            gr["terms"].append({"kind": t["kind"], "scale": t["scale"]})
        rec["groups"].append(gr)
    cases.append(rec)


def main():
    tensors, cases = {}, []

    # linear: x [B=3, S=5, I=24], W [20, 24]; group 0 carries every kind (HADA 2×3 takes the
    # Khatri–Rao path in loom, 4×4 the dense ΔW one: 16·(24+20) >= 24·20) and every vector
    m = Module("linear", 20, 24)
    g0 = make_group(m, [("lowrank", 0.8, 3, True), ("hada", -1.3, (2, 3)), ("kron", 0.6, (4, 6), True),
                        ("dense", 0.5)], vectors=True)
    g1 = make_group(m, [("lowrank", 1.7, 2), ("hada", 0.9, (4, 4), True)])
    build_case(tensors, cases, m, (3, 5, 24), [0, -1, 1], [g0, g1])

    # a 2-D x is one sample; no bias, no residual
    m = Module("linear_2d", 20, 24)
    g0 = make_group(m, [("lowrank", -0.7, 3), ("kron", 1.1, (5, 3))], vectors=True)
    build_case(tensors, cases, m, (5, 24), [0], [g0], bias=False, residual=False)

    # convs on NHWC x [3, 6, 5, 8], W OHWI [12, kh, kw, 8] (KR HADA 2×3: 6·(72+12) < 72·12)
    for name, k, conv in (("conv3x3", (3, 3), (1, 1, 1, 1)), ("conv3x3_s2", (3, 3), (2, 2, 1, 1)),
                          ("conv1x1", (1, 1), (1, 1, 0, 0))):
        m = Module(name, 12, 8, k, conv)
        g0 = make_group(m, [("lowrank", 0.9, 3, True), ("hada", 1.2, (2, 3)), ("kron", -0.8, (3, 2)),
                            ("dense", 0.4, None, True)], vectors=True)
        flat = k == (1, 1)  # group 1 of the 1×1 conv stores its factors 2-D
        g1 = make_group(m, [("lowrank", -1.1, 2, False, flat), ("hada", 0.7, (4, 3), True, flat),
                            ("kron", 0.5, (4, 4), False, flat)])
        build_case(tensors, cases, m, (3, 8, 6, 5), [1, -1, 0], [g0, g1])

    meta = {"format": FORMAT, "generator": "scripts/gen_fixtures_adapter_ops.py (torch %s)" % torch.__version__,
            "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(tensors, OUT, metadata={"fixture": json.dumps(meta, sort_keys=True)})
    print("%s: %d cases, %d tensors, %d bytes" % (os.path.relpath(OUT, ROOT), len(cases), len(tensors),
                                                 os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
