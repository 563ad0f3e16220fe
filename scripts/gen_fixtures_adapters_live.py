#!/usr/bin/env python3
"""gen_fixtures_adapters_live.py — adapter files made by the real tools on the demo SD1.x model, and
float64 references of what they do, for the live-adapter test (issue 4's acceptance: UNet output, text
embedding and final latent with adapters applied live match PyTorch with the library's own merged
weights, rel L2 <= 1e-4, weights -1, 0.5, 1, 2 and three adapters stacked; `loom inspect` reports every
type correctly).

Run by developers only (never in CI), with a built loom:

    /work/venv/bin/python scripts/gen_fixtures_adapters_live.py build/loom

Needs what gen_fixtures_golden_pipeline.py needs (its checkpoint loaders, A1111 text chunking, UNet
precision switch, k-diffusion CompVisDenoiser / CFGDenoiser / sample_euler are imported from it, not
copied), plus lycoris-lora and peft.

The model: `loom make-checkpoint --preset demo --seed 1` (SHA-256 checked against the golden pipeline's
config.json), read by diffusers' single-file converters into a UNet2DConditionModel and a CLIPTextModel.

The adapters (tests/fixtures/adapters_live/<name>.safetensors; the file stem is the prompt-tag name):
  LyCORIS through its kohya wrapper (lycoris.kohya.create_network + apply_to + save_weights, the path of
  kohya's train_network.py --network_module lycoris.kohya), so keys are kohya's lora_unet_… / lora_te_…
  (the text encoder is wrapped so its modules sit under `text_model.`, as in real SD1 files; transformers
  5's CLIPTextModel has no such level). alpha != rank wherever a scale exists. Coverage: locon takes every
  Linear/Conv of the UNet's transformers, ResBlocks (3x3, 1x1 shortcuts, time_emb_proj), stride-2
  downsamplers and upsamplers, and of CLIP attention/MLP; the others take the same module kinds in PART
  (a 32-wide transformer, one down, the middle and one up block, the whole text encoder) to stay small.
    locon, locon_tucker (lora_mid on the 3x3 convs); loha, loha_tucker (hada_t1/t2); lokr (decompose_both:
    lokr_w1 or lokr_w1_a/b, with lokr_w2_a/b); lokr_full (full_matrix: lokr_w1 and lokr_w2 full, s = 1);
    lokr_tucker (lokr_t2); ia3: LyCORIS' ia3 preset targets, to_k/to_v (output side) and ff.net.2 (input
    side, on_input = 1) — the preset's bare names match nothing through the kohya wrapper (its re.match
    is anchored at the module path's start), so they are given as regexes; full: diff + diff_b on conv_in,
    conv_out, the time embedding and one transformer; dora / dora_in: locon with dora_wd, wd_on_output
    True / False, dora_scale [O,1(,1,1)] / [1,I(,1,1)] (this LyCORIS defaults to the output axis);
    lora_kohya: algo "lora" (LoConModule, kohya's lora_down/lora_up/alpha keys) on the attention and
    feed-forward Linears and CLIP attention/MLP, the layout of kohya's networks.lora (not installed);
    te_lora: algo "lora" on the text encoder only.
  lora_peft: peft LoraConfig(r, lora_alpha = r) on to_q/to_k/to_v/to_out.0 through diffusers'
  add_adapter, saved by StableDiffusionPipeline.save_lora_weights (keys unet.<path>.lora_A/lora_B.weight,
  no alpha key: peft's scale lora_alpha/r = 1 is A1111's s for a file without alpha). No norm training.
  A new network's up factors are zero, so every parameter is re-randomized: each module's delta is
  normalized to |dW| = |W| and then scaled by a per-file, per-part (UNet / text encoder) factor found by
  a few measurements so that the adapter at weight 1 moves the UNet output (the text embedding for the
  text encoder) by about TARGET_EFFECT rel L2; DoRA's dora_scale is the base norm times
  (1 + rho/2 * N(0,1)).

The reference (A1111 finalize_updown, adapters.md §3.2 / §3.5): with the running weight W_{k-1} (the
base for the first adapter), W_k = W_{k-1} + m_k (M_k(W_{k-1}) - W_{k-1}), where M_k(W) is the library's
own merged weight of adapter k on W at multiplier 1 and m_k the te multiplier for text-encoder modules,
the unet multiplier for UNet modules; full's bias gets m_k diff_b. The library modules are made by the
same create_network call that wrote the file and loaded from the file with a strict load_state_dict.
Library behaviour worked around (each is checked every run and recorded in config.json):
  - LoHa and LoKr: get_weight() applies alpha/r and get_diff_weight() / get_merged_weight() apply it
    again (adapters.md §2.2, §7.3). M uses W + get_weight() (scale once), which is what the modules' own
    forward computes (checked on one module per file) and what A1111 / ComfyUI / sd.cpp do.
  - DoRA: M = dora_scale * V / |V| with V = W_{k-1} + s dW and no epsilon (A1111); LyCORIS adds
    finfo(dtype).eps to |V| (its get_merged_weight is compared: ~1e-15 relative in float64, ~1e-6
    in float32).
  - full: FullModule reads the original weight from a copy cached at construction, not the layer's
    current weight, so M = W_{k-1} + diff from get_diff_weight() (A1111's W + m diff).
  - create_network_from_weights (LyCORIS' own loader) is cross-checked against the strict load per
    file. In lycoris-lora 4.1.3 it agrees where it loads, and fails on three kinds of file: dora_in (it
    rebuilds every DoRA module with the output axis), ia3 (make_module_from_state_dict takes one tensor,
    extract_state_dict hands it weight and on_input) and lokr_tucker (it reads the rank from
    lokr_w2_a.shape[1], which is the output factor for Tucker). Hence the strict load as the reference.
  - save_weights casts every tensor to the save dtype, so IA3's on_input and every alpha are stored as
    float16 / bfloat16 scalars, as in real LyCORIS files.

Outputs (tests/fixtures/adapters_live/): the adapter files, and
  expected.safetensors  float64 references stored as f32 (sigmas f64); __metadata__ = the run config
    unet/x [1,16,16,4] NHWC, unet/t [1], unet/context [1,77,64] (the base text encoder's context of the
    prompt), unet/eps/base, unet/eps/<name>@<w> (UNet multiplier w, same x / t / context),
    unet/eps/stack_a|stack_b|stack_c; text/base, text/<name>@<w> [77,64] (te multiplier w, clip skip 1);
    noise [1,4,16,16] (torch CPU, seed), sigmas [steps+1] f64, latent/base, latent/<name>@<w>,
    latent/locon@0.5_te2, latent/stack_a [1,4,16,16] NCHW (A1111 txt2img: Euler, normal schedule,
    cfg, the prompt's and the negative prompt's contexts both through the adapted text encoder)
  cases.tsv   case, kind (unet|text|latent), adapters in prompt order as name:te:unet items (none for the
              base cases); the reference is unet/eps/<case>, text/<case> or latent/<case> by kind
  inspect.json  per file: "adapter" = what the library built, in `loom inspect --json`'s "adapter" schema
                (conv_modules counts k×k convs whose stored factors show the kernel, as inspect can);
                "built" = further facts (target kinds, LoKr factor forms, IA3 on_input, DoRA axis)
  config.json   run config, per-output float32-vs-float64 rel L2, per-adapter effects, versions, notes
"""
import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

