#!/usr/bin/env python3
"""gen_fixtures_plan.py — expected merged weights for the live-adapter plan builder (test_plan).

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_plan.py
Writes tests/fixtures/adapters/plan.safetensors and plan_cases.tsv.

Six SD1.5 modules (real kohya stems and checkpoint names from shared/specs/keymaps/sd15_modules.tsv)
get tiny random base weights: two text-encoder Linears (one square), a UNet Linear, a 1×1 conv and
two 3×3 convs. Small adapter files in kohya key form cover LoRA (2-D and 4-D 1×1 factors), LoCon
Tucker, LoHa (plain and Tucker), LoKr (whole, decomposed and Tucker W2, 2-D and 4-D), full with
diff_b, IA³ on either side, and DoRA on both axes (adapters.md §2). Each case is one adapter set: a
list of (adapter, te, unet multipliers) in prompt order. Its expected weights follow A1111's
sequential application (networks.py: network_apply_weights, adapters.md §3.5):

    W_k = W_{k-1} + m_k · (merge_k(W_{k-1}) − W_{k-1}),   b_k = b_{k-1} + m_k · diff_b

with m_k the text-encoder multiplier for lora_te_ modules and the UNet one otherwise (§3.3), and
merge_k the library's merged weight at multiplier 1, in float64:
  LoRA / LoCon   W + lycoris.functional.locon.diff_weight(down, up, mid, gamma=s)
  LoHa           W + lycoris.functional.loha.diff_weight(w1_b, w1_a, w2_b, w2_a, t1, t2, gamma=s)
                 (the scale applied once, §2.2)
  LoKr           W + lycoris.functional.lokr.kron_weight(w1, w1_a, w1_b, w2, w2_a, w2_b, t2, scale=s)
  full           W + diff (bias: b + diff_b)
  IA³            lycoris.modules.ia3._ia3_weight(W, w, on_input, 1, diff=False) = W ⊙ (1 + w)
  DoRA           lycoris.functional.general.weight_decompose(W + s·ΔW, g, 1, wd_on_out), the axis
                 by ComfyUI's rule wd_on_out = (g.shape[0] == O) (§2.9); LyCORIS' norm epsilon is
                 float64's, 2e-16, far below the test's tolerance. The multiplier enters outside,
                 as A1111's W + m(g⊙V/‖V‖ − W) (§2.9 table).
s is the §3.1 scale (alpha / rank, rank as A1111 reads it; 1 without alpha).

Fixture tensors (PyTorch layouts):
  base/<checkpoint weight>       W0, f32
  adapter/<name>/<kohya key>     the adapter files' tensors (f32; lora2 in f16)
  expect/<case>/<kohya stem>     W_final − W0, f32, for every module and case
  bias/<case>/<kohya stem>       the bias change, for (case, module) pairs with a diff_b
plan_cases.tsv: case <TAB> adapter:te:unet[,adapter:te:unet ...]
"""
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_keymap_tables import read_tsv  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "adapters")
KEYMAPS = os.path.join(os.path.dirname(ROOT), "shared", "specs", "keymaps")

TE_FC1 = "lora_te_text_model_encoder_layers_0_mlp_fc1"
TE_Q = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
UNET_Q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
PROJ_IN = "lora_unet_down_blocks_0_attentions_0_proj_in"
CONV1 = "lora_unet_down_blocks_0_resnets_0_conv1"
CONV2 = "lora_unet_down_blocks_0_resnets_0_conv2"
SHAPES = {TE_FC1: (12, 8), TE_Q: (8, 8), UNET_Q: (6, 10), PROJ_IN: (6, 6, 1, 1), CONV1: (6, 4, 3, 3),
          CONV2: (6, 6, 3, 3)}

