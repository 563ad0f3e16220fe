#!/usr/bin/env python3
"""gen_fixtures_adapters.py — reference ΔW and bad inputs for the adapter parser (test_adapters).

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_adapters.py
Reads the adapter fixtures of tests/fixtures/inspect/ (made by gen_inspect_adapters.py with
LyCORIS and peft) and writes tests/fixtures/adapters/:

  modules.tsv         one line per sampled module: file, stem, kind, rank, scale, sample stride,
                      ΔW element count, IA³ on_input; kinds and ranks are read from the file the
                      way A1111 defines them (adapters.md §1.3, §3.1)
  delta.safetensors   for each sampled module, every stride-th element of s·ΔW flattened, computed
                      by LyCORIS' own rebuild functions (lycoris.functional: locon.diff_weight,
                      loha.diff_weight, lokr.kron_weight) with the scale applied once (§2.2, §7.3)
  files.tsv           per file: module total and per-kind counts from expected.json (what LyCORIS /
                      peft built)
  bad/*.safetensors   structurally valid files the adapter parser must refuse, and bad/expected.tsv:
                      file, strict flag, text the one-line error must contain (key and problem)
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_keymap_tables import SD15_EXTRA, read_tsv  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
INSPECT = os.path.join(ROOT, "tests", "fixtures", "inspect")
OUT = os.path.join(ROOT, "tests", "fixtures", "adapters")
KEYMAPS = os.path.join(os.path.dirname(ROOT), "shared", "specs", "keymaps")
FILES = ["lora_kohya_sd15", "loha_sd15", "lokr_sd15", "ia3_sd15", "full_sd15", "locon_tucker_sd15", "dora_sd15",
         "lora_peft_sd15"]
SAMPLES_PER_FILE = 4
VALUES_PER_MODULE = 2048


def shapes():
    rows = read_tsv(os.path.join(KEYMAPS, "sd15_modules.tsv")) + SD15_EXTRA
    return {r[0]: r[3] for r in rows}


DIFFUSERS_SUFFIXES = {".lora_linear_layer.down.weight": "lora_down.weight", ".lora_linear_layer.up.weight":
                      "lora_up.weight", ".lora.down.weight": "lora_down.weight", ".lora.up.weight": "lora_up.weight",
                      ".lora_A.weight": "lora_down.weight", ".lora_B.weight": "lora_up.weight"}


def split_key(key):
    """(kohya stem, suffix) of a key: kohya keys split at the first '.'; the peft file's keys are
    `unet.` / `text_encoder.` + diffusers path + one of §1.4's suffix variants."""
    for pre, kp in (("unet.", "lora_unet_"), ("text_encoder.", "lora_te_")):
        if key.startswith(pre):
            for suf, role in DIFFUSERS_SUFFIXES.items():
                if key.endswith(suf):
                    return kp + key[len(pre):-len(suf)].replace(".", "_"), role
            raise ValueError(key)
    stem, suffix = key.split(".", 1)
    return stem, suffix


def modules(sd):
    groups = {}
    for k in sd:
        if k.startswith("bundle_emb."):
            continue
        stem, suffix = split_key(k)
        groups.setdefault(stem, (None, {}))[1][suffix] = sd[k].float()
    return groups


def kind_and_rank(w):
    """A1111's algorithm test order and rank (§1.3, §3.1)."""
    if "lora_up.weight" in w and "lora_down.weight" in w:
        return "lora", w["lora_down.weight"].shape[0]
    if "hada_w1_a" in w:
        return "loha", w["hada_w1_b"].shape[0]
    if "weight" in w:
        return "ia3", 0
    if "lokr_w1" in w or "lokr_w1_a" in w:
        r = w["lokr_w2_b"].shape[0] if "lokr_w2_b" in w else w["lokr_w1_b"].shape[0] if "lokr_w1_b" in w else 0
        return "lokr", r
    if "diff" in w:
        return "full", 0
    raise ValueError(sorted(w))


def scale_of(w, kind, rank):
    """§3.1: scale key, else alpha/rank (alpha 0 means 1, as kohya and LyCORIS), else 1."""
    if "scale" in w:
        return float(w["scale"])
    if "alpha" in w and rank and kind in ("lora", "loha", "lokr") and float(w["alpha"]) != 0:
        return float(w["alpha"]) / rank
    return 1.0


def delta(w, kind, s, shape):
    from lycoris.functional import lokr, locon, loha
    g = w.get
    if kind == "lora":
        dw = locon.diff_weight(w["lora_down.weight"], w["lora_up.weight"], g("lora_mid.weight"), gamma=s, backend="torch")
    elif kind == "loha":
        dw = loha.diff_weight(w["hada_w1_b"], w["hada_w1_a"], w["hada_w2_b"], w["hada_w2_a"], g("hada_t1"), g("hada_t2"),
                              gamma=s, backend="torch")
    elif kind == "lokr":
        dw = lokr.kron_weight(g("lokr_w1"), g("lokr_w1_a"), g("lokr_w1_b"), g("lokr_w2"), g("lokr_w2_a"),
                              g("lokr_w2_b"), g("lokr_t2"), scale=s, backend="torch")
    elif kind == "full":
        dw = w["diff"]
    else:
        return None
    assert dw.numel() == math.prod(shape), (kind, dw.shape, shape)
    return dw.reshape(shape)