os.environ.setdefault("LYCORIS_KERNEL_BACKEND", "torch")  # plain torch merges (no fused / compiled kernels)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures_golden_pipeline as gp  # noqa: E402  checkpoint, loaders, text encoding, UNet precision, sampling
from gen_inspect_adapters import PRESET_KEYS, describe, kohya_meta, only  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "adapters_live")
GOLDEN_CONFIG = os.path.join(ROOT, "tests", "fixtures", "golden_pipeline", "config.json")

CONFIG = {
    "preset": "demo", "weights_seed": 1, "width": 128, "height": 128, "steps": 4, "cfg_scale": 7.0,
    "sampler": "euler", "scheduler": "normal", "noise_seed": 42, "clip_skip": 1,
    "prompt": gp.CONFIG["prompt"], "negative_prompt": gp.CONFIG["negative_prompt"],
    "unet_t": 417.625, "unet_x_seed": 7, "weights": [-1.0, 0.5, 1.0, 2.0], "tolerance_rel_l2": 1e-4,
}
TARGET_EFFECT = 0.15  # rel L2 change of the UNet output (text embedding for the text encoder) at weight 1

UNET_BLOCKS = ["Transformer2DModel", "ResnetBlock2D", "Downsample2D", "Upsample2D"]
TE_BLOCKS = ["CLIPAttention", "CLIPMLP"]
CONV = dict(enable_conv=True)
# most files cover part of the model (size): a 32-wide transformer (cross-attention to_k/to_v [32, 64]), one
# down block (ResBlock with a 1x1 shortcut, stride-2 downsampler), the middle block, one up block (shortcuts,
# upsampler) and the whole text encoder; locon covers every module of the key table but conv_in/conv_out/
# time_embedding (which full covers)
PART = ("down_blocks.0.attentions.0", "down_blocks.1", "mid_block", "up_blocks.1", "text_model")
SOME = dict(CONV, exclude_name=only(*PART))
# name: the LyCORIS kohya-wrapper network (algo, dim, alpha, create_network kwargs, preset) or the peft
# LoRA (r, lora_alpha, target_modules), and the dtype the file is saved in. Ranks are small (size).
ADAPTERS = {
    "locon": dict(algo="locon", dim=2, alpha=1, kw=dict(conv_dim=2, conv_alpha=3), dtype=torch.float16,
                  preset=dict(CONV, unet_target_module=UNET_BLOCKS, text_encoder_target_module=TE_BLOCKS)),
    "locon_tucker": dict(algo="locon", dim=2, alpha=3, kw=dict(conv_dim=3, conv_alpha=2, use_tucker=True),
                         dtype=torch.float16, preset=dict(SOME, unet_target_module=UNET_BLOCKS)),
    "loha": dict(algo="loha", dim=2, alpha=1, kw=dict(conv_dim=2, conv_alpha=1), dtype=torch.float16,
                 preset=dict(SOME, unet_target_module=UNET_BLOCKS, text_encoder_target_module=TE_BLOCKS)),
    "loha_tucker": dict(algo="loha", dim=2, alpha=3, kw=dict(conv_dim=2, conv_alpha=1, use_tucker=True),
                        dtype=torch.float16,
                        preset=dict(SOME, unet_target_module=["ResnetBlock2D", "Downsample2D", "Upsample2D"])),
    "lokr": dict(algo="lokr", dim=2, alpha=1, kw=dict(conv_dim=2, conv_alpha=3, decompose_both=True, factor=-1),
                 dtype=torch.bfloat16,
                 preset=dict(SOME, unet_target_module=UNET_BLOCKS, text_encoder_target_module=TE_BLOCKS)),
    "lokr_full": dict(algo="lokr", dim=2, alpha=1, kw=dict(conv_dim=2, conv_alpha=1, full_matrix=True, factor=-1),
                      dtype=torch.bfloat16, preset=dict(SOME, unet_target_module=UNET_BLOCKS)),
    "lokr_tucker": dict(algo="lokr", dim=2, alpha=3, kw=dict(conv_dim=2, conv_alpha=1, use_tucker=True, factor=-1),
                        dtype=torch.float16,
                        preset=dict(SOME, unet_target_module=["ResnetBlock2D", "Downsample2D", "Upsample2D"])),
    "ia3": dict(algo="ia3", dim=1, alpha=1, kw={}, dtype=torch.float16,
                preset=dict(unet_target_name=[r".*\.(to_k|to_v|ff\.net\.2)$"],
                            name_algo_map={r".*\.ff\.net\.2$": {"train_on_input": True}})),
    "full": dict(algo="full", dim=1, alpha=1, kw={}, dtype=torch.bfloat16,
                 preset=dict(CONV, unet_target_name=[r"conv_in$", r"conv_out$", r"time_embedding\.linear_[12]$",
                                                     r"down_blocks\.0\.attentions\.0\..*"])),
    "dora": dict(algo="locon", dim=2, alpha=1, kw=dict(conv_dim=2, conv_alpha=3, dora_wd=True, wd_on_output=True),
                 dtype=torch.float16,
                 preset=dict(SOME, unet_target_module=["Transformer2DModel", "ResnetBlock2D"],
                             text_encoder_target_module=["CLIPAttention"])),
    "dora_in": dict(algo="locon", dim=2, alpha=3, kw=dict(conv_dim=2, conv_alpha=1, dora_wd=True, wd_on_output=False),
                    dtype=torch.float16, preset=dict(SOME, unet_target_module=["Transformer2DModel", "ResnetBlock2D"])),
    "lora_kohya": dict(algo="lora", dim=4, alpha=1, kw={}, dtype=torch.float16,
                       preset=dict(exclude_name=only(*PART), unet_target_module=["Attention", "FeedForward"],
                                   text_encoder_target_module=TE_BLOCKS)),
    "lora_peft": dict(algo="peft", dim=4, alpha=4, kw={}, dtype=torch.float32,
                      target_modules=r".*(%s)\..*\.(to_q|to_k|to_v|to_out\.0)" % "|".join(map(re.escape, PART))),
    "te_lora": dict(algo="lora", dim=4, alpha=2, kw={}, dtype=torch.float32,
                    preset=dict(text_encoder_target_module=TE_BLOCKS)),
}
# Stacks in prompt order: (name, te, unet). stack_b is stack_a with IA3 first: IA3 and DoRA read the
# running weight, so the order changes the result (§3.5). stack_c: additive types (order-free).
STACKS = {
    "stack_a": [("locon", 0.5, 0.5), ("ia3", 1.0, 1.0), ("dora", 0.8, 0.8)],
    "stack_b": [("ia3", 1.0, 1.0), ("locon", 0.5, 0.5), ("dora", 0.8, 0.8)],
    "stack_c": [("loha", 1.0, 1.0), ("lokr", -1.0, -1.0), ("full", 0.5, 0.5)],
}
PREFIX = {"unet": "unet/eps/", "text": "text/", "latent": "latent/"}  # case -> tensor name by kind
NOTES = [
    "cases.tsv items are name:te:unet; `<lora:name:w>` sets te = unet = w (adapters.md §3.4). unet cases run "
    "the UNet alone on unet/x, unet/t, unet/context, so only their unet multiplier matters; text cases only "
    "their te multiplier; latent cases run the whole txt2img pipeline with the adapters in both CFG halves.",
    "4 sampling steps at 128x128 (16x16 latent; the golden pipeline's notes say why not smaller) keep the "
    "C test fast.",
]