CASES = [
    ("lora", [("lora", 0.7, -1.0)]),
    ("lora2", [("lora2", 1.0, 0.6)]),
    ("locon_tucker", [("locon_tucker", 1.0, 0.6)]),
    ("loha", [("loha", -0.5, 0.8)]),
    ("lokr", [("lokr", 1.3, 0.45)]),
    ("full", [("full", 0.7, -1.0)]),
    ("ia3_out", [("ia3_out", 0.6, -0.4)]),
    ("ia3_in", [("ia3_in", -0.3, 0.9)]),
    ("dora_out", [("dora_out", 0.8, 0.7)]),
    ("dora_in", [("dora_in", 0.6, -0.5)]),
    ("lokr_dora", [("lokr_dora", 1.0, 0.75)]),
    ("loha_dora", [("loha_dora", 0.9, -0.6)]),
    ("stack_lora_ia3_dora", [("lora", 0.8, 0.6), ("ia3_out", 0.5, 0.7), ("dora_out", 0.9, 1.3)]),
    ("stack_dora_lora_ia3", [("dora_out", 0.9, 1.3), ("lora", 0.8, 0.6), ("ia3_in", 0.5, 0.7)]),
    ("stack_full_ia3_dora_loha", [("full", 1.0, 0.5), ("ia3_out", 0.7, 0.6), ("dora_in", 1.1, 0.8),
                                  ("loha", 0.4, 0.3)]),
    ("stack_two_dora", [("dora_in", 0.7, 0.9), ("lokr_dora", 1.0, 1.0), ("ia3_in", 0.5, 0.5),
                        ("dora_out", 0.6, 1.2), ("lora2", -0.4, 0.3)]),
    ("zero", [("lora", 0.0, 0.0)]),
    ("te_only", [("lora", 0.9, 0.0), ("dora_out", 0.0, 0.5), ("ia3_in", 0.0, 0.0)]),
    ("same_twice", [("lora", 0.5, 0.5), ("lora", 0.25, -1.0)]),
]


def rnd(*shape, s=0.4):
    return torch.randn(*shape, dtype=torch.float64) * s


def lora_factors(stem, rank, two_d_1x1=False):
    o, i, *k = SHAPES[stem]
    if not k:
        return {"lora_down.weight": rnd(rank, i), "lora_up.weight": rnd(o, rank)}
    down = rnd(rank, i, *k)
    if two_d_1x1 and k == [1, 1]:
        down = down.reshape(rank, i)
    return {"lora_down.weight": down, "lora_up.weight": rnd(o, rank, 1, 1)}


def loha_factors(stem, rank, tucker=False):
    o, i, *k = SHAPES[stem]
    if tucker:  # §2.2: t [r, r, kh, kw], w_a [r, O] (transposed), w_b [r, I]
        return {"hada_t1": rnd(rank, rank, *k), "hada_w1_a": rnd(rank, o), "hada_w1_b": rnd(rank, i),
                "hada_t2": rnd(rank, rank, *k), "hada_w2_a": rnd(rank, o), "hada_w2_b": rnd(rank, i)}
    # conv w_b as [r, I, kh, kw]: LyCORIS itself saves [r, I·kh·kw], which adapters/adapter_check.c
    # does not accept yet (reported); the two hold the same values in the same order
    return {"hada_w1_a": rnd(o, rank), "hada_w1_b": rnd(rank, i, *k), "hada_w2_a": rnd(o, rank),
            "hada_w2_b": rnd(rank, i, *k)}


def base_weights():
    return {stem: rnd(*shape, s=0.5) for stem, shape in SHAPES.items()}


def dora_scale(w0, axis_out, shape):
    """g near the base's norms on that axis, in the stored shape."""
    o, i = w0.shape[0], w0.shape[1]
    if axis_out:
        n = w0.reshape(o, -1).norm(dim=1)
    else:
        n = w0.transpose(0, 1).reshape(i, -1).norm(dim=1)
    return (n * (0.8 + 0.4 * torch.rand(n.shape, dtype=torch.float64))).reshape(shape)


