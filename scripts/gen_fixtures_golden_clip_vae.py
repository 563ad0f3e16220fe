#!/usr/bin/env python3
"""gen_fixtures_golden_clip_vae.py — golden fixtures for loom's CLIP text encoder and VAE.

Run by developers only (never in CI):
    /work/venv/bin/python scripts/gen_fixtures_golden_clip_vae.py

Writes tests/fixtures/clip_vae/ (< 2 MB), read by tests/clip_vae/test_clip.c and test_vae.c:
  sd1_clip_vae_tiny.safetensors   a single-file SD1.x-layout checkpoint (fp16) holding a tiny
                                  transformers CLIPTextModel under cond_stage_model.transformer.text_model.
                                  and a tiny diffusers AutoencoderKL under first_stage_model. (LDM names,
                                  renamed by ldm_convert.py and proven by diffusers' own single-file
                                  converters: convert_ldm_vae_checkpoint / convert_ldm_clip_checkpoint
                                  plus a strict load_state_dict that gives back the same tensors)
  diffusers/text_encoder/, diffusers/vae/
                                  the same two models written by save_pretrained (fp16, config.json)
  golden.safetensors              inputs and reference outputs, computed in float64 by
                                  transformers/diffusers from the fp16 weights as stored:
    clip/ids [2,77] i32, clip/skip1 = last_hidden_state, clip/skip2 = final_layer_norm(hidden_states[-2])
    (addons.md §4.8), clip/weights [2,77] and clip/emphasis = A1111's "Original" emphasis applied to
    clip/skip1 (addons.md §4.9, written out below from the spec), vae/decode_in -> vae/decode_out
    (vae.decode of an unscaled latent), vae/encode_in -> vae/encode_mean (latent_dist.mean),
    vae/encode_noise -> vae/encode_sample (latent_dist.mean + latent_dist.std * noise), and an
    odd-sized image vae/encode_odd_in -> vae/encode_odd_mean (LDM's pad-right/bottom downsampling).
    Image and latent tensors are stored in loom's NHWC layout (kernels/ops.h); torch runs NCHW.
    __metadata__["fixture"] records what a single file cannot say: CLIP heads and VAE norm groups
    (the tiny models are not head_dim 64 / 32 groups like SD's), and the VAE scaling factor.
The tiny models: CLIP width 64, 2 heads, 2 layers, MLP 128, vocab 1000, quick_gelu;
AutoencoderKL block_out_channels (16, 32), one ResBlock per level, 8 norm groups, 4 latent
channels — so ResBlocks with a 1x1 shortcut, one down/upsampler and the mid attention are all
covered. Weights are re-drawn with larger spread than the default init (and non-trivial norm
affines) so a wrong layout, mask or norm shows as a large error, not a small one.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ldm_convert import vae_to_ldm  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip_vae")
CLIP_PREFIX = "cond_stage_model.transformer."
VAE_PREFIX = "first_stage_model."
SCALING = 0.18215


def tiny_clip():
    from transformers import CLIPTextConfig, CLIPTextModel
    cfg = CLIPTextConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=998, eos_token_id=999, pad_token_id=999)
    m = CLIPTextModel(cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("layer_norm1.weight") or name.endswith("layer_norm2.weight") or \
                    name.endswith("final_layer_norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.ndim == 1:
                p.copy_(0.2 * torch.randn_like(p))
            elif "embedding" in name:
                p.copy_(torch.randn_like(p))
            else:  # linear [out, in]: unit-variance outputs; q scaled up for peaked attention
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5 * (3.0 if "q_proj" in name else 1.0))
    return m


def tiny_vae():
    from diffusers import AutoencoderKL
    m = AutoencoderKL(block_out_channels=(16, 32), down_block_types=["DownEncoderBlock2D"] * 2,
                      up_block_types=["UpDecoderBlock2D"] * 2, layers_per_block=1, norm_num_groups=8,
                      latent_channels=4, scaling_factor=SCALING)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:  # conv / linear: unit-variance outputs
                p.copy_(torch.randn_like(p) / (p[0].numel()) ** 0.5)
    return m


def fp16_round(model):
    """The model as the fixture files store it: weights rounded to fp16."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return model