class TextModelWrap(torch.nn.Module):
    """Puts the CLIPTextModel under `text_model.` so LyCORIS names its modules lora_te_text_model_…"""

    def __init__(self, te):
        super().__init__()
        self.text_model = te


def rel_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


# ---------------------------------------------------------------------------------------------
# LyCORIS networks

def lycoris_network(name, te, unet):
    """The network the file `name` was written by (or is read with), its modules bound to te / unet."""
    from lycoris import kohya
    from lycoris.config import PRESET
    spec = ADAPTERS[name]
    preset = dict(PRESET_KEYS)
    preset.update(spec["preset"])
    PRESET["loom-live-" + name] = preset  # apply_preset sets class attributes: always pass every key
    return kohya.create_network(1.0, spec["dim"], spec["alpha"], None, TextModelWrap(te), unet, algo=spec["algo"],
                                preset="loom-live-" + name, warn_on_unmatched=False, **spec["kw"])


def module_classes():
    from lycoris.modules.full import FullModule
    from lycoris.modules.ia3 import IA3Module
    from lycoris.modules.locon import LoConModule
    from lycoris.modules.loha import LohaModule
    from lycoris.modules.lokr import LokrModule
    return LoConModule, LohaModule, LokrModule, IA3Module, FullModule


def axis_norm(v, on_out):
    """|V| per output row ([O, 1, …]) or per input column ([1, I, 1, …]), the shapes of dora_scale."""
    tail = [1] * (v.dim() - 1)
    if on_out:
        return v.reshape(v.shape[0], -1).norm(dim=1).reshape(v.shape[0], *tail)
    return v.transpose(0, 1).reshape(v.shape[1], -1).norm(dim=1).reshape(v.shape[1], *tail).transpose(0, 1)


