#!/usr/bin/env python3
"""gen_fixtures_inspect.py — fixtures for `loom inspect`, made by the reference tools.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_inspect.py
Writes tests/fixtures/inspect/ (< 4 MB) and expected.json, which records what each
file IS as the generator built it (the tool, algorithm, family, module counts that
LyCORIS / peft reported, ranks, alphas, tensor counts and dtypes) — never loom's output.

  checkpoints  tiny SD1.x / SD2.x / SDXL models (diffusers UNet + VAE, transformers CLIP,
               open_clip OpenCLIP) renamed to the single-file LDM/SGM layout by
               ldm_convert.py; the renaming is proven by converting back with diffusers'
               own single-file converters and a strict load_state_dict (check_roundtrip).
  adapters     LyCORIS (kohya wrapper) and peft on a FULL-SIZE SD1.5 UNet and CLIP-L, so
               every shape is a real SD1.5 shape (gen_inspect_adapters.py).
  add-ons      A1111 hypernetwork, textual-inversion embeddings in every format, an
               aesthetic embedding (gen_inspect_addons.py).

Tensor data and metadata are the same on every run; the byte order of a safetensors
header's __metadata__ may differ (the safetensors writer keeps it in a hash map).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ldm_convert import unet_to_ldm, vae_to_ldm  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "inspect")
DT_NAME = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16", torch.float64: "f64",
           torch.int64: "i64", torch.int32: "i32", torch.int16: "i16", torch.int8: "i8",
           torch.uint8: "u8", torch.bool: "bool"}


def tensor_summary(tensors):
    """tensors/dtypes/tensor_bytes of a flat list of tensors, as the generator wrote them."""
    hist = {}
    nbytes = 0
    for t in tensors:
        hist[DT_NAME[t.dtype]] = hist.get(DT_NAME[t.dtype], 0) + 1
        nbytes += t.numel() * t.element_size()
    return {"tensors": len(tensors), "dtypes": hist, "tensor_bytes": nbytes}


def record(expected, name, fmt, tensors, **info):
    path = os.path.join(OUT, name)
    entry = {"file": name, "format": fmt, "file_bytes": os.path.getsize(path)}
    entry.update(tensor_summary(tensors))
    entry.update(info)
    expected[name] = entry


# ---- tiny models ------------------------------------------------------------------------

def tiny_unet(family):
    from diffusers import UNet2DConditionModel
    common = dict(sample_size=8, layers_per_block=2, norm_num_groups=2, attention_head_dim=2)
    if family == "sd1":   # SD1.x: conv proj_in/proj_out, 4 levels
        return UNet2DConditionModel(block_out_channels=(6, 6, 6, 6), cross_attention_dim=12, **common)
    if family == "sd2":   # SD2.x: Linear proj_in/proj_out
        return UNet2DConditionModel(block_out_channels=(6, 6, 6, 6), cross_attention_dim=16,
                                    use_linear_projection=True, **common)
    # SDXL: 3 levels, no attention in the first, deeper transformers, text_time conditioning
    return UNet2DConditionModel(block_out_channels=(6, 6, 6), cross_attention_dim=12 + 16,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                                transformer_layers_per_block=(1, 2, 2), use_linear_projection=True,
                                addition_embed_type="text_time", addition_time_embed_dim=4,
                                projection_class_embeddings_input_dim=16 + 6 * 4, **common)


def tiny_vae():
    from diffusers import AutoencoderKL
    return AutoencoderKL(block_out_channels=(2, 2, 4, 4), down_block_types=["DownEncoderBlock2D"] * 4,
                         up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=2, norm_num_groups=2,
                         latent_channels=4)


def tiny_clip_l():
    from transformers import CLIPTextConfig, CLIPTextModel
    return CLIPTextModel(CLIPTextConfig(vocab_size=100, hidden_size=12, intermediate_size=48,
                                        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                                        bos_token_id=98, eos_token_id=99, pad_token_id=1,
                                        hidden_act="quick_gelu"))


def tiny_open_clip():
    """An open_clip text tower as ldm/sgm's FrozenOpenCLIPEmbedder holds it (visual deleted)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    m = CLIP(embed_dim=16, vision_cfg=CLIPVisionCfg(layers=1, width=8, patch_size=16, image_size=32, head_width=4),
             text_cfg=CLIPTextCfg(context_length=77, vocab_size=100, width=16, heads=2, layers=2))
    del m.visual
    return m