def adapters(w0):
    a = {}
    m = {}
    for stem in SHAPES:
        m[stem] = dict(lora_factors(stem, 3, two_d_1x1=True), alpha=torch.tensor(2.0))
    a["lora"] = m
    a["lora2"] = {s: lora_factors(s, 2) for s in (TE_FC1, UNET_Q, PROJ_IN, CONV2)}  # no alpha: s = 1
    a["locon_tucker"] = {}
    for s in (CONV1, CONV2):
        o, i, kh, kw = SHAPES[s]
        a["locon_tucker"][s] = {"lora_down.weight": rnd(2, i, 1, 1), "lora_mid.weight": rnd(2, 2, kh, kw),
                                "lora_up.weight": rnd(o, 2, 1, 1), "alpha": torch.tensor(1.0)}
    a["loha"] = {s: dict(loha_factors(s, 2, tucker=(s == CONV1)), alpha=torch.tensor(1.0))
                 for s in (TE_FC1, UNET_Q, PROJ_IN, CONV1, CONV2)}
    a["lokr"] = {
        TE_FC1: {"lokr_w1": rnd(3, 2), "lokr_w2_a": rnd(4, 2), "lokr_w2_b": rnd(2, 4), "alpha": torch.tensor(1.0)},
        UNET_Q: {"lokr_w1_a": rnd(2, 1), "lokr_w1_b": rnd(1, 2), "lokr_w2": rnd(3, 5), "alpha": torch.tensor(0.8)},
        CONV1: {"lokr_w1": rnd(2, 2), "lokr_t2": rnd(2, 2, 3, 3), "lokr_w2_a": rnd(2, 3), "lokr_w2_b": rnd(2, 2),
                "alpha": torch.tensor(1.0)},
        CONV2: {"lokr_w1": rnd(2, 3), "lokr_w2_a": rnd(3, 2), "lokr_w2_b": rnd(2, 2, 3, 3),
                "alpha": torch.tensor(1.0)},
        PROJ_IN: {"lokr_w1": rnd(3, 2), "lokr_w2": rnd(2, 3, 1, 1)},
    }
    a["full"] = {UNET_Q: {"diff": rnd(6, 10), "diff_b": rnd(6)}, CONV1: {"diff": rnd(6, 4, 3, 3), "diff_b": rnd(6)},
                 TE_FC1: {"diff": rnd(12, 8)}}
    a["ia3_out"] = {TE_FC1: {"weight": rnd(12), "on_input": torch.tensor(0)},
                    UNET_Q: {"weight": rnd(6), "on_input": torch.tensor(0)},
                    CONV1: {"weight": rnd(1, 6, 1, 1), "on_input": torch.tensor(0)}}
    a["ia3_in"] = {TE_FC1: {"weight": rnd(8), "on_input": torch.tensor(1)},
                   TE_Q: {"weight": rnd(8), "on_input": torch.tensor(1)},
                   CONV2: {"weight": rnd(1, 6, 1, 1), "on_input": torch.tensor(1)}}
    # DoRA: [O, 1] / [O, 1, 1, 1] and PEFT's [O] on the output axis; [1, I] / [1, I, 1, 1] on the input axis
    a["dora_out"] = {s: dict(lora_factors(s, 2), alpha=torch.tensor(1.0), dora_scale=dora_scale(w0[s], True, shp))
                     for s, shp in ((TE_FC1, (12, 1)), (UNET_Q, (6, 1)), (CONV1, (6, 1, 1, 1)), (TE_Q, (8,)))}
    a["dora_in"] = {s: dict(lora_factors(s, 2), alpha=torch.tensor(1.0), dora_scale=dora_scale(w0[s], False, shp))
                    for s, shp in ((TE_FC1, (1, 8)), (TE_Q, (1, 8)), (CONV1, (1, 4, 1, 1)), (PROJ_IN, (1, 6, 1, 1)))}
    a["lokr_dora"] = {
        UNET_Q: {"lokr_w1": rnd(2, 2), "lokr_w2": rnd(3, 5), "dora_scale": dora_scale(w0[UNET_Q], True, (6, 1))},
        # O = I = 6 and shape[0] = 1: the input axis by ComfyUI's rule
        CONV2: {"lokr_w1": rnd(2, 3), "lokr_w2_a": rnd(3, 2), "lokr_w2_b": rnd(2, 2, 3, 3), "alpha": torch.tensor(1.0),
                "dora_scale": dora_scale(w0[CONV2], False, (1, 6, 1, 1))},
    }
    a["loha_dora"] = {
        TE_FC1: dict(loha_factors(TE_FC1, 2), alpha=torch.tensor(1.0),
                     dora_scale=dora_scale(w0[TE_FC1], False, (1, 8))),
        CONV1: dict(loha_factors(CONV1, 2, tucker=True), alpha=torch.tensor(1.0),
                    dora_scale=dora_scale(w0[CONV1], True, (6, 1, 1, 1))),
    }
    return a


def rank_of(w):
    """A1111's rank (§3.1)."""
    if "lora_down.weight" in w:
        return w["lora_down.weight"].shape[0]
    if "hada_w1_b" in w:
        return w["hada_w1_b"].shape[0]
    if "lokr_w2_b" in w:
        return w["lokr_w2_b"].shape[0]
    if "lokr_w1_b" in w:
        return w["lokr_w1_b"].shape[0]
    return None