def dora_no_eps(v, g, on_out):
    """g * V / |V| without an epsilon (A1111's apply_weight_decompose, adapters.md §2.9)."""
    return v * (g / axis_norm(v, on_out))


class Library:
    """The merged weight M(W) of one LyCORIS module on its layer's current weight, with the quirks of the
    module docstring handled; records what it checked."""

    def __init__(self):
        self.checks = {"loha_lokr_scale_applied_twice": [], "locon_merged_rel": 0.0,
                       "forward_vs_scale_once_rel": 0.0, "forward_checked_modules": 0}

    @staticmethod
    def base_weight(mod):
        _, _, _, _, full = module_classes()
        return mod._org_weight[0] if isinstance(mod, full) and not mod.is_diff else mod.org_module[0].weight.detach()

    def delta(self, mod):
        """s·dW at multiplier 1 (scale once), before DoRA."""
        locon, loha, lokr, ia3, full = module_classes()
        if isinstance(mod, (loha, lokr)):
            once = mod.get_weight(mod.shape) * mod.scalar
            lib = mod.get_diff_weight(1.0)[0].reshape(once.shape)
            if mod.scale != 1:
                self.checks["loha_lokr_scale_applied_twice"].append(rel_l2(lib, once * mod.scale))
            return once
        if isinstance(mod, (locon, ia3)):
            return mod.get_diff_weight(1.0)[0]
        raise TypeError(type(mod).__name__)

    def merged(self, mod):
        """(M, extra bias or None)."""
        locon, loha, lokr, ia3, full = module_classes()
        w = self.base_weight(mod)
        if isinstance(mod, ia3):
            return mod.get_merged_weight(1.0)[0].view(w.shape), None
        if isinstance(mod, full):
            d, db = mod.get_diff_weight(1.0)
            return w + d.view(w.shape), db
        v = w + self.delta(mod).view(w.shape)
        if getattr(mod, "wd", False):
            m = dora_no_eps(v, mod.dora_scale.to(v.dtype), mod.wd_on_out)
            k = "dora_eps_rel_" + str(v.dtype).split(".")[1]
            self.checks[k] = max(self.checks.get(k, 0.0), rel_l2(mod.get_merged_weight(1.0)[0].view(w.shape), m))
            return m, None
        if isinstance(mod, locon):
            self.checks["locon_merged_rel"] = max(self.checks["locon_merged_rel"],
                                                  rel_l2(mod.get_merged_weight(1.0)[0].view(w.shape), v))
        return v, None

    def check_forward(self, mod):
        """The module's own (non-bypass) forward equals the layer with M: scale applied once."""
        w = self.base_weight(mod)
        layer = mod.org_module[0]
        g = torch.Generator().manual_seed(0)
        if w.dim() == 2:
            x = torch.randn(3, w.shape[1], generator=g, dtype=w.dtype)
            want = torch.nn.functional.linear(x, self.merged(mod)[0], layer.bias)
        else:
            x = torch.randn(1, w.shape[1], 8, 8, generator=g, dtype=w.dtype)
            want = torch.nn.functional.conv2d(x, self.merged(mod)[0], layer.bias, layer.stride, layer.padding)
        mod.multiplier = 1.0
        with torch.no_grad():
            got = mod(x)
        self.checks["forward_vs_scale_once_rel"] = max(self.checks["forward_vs_scale_once_rel"], rel_l2(got, want))
        self.checks["forward_checked_modules"] += 1


LIB = Library()


def load_lycoris(name, path, te, unet, dtype):
    """The library's modules for file `path`, bound to te / unet (not hooked into their forwards)."""
    net = lycoris_network(name, te, unet)
    for m in net.text_encoder_loras + net.unet_loras:
        net.add_module(m.lora_name, m)  # what apply_to registers, without replacing the layers' forward
    net.load_state_dict(load_file(path), strict=True)
    net.to(dtype)
    for m in net.text_encoder_loras + net.unet_loras:
        if hasattr(m, "lora_dim") and not (getattr(m, "use_w1", False) and getattr(m, "use_w2", False)):
            assert abs(m.scale - float(m.alpha) / m.lora_dim) < 1e-12, (m.lora_name, m.scale, float(m.alpha))
    return net


def apply_lycoris(name, path, te, unet, m_te, m_unet, dtype):
    net = load_lycoris(name, path, te, unet, dtype)
    with torch.no_grad():
        for mods, mult in ((net.text_encoder_loras, m_te), (net.unet_loras, m_unet)):
            for mod in mods:
                layer = mod.org_module[0]
                w = layer.weight.detach().clone()
                merged, db = LIB.merged(mod)
                layer.weight.copy_(w + mult * (merged - w))
                if db is not None:
                    layer.bias.add_(mult * db.view(layer.bias.shape))


def apply_peft(path, unet, m_unet, dtype):
    from peft.tuners.lora import LoraLayer
    scratch = copy.deepcopy(unet)  # carries the running weights
    scratch.load_lora_adapter(path, prefix="unet", adapter_name="ref")
    scratch.to(dtype)
    n = 0
    with torch.no_grad():
        for name, mod in scratch.named_modules():
            if isinstance(mod, LoraLayer):
                w = mod.get_base_layer().weight.detach().clone()
                mod.merge(adapter_names=["ref"])
                merged = mod.get_base_layer().weight.detach()
                unet.get_submodule(name).weight.copy_(w + m_unet * (merged - w))
                n += 1
    assert 2 * n == len(load_file(path)), "peft merged fewer modules than the file has"