def clip_l_ldm_keys(te, prefix):
    # transformers >= 5 dropped CLIPTextModel's `text_model` wrapper; checkpoints carry
    # the 4.x names, including the int64 position_ids buffer older versions saved.
    sd = {prefix + "text_model." + k: v for k, v in te.state_dict().items()}
    sd[prefix + "text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
    return sd


# ---- round trip through diffusers' single-file converters ------------------------------

def check_equal(name, got, want):
    assert set(got) == set(want), f"{name}: key sets differ: {sorted(set(got) ^ set(want))[:5]}"
    for k in want:
        assert torch.equal(got[k].float(), want[k].float()), f"{name}: {k} differs"


def check_roundtrip(ckpt, unet, vae, te_l=None, te_l_prefix=None, oc=None, oc_prefix=None, ema=None):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint, convert_open_clip_checkpoint)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    ck = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.items()}
    u = UNet2DConditionModel(**unet.config)
    conv = convert_ldm_unet_checkpoint(ck, unet.config, extract_ema=ema is not None)
    u.load_state_dict(conv, strict=True)
    check_equal("unet", conv, ema if ema is not None else unet.state_dict())
    v = AutoencoderKL(**vae.config)
    conv = convert_ldm_vae_checkpoint(ck, vae.config)
    v.load_state_dict(conv, strict=True)
    check_equal("vae", conv, vae.state_dict())
    if te_l is not None:
        conv = convert_ldm_clip_checkpoint({k: v for k, v in ck.items() if k.startswith(te_l_prefix)}, te_l_prefix)
        conv = {k[len("text_model."):]: v for k, v in conv.items() if not k.endswith("position_ids")}
        t = CLIPTextModel(te_l.config)
        t.load_state_dict(conv, strict=True)
        check_equal("clip-l", conv, te_l.state_dict())
    if oc is not None:
        w = oc.token_embedding.weight.shape[1]
        cfg = CLIPTextConfig(vocab_size=100, hidden_size=w, intermediate_size=4 * w, num_hidden_layers=2,
                             num_attention_heads=2, max_position_embeddings=77, projection_dim=w,
                             bos_token_id=98, eos_token_id=99, pad_token_id=1, hidden_act="gelu")
        conv = convert_open_clip_checkpoint(CLIPTextModelWithProjection(cfg), ck, prefix=oc_prefix)
        if "text_projection.weight" in conv:  # SDXL keeps the projection, SD2's converter drops it
            CLIPTextModelWithProjection(cfg).load_state_dict(conv, strict=True)
        else:
            conv = {k[len("text_model."):]: v for k, v in conv.items()}
            CLIPTextModel(cfg).load_state_dict(conv, strict=True)
        ref = oc.state_dict()
        pre = "text_model." if "text_projection.weight" in conv else ""
        for i in range(2):
            qkv = torch.cat([conv[f"{pre}encoder.layers.{i}.self_attn.{p}_proj.weight"] for p in "qkv"])
            assert torch.equal(qkv, ref[f"transformer.resblocks.{i}.attn.in_proj_weight"]), "openclip qkv"


# ---- checkpoints ------------------------------------------------------------------------

def ldm_state(family):
    """(checkpoint dict, models, parts, dims) for one family, every tensor fp32."""
    torch.manual_seed({"sd1": 1, "sd2": 2, "sdxl": 3}[family])
    unet, vae = tiny_unet(family), tiny_vae()
    sd = {"model.diffusion_model." + k: v for k, v in unet_to_ldm(unet.state_dict(), unet.config).items()}
    sd.update({"first_stage_model." + k: v for k, v in vae_to_ldm(vae.state_dict(), vae.config).items()})
    models = {"unet": unet, "vae": vae}
    if family == "sd1":
        te = tiny_clip_l()
        sd.update(clip_l_ldm_keys(te, "cond_stage_model.transformer."))
        models.update(te_l=te, te_l_prefix="cond_stage_model.transformer.")
        parts = ["unet", "text_encoder", "vae"]
    elif family == "sd2":
        oc = tiny_open_clip()
        sd.update({"cond_stage_model.model." + k: v for k, v in oc.state_dict().items()})
        models.update(oc=oc, oc_prefix="cond_stage_model.model.")
        parts = ["unet", "text_encoder", "vae"]
    else:
        te, oc = tiny_clip_l(), tiny_open_clip()
        sd.update(clip_l_ldm_keys(te, "conditioner.embedders.0.transformer."))
        sd.update({"conditioner.embedders.1.model." + k: v for k, v in oc.state_dict().items()})
        models.update(te_l=te, te_l_prefix="conditioner.embedders.0.transformer.", oc=oc,
                      oc_prefix="conditioner.embedders.1.model.")
        parts = ["unet", "text_encoder", "text_encoder_2", "vae"]
    sd = {k: v.detach().clone().contiguous() for k, v in sd.items()}
    dims = {"model_channels": unet.config.block_out_channels[0], "in_channels": unet.config.in_channels,
            "context_dim": unet.config.cross_attention_dim}
    return sd, models, parts, dims