def scale_of(w):
    r = rank_of(w)
    return float(w["alpha"]) / r if "alpha" in w and r else 1.0


def delta(w, shape):
    """s·ΔW of an additive module, by LyCORIS' rebuild functions."""
    from lycoris.functional import loha, locon, lokr
    g, s = w.get, scale_of(w)
    if "lora_down.weight" in w:
        dw = locon.diff_weight(w["lora_down.weight"], w["lora_up.weight"], g("lora_mid.weight"), gamma=s,
                               backend="torch")
    elif "hada_w1_a" in w:
        dw = loha.diff_weight(w["hada_w1_b"], w["hada_w1_a"], w["hada_w2_b"], w["hada_w2_a"], g("hada_t1"),
                              g("hada_t2"), gamma=s, backend="torch")
    elif "lokr_w1" in w or "lokr_w1_a" in w:
        dw = lokr.kron_weight(g("lokr_w1"), g("lokr_w1_a"), g("lokr_w1_b"), g("lokr_w2"), g("lokr_w2_a"),
                              g("lokr_w2_b"), g("lokr_t2"), scale=s, backend="torch")
    else:
        dw = w["diff"]
    return dw.reshape(shape)


def merge(w, W):
    """The module's merged weight at multiplier 1 from the running weight W."""
    from lycoris.functional.general import weight_decompose
    from lycoris.modules.ia3 import _ia3_weight
    if "on_input" in w:
        return _ia3_weight(W, w["weight"], bool(int(w["on_input"])), 1, False)
    V = W + delta(w, W.shape)
    if "dora_scale" not in w:
        return V
    g = w["dora_scale"]
    on_out = g.shape[0] == W.shape[0]  # ComfyUI's rule (§2.9)
    g = g.reshape((W.shape[0],) + (1,) * (W.dim() - 1)) if on_out else g.reshape((1, W.shape[1]) + (1,) * (W.dim() - 2))
    return weight_decompose(V, g, 1, on_out, backend="torch")


def expected(case, adp, w0):
    exp, bias = {}, {}
    for stem, W in w0.items():
        b = torch.zeros(W.shape[0], dtype=torch.float64)
        has_b = False
        for name, te, unet in case:
            w = adp[name].get(stem)
            m = te if stem.startswith("lora_te") else unet
            if w is None or m == 0:
                continue
            W = W + m * (merge(w, W) - W)
            if "diff_b" in w:
                b, has_b = b + m * w["diff_b"], True
        exp[stem] = (W - w0[stem]).float().contiguous()
        if has_b:
            bias[stem] = b.float()
    return exp, bias


def main():
    torch.manual_seed(11)
    weight_of = {r[0]: r[2] for r in read_tsv(os.path.join(KEYMAPS, "sd15_modules.tsv"))}
    w0 = base_weights()
    # the engine sees f32 bases and f32 / f16 factors: compute the references from those exact values
    w0 = {s: w.float().double() for s, w in w0.items()}
    adp = adapters(w0)
    stored = {}
    for name, mods in adp.items():
        dt = torch.float16 if name == "lora2" else torch.float32
        for stem, w in mods.items():
            for k, t in w.items():
                if k == "on_input":
                    stored[f"adapter/{name}/{stem}.{k}"] = t.to(torch.int64).reshape(())
                    continue
                t = t.to(dt)
                w[k] = t.double()
                stored[f"adapter/{name}/{stem}.{k}"] = t.contiguous()
    for stem, w in w0.items():
        stored[f"base/{weight_of[stem]}"] = w.float().contiguous()
    lines = []
    for case, uses in CASES:
        exp, bias = expected(uses, adp, w0)
        for stem, t in exp.items():
            stored[f"expect/{case}/{stem}"] = t
        for stem, t in bias.items():
            stored[f"bias/{case}/{stem}"] = t
        lines.append(case + "\t" + ",".join(f"{n}:{te!r}:{un!r}" for n, te, un in uses))
    os.makedirs(OUT, exist_ok=True)
    save_file(stored, os.path.join(OUT, "plan.safetensors"))
    with open(os.path.join(OUT, "plan_cases.tsv"), "w") as fh:
        fh.write("# case\tadapter:te:unet,... (prompt order)\n" + "\n".join(lines) + "\n")
    print("wrote", OUT, len(stored), "tensors")


if __name__ == "__main__":
    main()