def adapted(models, items, dtype):
    """(te, unet) in dtype with the adapters `items` [(name, te, unet), …] applied in prompt order."""
    te, unet = copy.deepcopy(models["te"]).to(dtype), copy.deepcopy(models["unet"]).to(dtype)
    for name, m_te, m_unet in items:
        path = models["files"][name]
        if ADAPTERS[name]["algo"] == "peft":
            apply_peft(path, unet, m_unet, dtype)
        else:
            apply_lycoris(name, path, te, unet, m_te, m_unet, dtype)
    return te, unet


# ---------------------------------------------------------------------------------------------
# reference computations

def text_of(te, models, dtype, key="prompt"):
    return gp.encode(te, models["chunks"][key], dtype)


def eps_of(unet, models, dtype):
    with torch.no_grad(), gp.Precision(dtype):
        e = unet.to(dtype)(models["x"].to(dtype), models["t"].to(dtype), models["context"].to(dtype)).sample
    return gp.nhwc(e)


def latent_of(te, unet, models, dtype):
    """A1111 txt2img with this text encoder and UNet (gp.sample with CONFIG's step count)."""
    cond, uncond = text_of(te, models, dtype), text_of(te, models, dtype, "negative_prompt")
    den = gp.kd.external.CompVisDenoiser(gp.LatentDiffusionStandIn(unet.to(dtype), dtype), quantize=False)
    cfg = gp.CFGDenoiser(den, cond, uncond, CONFIG["cfg_scale"])
    table = models["sigmas"].to(dtype)
    with torch.no_grad(), gp.Precision(dtype):
        x = gp.kd.sampling.sample_euler(cfg, models["noise"].to(dtype) * table[0], table, disable=True)
    assert cfg.calls == CONFIG["steps"]
    return x


# ---------------------------------------------------------------------------------------------
# making the files

def parts_of(name):
    """Which parts the file's network covers: {"te": bool, "unet": bool}."""
    spec = ADAPTERS[name]
    if spec["algo"] == "peft":
        return {"te": False, "unet": True}
    p = spec["preset"]
    return {"te": bool(p.get("text_encoder_target_module") or p.get("text_encoder_target_name")),
            "unet": bool(p.get("unet_target_module") or p.get("unet_target_name"))}


class LycorisMaker:
    """A LyCORIS network on copies of the base models, its parameters randomized to unit-size deltas;
    set(rho) scales them and writes the file."""

    def __init__(self, name, models, path):
        self.name, self.path = name, path
        te, unet = copy.deepcopy(models["te"]).float(), copy.deepcopy(models["unet"]).float()
        self.net = lycoris_network(name, te, unet)
        p = parts_of(name)
        self.net.apply_to(TextModelWrap(te), unet, apply_text_encoder=p["te"], apply_unet=p["unet"])
        assert (len(self.net.text_encoder_loras) > 0) == p["te"] and (len(self.net.unet_loras) > 0) == p["unet"]
        torch.manual_seed(sorted(ADAPTERS).index(name) + 100)
        self.unit = {}
        with torch.no_grad():
            for p_ in self.net.parameters():
                p_.normal_()
            for mod in self.net.text_encoder_loras + self.net.unet_loras:
                self.unit[mod.lora_name] = self.unit_of(mod)

    @staticmethod
    def linear_param(mod):
        """The parameter the delta is linear in."""
        locon, loha, lokr, ia3, full = module_classes()
        if isinstance(mod, locon):
            return mod.lora_up.weight
        if isinstance(mod, loha):
            return mod.hada_w1_a
        if isinstance(mod, lokr):
            return mod.lokr_w1 if mod.use_w1 else mod.lokr_w1_a
        if isinstance(mod, ia3):
            return mod.weight
        raise TypeError(type(mod).__name__)

    def unit_of(self, mod):
        _, _, _, _, full = module_classes()
        w = LIB.base_weight(mod)
        if isinstance(mod, full):  # after apply_to its weight / bias are absolute: org + diff
            u = {"w": mod.weight.detach().clone(), "b": None}
            u["w"] *= w.norm() / u["w"].norm()
            if mod.bias is not None:
                b0 = mod.org_bias[0]
                u["b"] = mod.bias.detach().clone()
                u["b"] *= (b0.norm() if b0.norm() > 0 else w.norm() / w.shape[0] ** 0.5) / u["b"].norm()
            return u
        p = self.linear_param(mod)
        p *= w.norm() / LIB.delta(mod).view(w.shape).norm()
        u = {"p": p.detach().clone()}
        if getattr(mod, "wd", False):
            n = axis_norm(w.double(), mod.wd_on_out)
            assert n.shape == mod.dora_scale.shape, (n.shape, mod.dora_scale.shape)
            u["g0"], u["gz"] = n.float(), torch.randn(n.shape)
        return u

    def set(self, rho):
        _, _, _, _, full = module_classes()
        with torch.no_grad():
            for part, mods in (("te", self.net.text_encoder_loras), ("unet", self.net.unet_loras)):
                for mod in mods:
                    u, r = self.unit[mod.lora_name], rho[part]
                    if isinstance(mod, full):
                        mod.weight.copy_(mod._org_weight[0] + r * u["w"])
                        if u["b"] is not None:
                            mod.bias.copy_(mod.org_bias[0] + r * u["b"])
                        continue
                    self.linear_param(mod).copy_(r * u["p"])
                    if "g0" in u:
                        mod.dora_scale.copy_(u["g0"] * (1 + 0.5 * r * u["gz"]))
        spec = ADAPTERS[self.name]
        args = dict(algo=spec["algo"], **spec["kw"])
        self.net.save_weights(self.path, spec["dtype"],
                              kohya_meta("lycoris.kohya", spec["dim"], spec["alpha"], self.name, args))

    def describe(self):
        """({what `loom inspect --json` reports as "adapter"}, {further facts of what the library built})."""
        a, _ = describe(self.net, self.path, ())
        locon, loha, lokr, ia3, full = module_classes()
        conv, built = 0, {}  # conv: k×k convs whose stored factors show the kernel (all inspect can see)

        def count(key, value):
            built.setdefault(key, {})
            built[key][value] = built[key].get(value, 0) + 1
        for mod in self.net.text_encoder_loras + self.net.unet_loras:
            kxk = mod.module_type == "conv2d" and tuple(mod.shape[2:]) != (1, 1)
            count("targets", "conv%dx%d" % tuple(mod.shape[2:]) if mod.module_type == "conv2d" else "linear")
            if isinstance(mod, lokr):
                count("lokr_factors", ("w1" if mod.use_w1 else "w1_a/b") + "+" +
                      ("w2" if mod.use_w2 else "t2" if mod.tucker else "w2_a/b"))
            if isinstance(mod, ia3):
                count("ia3_on_input", str(int(mod.train_input)))
            if getattr(mod, "wd", False):
                count("dora_axis", "output [O,1(,1,1)]" if mod.wd_on_out else "input [1,I(,1,1)]")
            conv += kxk and (isinstance(mod, (locon, full)) or (isinstance(mod, loha) and mod.tucker) or
                             (isinstance(mod, lokr) and (mod.use_w2 or mod.tucker)))
        a["conv_modules"] = conv
        return a, built


