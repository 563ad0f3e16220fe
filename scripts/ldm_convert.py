"""ldm_convert.py — diffusers/HF state dicts -> original LDM/SGM checkpoint names.

Used by the fixture generators to build single-file SD checkpoints (the layout
people download) from tiny diffusers models (text encoders need no
renaming: HF CLIP keys keep their names under cond_stage_model.transformer., and
OpenCLIP ones come from open_clip itself). The
rules are adapters.md §4.3 (UNet) and the LDM VAE layout; every generator that
uses them must prove them by converting back with diffusers' own single-file
converters (see check_roundtrip in gen_fixtures_inspect.py).
"""
import re

_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
           ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def _resnet_child(rest):
    for a, b in _RESNET:
        if rest.startswith(a + "."):
            return b + rest[len(a):]
    raise KeyError(rest)


def unet_to_ldm(sd, config):
    """diffusers UNet2DConditionModel keys -> LDM/SGM `input_blocks…` keys (no prefix).

    layers_per_block L: down block i, layer j -> input_blocks.(i*(L+1)+j+1); the
    downsampler -> input_blocks.((i+1)*(L+1)).0.op; up block i has L+1 layers ->
    output_blocks.(i*(L+1)+j); its upsampler sits at index 1 when the up block has
    no attentions and 2 otherwise (adapters.md §4.3, the SDXL rule covers SD1 too)."""
    L = config["layers_per_block"]
    up_has_attn = {i: t.startswith("CrossAttn") for i, t in enumerate(config["up_block_types"])}
    fixed = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
             "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
             "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}
    out = {}
    for k, v in sd.items():
        name = None
        for a, b in fixed.items():
            if k.startswith(a + "."):
                name = b + k[len(a):]
        m = re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", k)
        if m:
            i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
            idx = i * (L + 1) + j + 1
            name = (f"input_blocks.{idx}.0.{_resnet_child(rest)}" if kind == "resnets"
                    else f"input_blocks.{idx}.1.{rest}")
        m = re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", k)
        if m:
            name = f"input_blocks.{(int(m[1]) + 1) * (L + 1)}.0.op.{m[2]}"
        m = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", k)
        if m:
            j, rest = int(m[2]), m[3]
            name = f"middle_block.{2 * j}.{_resnet_child(rest)}" if m[1] == "resnets" else f"middle_block.1.{rest}"
        m = re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", k)
        if m:
            i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
            idx = i * (L + 1) + j
            name = (f"output_blocks.{idx}.0.{_resnet_child(rest)}" if kind == "resnets"
                    else f"output_blocks.{idx}.1.{rest}")
        m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", k)
        if m:
            i = int(m[1])
            name = f"output_blocks.{i * (L + 1) + L}.{2 if up_has_attn[i] else 1}.conv.{m[2]}"
        if name is None:
            raise KeyError(f"unet_to_ldm: no rule for {k}")
        out[name] = v
    return out


def vae_to_ldm(sd, config):
    """diffusers AutoencoderKL keys -> LDM `encoder.down.i.block.j…` keys (no prefix).
    Mid-block attention projections are 1x1 convs in LDM ([C, C, 1, 1])."""
    n = len(config["up_block_types"])
    res = {"conv_shortcut": "nin_shortcut"}
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out = {}
    for k, v in sd.items():
        name = None
        m = re.match(r"(encoder|decoder)\.(conv_in|conv_out|conv_norm_out)\.(.*)", k)
        if m:
            name = f"{m[1]}.{'norm_out' if m[2] == 'conv_norm_out' else m[2]}.{m[3]}"
        m = re.match(r"(quant_conv|post_quant_conv)\.(.*)", k)
        if m:
            name = k
        m = re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(.*)", k)
        if m:
            name = f"encoder.down.{m[1]}.block.{m[2]}.{res.get(m[3], m[3])}.{m[4]}"
        m = re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", k)
        if m:
            name = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        m = re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(.*)", k)
        if m:
            name = f"decoder.up.{n - 1 - int(m[1])}.block.{m[2]}.{res.get(m[3], m[3])}.{m[4]}"
        m = re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", k)
        if m:
            name = f"decoder.up.{n - 1 - int(m[1])}.upsample.conv.{m[2]}"
        m = re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(\w+)\.(.*)", k)
        if m:
            name = f"{m[1]}.mid.block_{int(m[2]) + 1}.{res.get(m[3], m[3])}.{m[4]}"
        m = re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.*)", k)
        if m:
            name = f"{m[1]}.mid.attn_1.{attn[m[2]]}.{m[3]}"
            if m[3] == "weight" and m[2] != "group_norm":
                v = v.reshape(*v.shape, 1, 1)
        if name is None:
            raise KeyError(f"vae_to_ldm: no rule for {k}")
        out[name] = v
    return out