def pick(groups, n):
    """A spread of modules, in stem order: the first Tucker one, the first k×k conv one, the
    first text-encoder one, the first UNet one, then the rest."""
    def cats(w, stem):
        tucker = any(k in w for k in ("lora_mid.weight", "hada_t1", "lokr_t2"))
        conv = any(t.dim() == 4 and t.shape[-1] > 1 for t in w.values())
        return (tucker, conv, "_te_" in stem, "_unet_" in stem)
    items = sorted(groups.items())
    chosen = []
    for c in range(4):
        for stem, (_, w) in items:
            if cats(w, stem)[c] and stem not in [s for s, _ in chosen]:
                chosen.append((stem, (None, w)))
                break
    for stem, v in items:
        if len(chosen) < n and stem not in [s for s, _ in chosen]:
            chosen.append((stem, v))
    return chosen[:n]


def gen_deltas(expected, shape_of):
    lines, tensors, files = [], {}, []
    for f in FILES:
        name = f + ".safetensors"
        groups = modules(load_file(os.path.join(INSPECT, name)))
        a = expected[name]["adapter"]
        kinds = " ".join(f"{k}={v}" for k, v in sorted(a["types"].items()))
        files.append(f"{name}\t{a['modules']['unet'] + a['modules']['te']}\t{kinds}")
        for stem, (_, w) in pick(groups, SAMPLES_PER_FILE):
            kind, rank = kind_and_rank(w)
            s = scale_of(w, kind, rank)
            shape = shape_of[stem]
            numel = math.prod(shape)
            stride = max(1, numel // VALUES_PER_MODULE) | 1  # odd: does not alias with power-of-two rows
            on_input = int(w["on_input"]) if "on_input" in w else 0
            dw = delta(w, kind, s, shape)
            if dw is not None:
                tensors[f"{name}/{stem}"] = dw.flatten()[::stride].contiguous().float()
            lines.append(f"{name}\t{stem}\t{kind}\t{rank}\t{s!r}\t{stride}\t{numel}\t{on_input}")
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, os.path.join(OUT, "delta.safetensors"))
    with open(os.path.join(OUT, "modules.tsv"), "w") as fh:
        fh.write("# file\tstem\tkind\trank\tscale\tstride\tnumel\ton_input\n" + "\n".join(lines) + "\n")
    with open(os.path.join(OUT, "files.tsv"), "w") as fh:
        fh.write("# file\tmodules\tkind=count ...\n" + "\n".join(files) + "\n")


def gen_bad():
    bad = os.path.join(OUT, "bad")
    os.makedirs(bad, exist_ok=True)
    q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    h = torch.float16
    cases = [
        ("missing_up", 0, {f"{q}.lora_down.weight": torch.randn(4, 320), f"{q}.alpha": torch.tensor(4.0)},
         f"{q}.lora_down.weight: module has no up factor"),
        ("missing_down", 0, {f"{q}.lora_up.weight": torch.randn(320, 4)}, f"{q}.lora_up.weight: module has no down"),
        ("rank_mismatch", 0, {f"{q}.lora_down.weight": torch.randn(4, 320), f"{q}.lora_up.weight": torch.randn(320, 2)},
         f"{q}: rank mismatch"),
        ("shape", 0, {f"{q}.lora_down.weight": torch.randn(4, 768), f"{q}.lora_up.weight": torch.randn(320, 4)},
         f"{q}: down [4, 768] does not fit"),
        ("nan_alpha", 0, {f"{q}.lora_down.weight": torch.randn(4, 320), f"{q}.lora_up.weight": torch.randn(320, 4),
                          f"{q}.alpha": torch.tensor(float("nan"))}, f"{q}.alpha: value is nan"),
        ("unknown_suffix", 0, {f"{q}.lora_down.weight": torch.randn(4, 320), f"{q}.lora_up.weight": torch.randn(320, 4),
                               f"{q}.lora_side.weight": torch.randn(4)}, f"{q}.lora_side.weight: unknown key suffix"),
        ("unmatched", 1, {f"{q}.lora_down.weight": torch.randn(4, 320), f"{q}.lora_up.weight": torch.randn(320, 4),
                          "lora_unet_no_such_block_proj.lora_down.weight": torch.randn(4, 320),
                          "lora_unet_no_such_block_proj.lora_up.weight": torch.randn(320, 4)},
         "lora_unet_no_such_block_proj: module matches no SD1.x layer"),
    ]
    lines = []
    for name, strict, sd, msg in cases:
        fn = f"adp_{name}.safetensors"
        save_file({k: v.to(h) for k, v in sd.items()}, os.path.join(bad, fn))
        lines.append(f"{fn}\t{strict}\t{msg}")
    # an SDXL file (LyCORIS' kohya wrapper on the SDXL UNet and both encoders, gen_inspect_adapters.py)
    sd = load_file(os.path.join(INSPECT, "lora_kohya_sdxl.safetensors"))
    save_file(sd, os.path.join(bad, "adp_sdxl.safetensors"))
    te = sorted(k.split(".", 1)[0] for k in sd if k.startswith(("lora_te1_", "lora_te2_")))[0]
    lines.append(f"adp_sdxl.safetensors\t0\tadapter is for SDXL (two text encoders (te1/te2), e.g. key {te}")
    with open(os.path.join(bad, "expected.tsv"), "w") as fh:
        fh.write("# file\tstrict\ttext the error must contain (after the path)\n" + "\n".join(lines) + "\n")


def main():
    torch.manual_seed(4)
    with open(os.path.join(INSPECT, "expected.json")) as fh:
        expected = json.load(fh)
    gen_deltas(expected, shapes())
    gen_bad()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