class PeftMaker:
    """peft LoRA on a copy of the UNet (diffusers add_adapter), written by save_lora_weights."""

    def __init__(self, name, models, path):
        from peft import LoraConfig
        from peft.tuners.lora import LoraLayer
        spec = ADAPTERS[name]
        self.name, self.path = name, path
        self.unet = copy.deepcopy(models["unet"]).float()
        self.config = LoraConfig(r=spec["dim"], lora_alpha=spec["alpha"], target_modules=spec["target_modules"])
        self.unet.add_adapter(self.config)
        torch.manual_seed(sorted(ADAPTERS).index(name) + 100)
        self.layers = [m for m in self.unet.modules() if isinstance(m, LoraLayer)]
        self.unit = []
        with torch.no_grad():
            for m in self.layers:
                a, b = m.lora_A["default"].weight, m.lora_B["default"].weight
                a.normal_()
                b.normal_()
                b *= m.get_base_layer().weight.norm() / m.get_delta_weight("default").norm()
                self.unit.append(b.detach().clone())

    def set(self, rho):
        from diffusers import StableDiffusionPipeline
        from peft import get_peft_model_state_dict
        with torch.no_grad():
            for m, u in zip(self.layers, self.unit):
                m.lora_B["default"].weight.copy_(rho["unet"] * u)
        layers = {k: v.to(ADAPTERS[self.name]["dtype"]) for k, v in get_peft_model_state_dict(self.unet).items()}
        with tempfile.TemporaryDirectory() as d:
            StableDiffusionPipeline.save_lora_weights(d, unet_lora_layers=layers,
                                                      unet_lora_adapter_metadata=self.config.to_dict())
            os.replace(os.path.join(d, "pytorch_lora_weights.safetensors"), self.path)

    def describe(self):
        r = ADAPTERS[self.name]["dim"]
        n = len(self.layers)
        return ({"types": {"lora": n}, "modules": {"unet": n, "te": 0}, "dora_modules": 0, "tucker_modules": 0,
                 "unmatched_keys": 0, "rank": {"min": r, "max": r, "common": r}, "conv_modules": 0},
                {"targets": {"linear": n}, "peft_scaling": sorted({m.scaling["default"] for m in self.layers})})


def effects(models, name, base, dtype=torch.float32):
    """rel L2 change of the UNet output and of the text embedding with `name` at weight 1."""
    te, unet = adapted(models, [(name, 1.0, 1.0)], dtype)
    p = parts_of(name)
    return {"unet": rel_l2(eps_of(unet, models, dtype), base["unet"]) if p["unet"] else None,
            "te": rel_l2(text_of(te, models, dtype), base["te"]) if p["te"] else None}


def make_adapter(name, models, base):
    path = os.path.join(models["out"], name + ".safetensors")
    models["files"][name] = path
    maker = (PeftMaker if ADAPTERS[name]["algo"] == "peft" else LycorisMaker)(name, models, path)
    rho = {"te": 0.1, "unet": 0.1}
    for _ in range(6):  # the effect is close to linear in rho: a few rescalings converge
        maker.set(rho)
        e = effects(models, name, base)
        parts = [p for p in ("te", "unet") if e[p] is not None]
        if all(abs(e[p] / TARGET_EFFECT - 1) < 0.1 for p in parts):
            break
        for p in parts:
            rho[p] *= min(4.0, max(0.25, TARGET_EFFECT / e[p]))
    print(f"{name:13s} {os.path.getsize(path):8d} bytes  rho {rho}  effect at weight 1 (float32) {e}")
    return maker.describe()


# ---------------------------------------------------------------------------------------------

