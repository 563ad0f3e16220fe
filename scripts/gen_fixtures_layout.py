#!/usr/bin/env python3
"""gen_fixtures_layout.py — the key list of a full-size SD1.5 single-file checkpoint.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_layout.py
Writes tests/fixtures/layout/:
  sd15_keys.tsv           one line per tensor, "name<TAB>dtype<TAB>shape" (shape as comma-separated
                          extents), sorted by name. test_layout.c checks that loom's enumerator for
                          the sd15 preset (host/model/sd1_layout.c) produces exactly this list.
  writer_ref.safetensors  a few small tensors of several dtypes (values from the formulas in
                          writer_tensors(), which test_layout.c repeats) written by the reference
                          safetensors writer: loom's writer must produce the same bytes.

The models are the reference implementations at SD1.5's dimensions (random init, nothing
saved): diffusers UNet2DConditionModel and AutoencoderKL, transformers CLIPTextModel. Their
names go to the LDM single-file layout through ldm_convert.py (unet_to_ldm, vae_to_ldm) and
gen_fixtures_inspect.clip_l_ldm_keys — the same renaming gen_fixtures_inspect.py proves by a
round trip through diffusers' own single-file converters. Tensors are stored fp16, as
released SD1.5 fp16 files are; position_ids is int64 [1, 77].
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ldm_convert import unet_to_ldm, vae_to_ldm  # noqa: E402
import gen_fixtures_inspect as gi  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "layout")
OUT = os.path.join(OUT_DIR, "sd15_keys.tsv")


def sd15_state():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    # SD1.5's v1-inference.yaml dimensions, spelled as diffusers/transformers configs
    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                                block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
                                attention_head_dim=8,
                                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                        layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)
    te = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                      num_hidden_layers=12, projection_dim=768, hidden_act="quick_gelu",
                                      max_position_embeddings=77, vocab_size=49408))
    sd = {"model.diffusion_model." + k: v for k, v in unet_to_ldm(unet.state_dict(), unet.config).items()}
    sd.update({"first_stage_model." + k: v for k, v in vae_to_ldm(vae.state_dict(), vae.config).items()})
    sd.update(gi.clip_l_ldm_keys(te, "cond_stage_model.transformer."))
    return sd


def writer_tensors():
    """Element i of each tensor (row-major); the values are exact in their dtype."""
    i = lambda n: torch.arange(n, dtype=torch.float64)  # noqa: E731
    return {
        "emb.i64": (torch.arange(6, dtype=torch.int64) * 1000003 - 7).reshape(2, 3),
        "w.f32": ((i(12) - 5) * 0.375).float().reshape(3, 4),
        "s.f32": torch.tensor(2.5, dtype=torch.float32),
        "empty.f32": torch.zeros(0, 3, dtype=torch.float32),
        "h.bf16": (i(5) * 0.5 - 1).to(torch.bfloat16),
        "h.f16": (i(7) * 0.25 - 1).half(),
        "mask.u8": (torch.arange(3) * 50).to(torch.uint8),
    }


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    from safetensors.torch import save_file
    save_file(writer_tensors(), os.path.join(OUT_DIR, "writer_ref.safetensors"),
              metadata={"loom.test": "writer \u2713"})
    sd = sd15_state()
    with open(OUT, "w") as f:
        for k in sorted(sd):
            v = sd[k]
            dt = "f16" if v.is_floating_point() else gi.DT_NAME[v.dtype]
            f.write(f"{k}\t{dt}\t{','.join(str(int(d)) for d in v.shape)}\n")
    print(f"{OUT}: {len(sd)} tensors")


if __name__ == "__main__":
    main()