def clip_ldm_state(te):
    """The CLIP-L part of an SD1 checkpoint: transformers 4.x names (text_model. level) and
    the int64 position_ids buffer those versions saved (transformers 5 drops both)."""
    sd = {CLIP_PREFIX + "text_model." + k: v for k, v in te.state_dict().items()}
    sd[CLIP_PREFIX + "text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
    return sd


def check_roundtrip(ckpt, te, vae):
    """diffusers' single-file converters read our LDM names back into the same tensors."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_ldm_vae_checkpoint
    from transformers import CLIPTextModel
    ck = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.items()}
    conv = convert_ldm_vae_checkpoint(ck, vae.config)
    AutoencoderKL(**vae.config).load_state_dict(conv, strict=True)
    want = vae.state_dict()
    assert set(conv) == set(want)
    assert all(torch.equal(conv[k], want[k]) for k in want), "vae round trip"
    conv = convert_ldm_clip_checkpoint({k: v for k, v in ck.items() if k.startswith(CLIP_PREFIX)}, CLIP_PREFIX)
    conv = {k[len("text_model."):]: v for k, v in conv.items() if not k.endswith("position_ids")}
    CLIPTextModel(te.config).load_state_dict(conv, strict=True)
    want = te.state_dict()
    assert set(conv) == set(want)
    assert all(torch.equal(conv[k], want[k]) for k in want), "clip round trip"


def emphasis_original(z, w):
    """A1111 sd_emphasis "Original" (addons.md §4.9): one mean over the whole [B, 77, C] batch,
    multiply each token's vector by its weight, then rescale so the mean is restored."""
    m0 = z.mean()
    z = z * w[:, :, None]
    m1 = z.mean()
    return z * (m0 / m1)


def clip_golden(te):
    ref = te.double().eval()
    g = torch.Generator().manual_seed(7)
    ids = torch.full((2, 77), 999, dtype=torch.int64)  # pad = EOS, as SD1 (addons.md §4.8)
    ids[:, 0] = 998  # BOS
    ids[0, 1:20] = torch.randint(0, 998, (19,), generator=g)
    ids[0, 20] = 999
    ids[1, 1:76] = torch.randint(0, 998, (75,), generator=g)  # a full 75-token chunk
    with torch.no_grad():
        out = ref(input_ids=ids, output_hidden_states=True)
        skip1 = out.last_hidden_state
        skip2 = ref.final_layer_norm(out.hidden_states[-2]) if hasattr(ref, "final_layer_norm") else \
            ref.text_model.final_layer_norm(out.hidden_states[-2])
    assert len(out.hidden_states) == 3 and not torch.allclose(skip1, skip2)
    w = torch.ones(2, 77, dtype=torch.float64)
    w[0, 3:6] = 1.1
    w[0, 7] = 1.21
    w[0, 10:12] = 1 / 1.1
    w[1, 30:40] = 1.5
    w[1, 50] = 0.5
    emph = emphasis_original(skip1, w)
    return {"clip/ids": ids.to(torch.int32), "clip/skip1": skip1, "clip/skip2": skip2,
            "clip/weights": w, "clip/emphasis": emph}


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def nchw(t):
    return t.permute(0, 3, 1, 2).contiguous()


def vae_golden(vae):
    ref = vae.double().eval()
    g = torch.Generator().manual_seed(11)
    out = {}
    with torch.no_grad():
        z = torch.randn(2, 6, 5, 4, generator=g).float().double()  # NHWC, non-square
        out["vae/decode_in"] = z
        out["vae/decode_out"] = nhwc(ref.decode(nchw(z)).sample)
        x = (torch.rand(1, 24, 20, 3, generator=g) * 2 - 1).float().double()
        dist = ref.encode(nchw(x)).latent_dist
        noise = torch.randn(1, 12, 10, 4, generator=g).float().double()
        out["vae/encode_in"] = x
        out["vae/encode_mean"] = nhwc(dist.mean)
        out["vae/encode_noise"] = noise
        out["vae/encode_sample"] = nhwc(dist.mean + dist.std * nchw(noise))
        xo = (torch.rand(1, 23, 21, 3, generator=g) * 2 - 1).float().double()
        out["vae/encode_odd_in"] = xo
        out["vae/encode_odd_mean"] = nhwc(ref.encode(nchw(xo)).latent_dist.mean)
    assert out["vae/encode_odd_mean"].shape == (1, 11, 10, 4), out["vae/encode_odd_mean"].shape
    return out


def main():
    torch.manual_seed(3)
    te = fp16_round(tiny_clip())
    vae = fp16_round(tiny_vae())

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    ckpt = clip_ldm_state(te)
    ckpt.update({VAE_PREFIX + k: v for k, v in vae_to_ldm(vae.state_dict(), vae.config).items()})
    ckpt = {k: v.detach().clone().contiguous() for k, v in ckpt.items()}
    check_roundtrip(ckpt, te, vae)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in ckpt.items()},
              os.path.join(OUT, "sd1_clip_vae_tiny.safetensors"))

    te.half().save_pretrained(os.path.join(OUT, "diffusers", "text_encoder"), safe_serialization=True)
    vae.half().save_pretrained(os.path.join(OUT, "diffusers", "vae"), safe_serialization=True)
    te.float()
    vae.float()

    golden = clip_golden(te)
    golden.update(vae_golden(vae))
    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in golden.items()}
    for k, v in tensors.items():
        assert torch.isfinite(v.double()).all(), k
    import diffusers
    import transformers
    meta = {"format": "loom-clip-vae-golden/1",
            "generator": "scripts/gen_fixtures_golden_clip_vae.py (torch %s, transformers %s, diffusers %s)"
                         % (torch.__version__, transformers.__version__, diffusers.__version__),
            "clip_heads": te.config.num_attention_heads, "vae_groups": vae.config.norm_num_groups,
            "vae_scaling_factor": SCALING}
    save_file(tensors, os.path.join(OUT, "golden.safetensors"), metadata={"fixture": json.dumps(meta)})

    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    for dp, _, fns in sorted(os.walk(OUT)):
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            print("  %-70s %8.1f KB" % (os.path.relpath(p, ROOT), os.path.getsize(p) / 1024))
    print(f"{total} bytes in {OUT}")
    assert total < 2 * 1024 * 1024, "clip_vae fixtures must stay under 2 MB"


if __name__ == "__main__":
    main()
