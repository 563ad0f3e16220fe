#!/usr/bin/env python3
"""gen_fixtures_golden_unet.py — golden UNet outputs from diffusers for tests/unet/test_unet.c.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_golden_unet.py
Writes tests/fixtures/unet/ (< 2 MB):

  <name>_ldm.safetensors        the model as a single-file LDM checkpoint (model.diffusion_model.*),
                                renamed by ldm_convert.unet_to_ldm and proven by converting it back
                                with diffusers' own convert_ldm_unet_checkpoint + a strict load
  <name>_diffusers/unet/        the same model written by save_pretrained (config.json +
                                diffusion_pytorch_model.safetensors), proven by from_pretrained
  <name>_golden.safetensors     inputs and the reference output, activations NHWC:
                                  x [B,H,W,Cin], t [B], context [B,77,ctx],
                                  eps [B,H,W,Cout]     diffusers' UNet run in float64, stored f32
                                  eps_f32 [B,H,W,Cout] diffusers' UNet run in float32 (its own rounding,
                                                       printed by the test next to loom's error)

Two tiny models, batch 2, two different timesteps (one fractional, as k-diffusion samplers pass):
  sd1  SD1.x architecture: 3 levels (transformers at the first two, none at the last), 1x1 conv
       proj_in/proj_out, transformer depth 1, 8 heads, both kinds of up-block sampler index,
       skip convs where channels change.
  v2   the SD2.x variant bits: Linear proj_in/proj_out, transformer depth 2, heads per level given
       as attention_head_dim=(2, 4) (head dim 4), layers_per_block 2, 9 input channels (inpainting).

Weights are rounded to fp16 values and stored as fp16 (what checkpoints people download hold), so
the fp16 files and the float64 reference describe exactly the same model. Norm affines are random
(not 1/0) so a swapped gamma/beta or a wrong eps shows. Tensor data are the same on every run;
the order of a safetensors header's __metadata__ may differ (the writer keeps it in a hash map).

The reference timestep embedding is computed in float64: diffusers (and LDM) build the sinusoid
argument t*freq in float32 even for a float64 model, which is off by ~1e-4 rad at t ~ 1000; loom's
op computes it in double, so the double reference must too (same formula, more precision).
"""
import copy
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ldm_convert import unet_to_ldm  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "unet")

MODELS = {
    "sd1": dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32, 24), layers_per_block=1,
                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8),
    "v2": dict(sample_size=8, in_channels=9, out_channels=4, block_out_channels=(8, 16), layers_per_block=2,
               down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
               up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
               cross_attention_dim=24, attention_head_dim=(2, 4), norm_num_groups=4,
               use_linear_projection=True, transformer_layers_per_block=2),
}
LATENT_HW = (8, 12)          # non-square: an H/W mix-up shows
TIMESTEPS = (981.0, 17.25)   # one per batch element
CONTEXT_LEN = 77


def timestep_embedding_f64(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1,
                           max_period=10000):
    """diffusers.models.embeddings.get_timestep_embedding, evaluated in float64."""
    half = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - downscale_freq_shift)
    emb = scale * timesteps[:, None].double() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


def build(name, seed):
    from diffusers import UNet2DConditionModel
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**MODELS[name]).eval()
    with torch.no_grad():
        for mod in unet.modules():
            if isinstance(mod, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
                mod.weight.copy_(1 + 0.2 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.2 * torch.randn_like(mod.bias))
        for p in unet.parameters():
            p.copy_(p.half().float())  # fp16-exact: the fp16 files hold this model exactly
    return unet


def check_ldm_roundtrip(ldm, unet):
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
    ck = {k: v.float() for k, v in ldm.items()}
    conv = convert_ldm_unet_checkpoint(ck, unet.config)
    UNet2DConditionModel(**unet.config).load_state_dict(conv, strict=True)
    ref = unet.state_dict()
    assert set(conv) == set(ref), f"key sets differ: {sorted(set(conv) ^ set(ref))[:5]}"
    for k in ref:
        assert torch.equal(conv[k], ref[k]), f"{k} differs after the LDM round trip"


def check_diffusers_folder(path, unet):
    from diffusers import UNet2DConditionModel
    back = UNet2DConditionModel.from_pretrained(path, torch_dtype=torch.float32)
    ref = unet.state_dict()
    got = back.state_dict()
    assert set(got) == set(ref)
    for k in ref:
        assert torch.equal(got[k], ref[k]), f"{k} differs after save_pretrained/from_pretrained"


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def rel_l2(a, ref):
    return ((a.double() - ref.double()).norm() / ref.double().norm()).item()


def generate(name, seed):
    import diffusers.models.embeddings as emb_mod
    unet = build(name, seed)
    cfg = MODELS[name]

    ldm = {"model.diffusion_model." + k: v.half().contiguous()
           for k, v in unet_to_ldm(unet.state_dict(), unet.config).items()}
    check_ldm_roundtrip(ldm, unet)
    save_file(ldm, os.path.join(OUT, f"{name}_ldm.safetensors"))

    folder = os.path.join(OUT, f"{name}_diffusers", "unet")
    shutil.rmtree(os.path.dirname(folder), ignore_errors=True)
    half = copy.deepcopy(unet).half()
    half.save_pretrained(folder, safe_serialization=True)
    check_diffusers_folder(folder, unet)

    g = torch.Generator().manual_seed(seed + 100)
    h, w = LATENT_HW
    x = torch.randn(2, cfg["in_channels"], h, w, generator=g)
    t = torch.tensor(TIMESTEPS, dtype=torch.float32)
    ctx = torch.randn(2, CONTEXT_LEN, cfg["cross_attention_dim"], generator=g)
    with torch.no_grad():
        eps_f32 = unet(x, t, ctx).sample
        orig = emb_mod.get_timestep_embedding
        emb_mod.get_timestep_embedding = timestep_embedding_f64
        try:
            eps = unet.double()(x.double(), t.double(), ctx.double()).sample
            # the reference must depend on every input: a test against it can fail
            eps_swapped = unet(x.double(), t.double().flip(0), ctx.double()).sample
        finally:
            emb_mod.get_timestep_embedding = orig
        assert rel_l2(eps_swapped, eps) > 1e-2, "output barely depends on the timestep"
    print(f"{name}: {sum(p.numel() for p in unet.parameters())} params, rel L2 of diffusers fp32 vs fp64: "
          f"{rel_l2(eps_f32, eps):.3e}")
    save_file({"x": nhwc(x), "t": t, "context": ctx.contiguous(), "eps": nhwc(eps.float()),
               "eps_f32": nhwc(eps_f32)}, os.path.join(OUT, f"{name}_golden.safetensors"),
              metadata={"generator": "scripts/gen_fixtures_golden_unet.py", "layout": "NHWC"})


def main():
    os.makedirs(OUT, exist_ok=True)
    generate("sd1", 31)
    generate("v2", 32)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"{total} bytes in {OUT}")
    assert total < 2 * 1024 * 1024, "fixtures must stay under 2 MB"


if __name__ == "__main__":
    main()