def gen_checkpoints(expected):
    for family in ("sd1", "sd2", "sdxl"):
        sd, models, parts, dims = ldm_state(family)
        check_roundtrip(sd, **models)
        half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        name = f"{family}_tiny_fp16.safetensors"
        save_file(half, os.path.join(OUT, name))
        record(expected, name, "safetensors", list(half.values()), tool="diffusers+transformers+open_clip",
               kind="checkpoint", family=family, parts=parts, dims=dims, dims_standard=False)
        if family != "sd1":
            continue
        # The .ckpt as LDM's Lightning trainer saves it: fp32, `state_dict` plus training
        # counters, and LitEma's copy of the UNet under model_ema.<name without dots>.
        ema = {}
        full = dict(sd)
        for k, v in sd.items():
            if k.startswith("model.diffusion_model."):
                e = v + 0.001 * torch.randn_like(v)
                full["model_ema." + "".join(k.split(".")[1:])] = e
                ema[k[len("model.diffusion_model."):]] = e
        full["model_ema.decay"] = torch.tensor(0.9999, dtype=torch.float32)
        full["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
        check_roundtrip(full, **models, ema=unet_ema_to_diffusers(ema, models["unet"]))
        name = "sd1_tiny_ema.ckpt"
        torch.save({"state_dict": full, "epoch": 6, "global_step": 1000,
                    "pytorch-lightning_version": "1.4.2"}, os.path.join(OUT, name))
        record(expected, name, "torch zip", list(full.values()), tool="diffusers+transformers+torch.save",
               kind="checkpoint", family="sd1", parts=parts + ["ema"], dims=dims, dims_standard=False)
        # A bare VAE in the LDM layout (like vae-ft-mse-840000-ema-pruned.safetensors).
        vae = {k[len("first_stage_model."):]: v for k, v in half.items() if k.startswith("first_stage_model.")}
        save_file(vae, os.path.join(OUT, "vae_ldm_fp16.safetensors"))
        record(expected, "vae_ldm_fp16.safetensors", "safetensors", list(vae.values()), tool="diffusers",
               kind="vae", family="unknown", parts=["vae"])
        # A diffusers-format UNet component, written by save_pretrained itself.
        d = os.path.join(OUT, "unet_diffusers")
        models["unet"].to(torch.float16).save_pretrained(d, safe_serialization=True)
        os.remove(os.path.join(d, "config.json"))
        name = "unet_diffusers/diffusion_pytorch_model.safetensors"
        record(expected, name, "safetensors", list(models["unet"].state_dict().values()), tool="diffusers",
               kind="unet", family="sd1", layout="diffusers", parts=["unet"], dims=dims, dims_standard=False)


def unet_ema_to_diffusers(ema_ldm, unet):
    """The EMA copy in diffusers names, for the round trip: the converter must give it back."""
    to_diffusers = unet_to_ldm({k: k for k in unet.state_dict()}, unet.config)  # ldm name -> diffusers name
    return {to_diffusers[k]: v for k, v in ema_ldm.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    gen_checkpoints(expected)
    import gen_inspect_addons
    gen_inspect_addons.generate(OUT, expected, record)
    if "--no-adapters" not in sys.argv:
        import gen_inspect_adapters
        gen_inspect_adapters.generate(OUT, expected, record)
    else:  # keep the adapter entries of an earlier full run
        old = json.load(open(os.path.join(OUT, "expected.json")))
        expected.update({k: v for k, v in old.items() if k not in expected})
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(dict(sorted(expected.items())), f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"{len(expected)} fixtures, {total} bytes in {OUT}")
    assert total < 4 * 1024 * 1024, "fixtures must stay under 4 MB"


if __name__ == "__main__":
    main()