def library_cross_checks(models):
    """Per LyCORIS file: LoHa/LoKr forwards, and create_network_from_weights against the strict load."""
    from lycoris import kohya
    out = {}
    for name, path in models["files"].items():
        if ADAPTERS[name]["algo"] == "peft":
            continue
        te, unet = copy.deepcopy(models["te"]), copy.deepcopy(models["unet"])
        net = load_lycoris(name, path, te, unet, torch.float64)
        mods = {m.lora_name: m for m in net.text_encoder_loras + net.unet_loras}
        if ADAPTERS[name]["algo"] in ("loha", "lokr"):
            for m in mods.values():
                if m.module_type == "conv2d":
                    LIB.check_forward(m)
                    break
        try:
            fw, _ = kohya.create_network_from_weights(1.0, path, None, TextModelWrap(te), unet)
            got = {m.lora_name: m.to(torch.float64) for m in fw.text_encoder_loras + fw.unet_loras}
            assert set(got) == set(mods), f"{len(got)} modules, {len(mods)} in the file"
            worst = max(rel_l2(LIB.merged(got[k])[0], LIB.merged(mods[k])[0]) for k in mods)
            out[name] = f"agrees (max rel {worst:.1e})"
        except Exception as e:  # noqa: BLE001  recorded: the library's loader fails on this file
            out[name] = f"fails: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("loom", help="path of the built loom executable")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    import diffusers
    import logging
    diffusers.utils.logging.set_verbosity_error()
    from lycoris.logging import logger as lycoris_logger
    lycoris_logger.setLevel(logging.ERROR)
    torch.set_num_threads(1)
    loom = os.path.abspath(args.loom)

    with open(GOLDEN_CONFIG) as f:
        want_sha = json.load(f)["checkpoint_sha256"]
    os.makedirs(args.out, exist_ok=True)
    for n in os.listdir(args.out):  # what an earlier run wrote
        if n.endswith((".safetensors", ".tsv", ".json")):
            os.remove(os.path.join(args.out, n))
    with tempfile.TemporaryDirectory(prefix="loom_adapters_live_") as tmp:
        ckpt = os.path.join(tmp, "demo.safetensors")
        digest = gp.make_checkpoint(loom, ckpt)
        assert digest == want_sha, f"demo checkpoint {digest} is not the golden pipeline's {want_sha}"
        te, unet, _ = gp.load_models(ckpt)

    tokenize = gp.ref.clip_tokenizer()
    h, w = CONFIG["height"] // 8, CONFIG["width"] // 8
    models = {"te": te.double(), "unet": unet.double(), "out": args.out, "files": {},
              "chunks": {k: gp.chunks_of(CONFIG[k], tokenize) for k in ("prompt", "negative_prompt")},
              "x": torch.randn(1, 4, h, w, generator=torch.Generator().manual_seed(CONFIG["unet_x_seed"])),
              "t": torch.tensor([CONFIG["unet_t"]], dtype=torch.float32),
              "noise": torch.randn(1, 4, h, w, generator=torch.Generator().manual_seed(CONFIG["noise_seed"])),
              "sigmas": gp.sigma_table(CONFIG["scheduler"], CONFIG["steps"])}
    assert all(len(c) == 1 for c in models["chunks"].values())
    t, errs, effect = {}, {}, {}

    def put(key, ref64, ref32):
        t[key] = ref64.float().contiguous()
        errs[key] = rel_l2(ref32, ref64)

    base_text = text_of(models["te"], models, torch.float64)
    put("text/base", base_text, text_of(copy.deepcopy(models["te"]), models, torch.float32))
    models["context"] = t["text/base"][None].clone()  # the stored f32 context is what both UNet runs get
    t["unet/x"], t["unet/t"], t["unet/context"] = gp.nhwc(models["x"]), models["t"], models["context"]
    base_eps = eps_of(copy.deepcopy(models["unet"]), models, torch.float64)
    put("unet/eps/base", base_eps, eps_of(copy.deepcopy(models["unet"]).float(), models, torch.float32))
    base32 = {"unet": eps_of(copy.deepcopy(models["unet"]).float(), models, torch.float32),
              "te": text_of(copy.deepcopy(models["te"]), models, torch.float32)}

    # the adapter files
    inspect = {}
    for name in ADAPTERS:
        a, built = make_adapter(name, models, base32)
        inspect[name + ".safetensors"] = {"adapter": a, "built": built}

    # the cases: (key, kind, items)
    cases = []
    for name in ADAPTERS:
        for wt in CONFIG["weights"]:
            items = [(name, wt, wt)]
            if parts_of(name)["unet"]:
                cases.append((f"unet/eps/{name}@{wt:g}", "unet", items))
            if parts_of(name)["te"]:
                cases.append((f"text/{name}@{wt:g}", "text", items))
    for stack, items in STACKS.items():
        cases.append((f"unet/eps/{stack}", "unet", items))
    cases.append(("latent/base", "latent", []))
    for name in ADAPTERS:
        for wt in CONFIG["weights"]:
            cases.append((f"latent/{name}@{wt:g}", "latent", [(name, wt, wt)]))
    # the te / unet multipliers come from A1111's tag parser (adapters.md §3.4), not from this table
    for key, tags in (("latent/locon@0.5_te2", "<lora:locon:2:0.5>"),
                      ("latent/stack_a", " ".join(f"<lora:{n}:{u:g}>" for n, _, u in STACKS["stack_a"]))):
        _, reqs = gp.ref.parse_networks(CONFIG["prompt"] + " " + tags)
        cases.append((key, "latent", [(r["name"], r["te"], r["unet"]) for r in reqs]))
    assert cases[-1][2] == STACKS["stack_a"] and cases[-2][2] == [("locon", 2.0, 0.5)]

    base_latent = None
    for key, kind, items in cases:
        out = {}
        for dtype in (torch.float64, torch.float32):
            te_a, unet_a = adapted(models, items, dtype)
            if kind == "unet":
                out[dtype] = eps_of(unet_a, models, dtype)
            elif kind == "text":
                out[dtype] = text_of(te_a, models, dtype)
            else:
                out[dtype] = latent_of(te_a, unet_a, models, dtype)
        put(key, out[torch.float64], out[torch.float32])
        base = {"unet": base_eps, "text": base_text, "latent": base_latent}[kind]
        if key == "latent/base":
            base_latent = out[torch.float64]
            effect[key] = None
        else:
            effect[key] = rel_l2(out[torch.float64], base)
            # a test against this reference must be able to fail: every case moves its output
            assert effect[key] > 20 * CONFIG["tolerance_rel_l2"], (key, effect[key])
        print(f"{key:28s} {tuple(t[key].shape)!s:16s} effect {effect[key] if effect[key] is not None else 0:8.4f}  "
              f"float32 vs float64 {errs[key]:.2e}")
    order = rel_l2(t["unet/eps/stack_a"], t["unet/eps/stack_b"])
    print(f"stack_a vs stack_b (order): {order:.4f}")
    assert order > 20 * CONFIG["tolerance_rel_l2"], "the stack order does not matter: pick other adapters"
    t["noise"], t["sigmas"] = models["noise"], models["sigmas"].clone()

    from_weights = library_cross_checks(models)
    checks = dict(LIB.checks, create_network_from_weights=from_weights)
    twice = checks.pop("loha_lokr_scale_applied_twice")
    checks["loha_lokr_get_diff_weight_is_scale_times_scale_once"] = max(twice) if twice else None
    assert twice and max(twice) < 1e-12, "LyCORIS no longer applies the LoHa/LoKr scale twice: revisit the docstring"
    assert checks["forward_checked_modules"] >= 4 and checks["forward_vs_scale_once_rel"] < 1e-12
    assert checks["locon_merged_rel"] < 1e-12
    assert checks["dora_eps_rel_float64"] < 1e-12
    for k, v in checks.items():
        print(f"library check {k}: {v}")
    worst = max(errs.values())
    print(f"worst float32-vs-float64 rel L2: {worst:.2e}")
    assert worst < 0.1 * CONFIG["tolerance_rel_l2"], "float32 is not well within the tolerance of float64"

    # loom inspect on every file: printed for the developer, never stored as expected values
    for name, path in models["files"].items():
        r = subprocess.run([loom, "inspect", "--json", path], capture_output=True, text=True)
        got = json.loads(r.stdout).get("adapter", {}) if r.returncode == 0 else {}
        want = inspect[name + ".safetensors"]["adapter"]
        diff = [k for k in want if got.get(k) != want[k] and
                not (isinstance(want[k], dict) and all(got.get(k, {}).get(i) == v for i, v in want[k].items()))]
        print(f"loom inspect {name}: " + ("as the library built it" if not diff and r.returncode == 0 else
                                          f"DIFFERS in {diff or r.stderr.strip()}"))

    with open(os.path.join(args.out, "cases.tsv"), "w") as f:
        f.write("# case\tkind\tadapters in prompt order, name:te:unet (none: empty); the reference is the tensor "
                "unet/eps/<case>, text/<case> or latent/<case> of expected.safetensors by kind\n")
        for key, kind, items in [("unet/eps/base", "unet", []), ("text/base", "text", [])] + cases:
            assert key.startswith(PREFIX[kind]) and key in t, key
            f.write(f"{key[len(PREFIX[kind]):]}\t{kind}\t" + " ".join(f"{n}:{a:g}:{b:g}" for n, a, b in items) + "\n")
    with open(os.path.join(args.out, "inspect.json"), "w") as f:
        json.dump(inspect, f, indent=1, sort_keys=True)
        f.write("\n")
    meta = {k: (json.dumps(v) if isinstance(v, (list, float)) else str(v)) for k, v in CONFIG.items()}
    meta.update({"checkpoint_sha256": digest, "generator": "scripts/gen_fixtures_adapters_live.py"})
    save_file(t, os.path.join(args.out, "expected.safetensors"), metadata=meta)
    from importlib import metadata
    files = {}
    for name, path in models["files"].items():
        with safe_open(path, "pt") as fh:
            files[name] = {"bytes": os.path.getsize(path), "dtype": str(ADAPTERS[name]["dtype"]).split(".")[1],
                           "tool": "peft + diffusers save_lora_weights" if ADAPTERS[name]["algo"] == "peft" else
                           f"LyCORIS kohya wrapper, algo={ADAPTERS[name]['algo']}",
                           "dim": ADAPTERS[name]["dim"], "alpha": ADAPTERS[name]["alpha"],
                           "kwargs": ADAPTERS[name]["kw"], "tensors": len(fh.keys()),
                           "effect_unet_eps_at_1": effect.get(f"unet/eps/{name}@1"),
                           "effect_text_at_1": effect.get(f"text/{name}@1"),
                           "effect_latent_at_1": effect.get(f"latent/{name}@1")}
    info = dict(CONFIG, notes=NOTES, checkpoint_sha256=digest, target_effect=TARGET_EFFECT, files=files,
                stacks={k: [list(i) for i in v] for k, v in STACKS.items()}, stack_order_rel_l2=order,
                effect_rel_l2=effect, float32_vs_float64_rel_l2=errs, library_checks=checks,
                versions={"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "transformers": metadata.version("transformers"), "peft": metadata.version("peft"),
                          "lycoris-lora": metadata.version("lycoris-lora"), "k-diffusion": "0.1.1.post1"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {args.out} ({total} bytes, {len(cases)} cases), checkpoint sha256 {digest}")
    assert total < 3 << 20, "the fixture folder is over 3 MB"


if __name__ == "__main__":
    main()
