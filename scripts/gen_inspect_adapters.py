"""gen_inspect_adapters.py — adapter fixtures for `loom inspect` (called by gen_fixtures_inspect.py).

Every adapter is written by the library that defines its format: LyCORIS through its kohya
wrapper (lycoris.kohya.create_network + save_weights, the path kohya's train_network.py
takes with --network_module lycoris.kohya) and peft + diffusers' save_lora_weights. They
are applied to a FULL-SIZE SD1.5 UNet (diffusers UNet2DConditionModel, SD1.5 config) and a
full-size CLIP ViT-L/14 text encoder, randomly initialised on the CPU, so every factor has
a real SD1.5 shape; low ranks and restricted module sets keep the files small.

The expected values (module counts, per-algorithm counts, ranks, alphas, DoRA/Tucker/conv
modules) are read from the LyCORIS / peft module objects the generator created, not
from the files and never from loom. Ranks follow A1111's definition (adapters.md §3.1).
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file

ALGO = {"LoConModule": "lora", "LohaModule": "loha", "LokrModule": "lokr", "IA3Module": "ia3",
        "FullModule": "full"}
# Every key LycorisNetworkKohya.apply_preset reads: a partial preset would inherit the
# previous network's class attributes (it sets them on the class).
PRESET_KEYS = dict(enable_conv=False, unet_target_module=[], unet_target_name=[], text_encoder_target_module=[],
                   text_encoder_target_name=[], module_algo_map={}, name_algo_map={}, use_fnmatch=False,
                   exclude_name=[])


def sd15_models():
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection
    torch.manual_seed(15)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)  # the rest of the defaults are SD1.5's
    # WithProjection keeps the `text_model.` level that CLIPTextModel had before transformers 5,
    # so LyCORIS names the modules lora_te_text_model_encoder_layers_N_… as in real files.
    te = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                                    num_hidden_layers=12, num_attention_heads=12,
                                                    max_position_embeddings=77, hidden_act="quick_gelu",
                                                    projection_dim=768))
    return unet.eval(), te.eval()


def module_rank(m, sd):
    """A1111's rank (adapters.md §3.1) from the module's own parameters."""
    p = m.lora_name + "."
    for k in ("lora_down.weight", "hada_w1_b", "lokr_w2_b", "lokr_w1_b"):
        if p + k in sd:
            return int(sd[p + k].shape[0])
    return None


def mode(values):
    """Most frequent value; ties go to the smallest."""
    return min(set(values), key=lambda v: (-values.count(v), v))


def describe(net, path, algo_kinds):
    """What LyCORIS built: counts per algorithm, ranks, alphas, DoRA / Tucker / k×k conv modules."""
    sd = load_file(path)
    types, ranks, alphas = {}, [], []
    info = {"dora": 0, "tucker": 0, "conv": 0}
    for m in net.unet_loras + net.text_encoder_loras:
        kind = ALGO[type(m).__name__]
        types[kind] = types.get(kind, 0) + 1
        r = module_rank(m, sd)
        if r is not None:
            ranks.append(r)
        if kind in ("lora", "loha", "lokr"):
            alphas.append(float(sd[m.lora_name + ".alpha"].float()))
        p = m.lora_name + "."
        info["dora"] += p + "dora_scale" in sd
        info["tucker"] += any(p + k in sd for k in ("lora_mid.weight", "hada_t1", "lokr_t2"))
        if m.module_type == "conv2d" and tuple(m.shape[2:]) != (1, 1):
            info["conv"] += 1
    # every key the file holds is one of these modules' (save_weights writes the network's state_dict)
    assert len(sd) == sum(len(m.state_dict()) for m in net.unet_loras + net.text_encoder_loras)
    a = {"types": types, "modules": {"unet": len(net.unet_loras), "te": len(net.text_encoder_loras)},
         "dora_modules": info["dora"], "tucker_modules": info["tucker"], "unmatched_keys": 0}
    if ranks:
        a["rank"] = {"min": min(ranks), "max": max(ranks), "common": mode(ranks)}
    if alphas:
        a["alpha"] = {"min": min(alphas), "max": max(alphas), "common": mode(alphas)}
    if "conv" in algo_kinds:  # only where the factors show the kernel (LoRA down / Tucker cores)
        a["conv_modules"] = info["conv"]
    return a, sd


def lycoris_file(out, name, unet, te, algo, dim, alpha, preset, meta, conv_kinds=(), **kw):
    from lycoris import kohya
    from lycoris.config import PRESET
    full = dict(PRESET_KEYS)
    full.update(preset)
    PRESET["loom-" + name] = full
    torch.manual_seed(len(name))
    net = kohya.create_network(1.0, dim, alpha, None, te, unet, algo=algo, preset="loom-" + name, **kw)
    net.apply_to(te, unet, apply_text_encoder=True, apply_unet=True)  # registers the modules, as train_network does
    # A freshly made network has zero up-factors; give every parameter values, as training would.
    with torch.no_grad():
        for p in net.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.01)
    path = os.path.join(out, name)
    net.save_weights(path, torch.float16, dict(meta))
    a, sd = describe(net, path, conv_kinds)
    return a, sd


def kohya_meta(module, dim, alpha, output, args=None, base="sd_v1"):
    m = {"ss_network_module": module, "ss_network_dim": str(dim), "ss_network_alpha": str(alpha),
         "ss_base_model_version": base, "ss_output_name": output, "ss_v2": "False",
         "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors", "ss_clip_skip": "None"}
    if args is not None:
        m["ss_network_args"] = json.dumps(args)
    return m


def only(*prefixes):
    """LyCORIS exclude_name regex keeping the modules under the given paths only."""
    alt = "|".join(p.replace(".", r"\.") for p in prefixes)
    return [rf"^(?!({alt})(\.|$)).+"]


def generate(out, expected, record):
    unet, te = sd15_models()
    files = []
    # 1. kohya-format LoRA: the attention projections of every UNet transformer and every
    #    CLIP layer (LoConModule writes kohya's LoRAModule keys: lora_down/lora_up/alpha).
    meta = kohya_meta("networks.lora", 1, 0.5, "loom_lora")
    meta.update({"modelspec.sai_model_spec": "1.0.0", "modelspec.architecture": "stable-diffusion-v1/lora",
                 "modelspec.implementation": "diffusers", "modelspec.title": "loom test lora"})
    files.append(("lora_kohya_sd15.safetensors", "LyCORIS kohya wrapper, algo=lora, attention modules",
                  dict(algo="lora", dim=1, alpha=0.5, meta=meta, conv_kinds=("conv",),
                       preset=dict(unet_target_module=["Attention"], text_encoder_target_module=["CLIPAttention"])),
                  {}))
    # 2. LoHa with Tucker cores on the 3x3 convs of down_blocks.0 and CLIP layer 0.
    files.append(("loha_sd15.safetensors", "LyCORIS kohya wrapper, algo=loha, use_tucker",
                  dict(algo="loha", dim=1, alpha=1, conv_dim=2, conv_alpha=1, use_tucker=True, conv_kinds=("conv",),
                       meta=kohya_meta("lycoris.kohya", 1, 1, "loom_loha",
                                       {"algo": "loha", "conv_dim": 2, "conv_alpha": 1, "use_tucker": True}),
                       preset=dict(enable_conv=True, unet_target_module=["Transformer2DModel", "ResnetBlock2D",
                                                                         "Downsample2D"],
                                   text_encoder_target_module=["CLIPAttention", "CLIPMLP"],
                                   exclude_name=only("down_blocks.0", "text_model.encoder.layers.0"))), {}))
    # 3. LoKr (factor -1) with Tucker on down_blocks.1's resnets and attentions.
    files.append(("lokr_sd15.safetensors", "LyCORIS kohya wrapper, algo=lokr, use_tucker",
                  dict(algo="lokr", dim=4, alpha=2, conv_dim=2, conv_alpha=2, use_tucker=True,
                       meta=kohya_meta("lycoris.kohya", 4, 2, "loom_lokr", {"algo": "lokr", "factor": -1}),
                       preset=dict(enable_conv=True, unet_target_module=["Transformer2DModel", "ResnetBlock2D"],
                                   exclude_name=only("down_blocks.1.resnets.0", "down_blocks.1.attentions.0"))),
                  {}))
    # 4. (IA)^3 on to_k/to_v/ff.net.2 of down_blocks.0 and k_proj/v_proj/fc2 of CLIP layers 0-3
    #    (LyCORIS' ia3 preset, with regexes that match diffusers' full module paths).
    files.append(("ia3_sd15.safetensors", "LyCORIS kohya wrapper, algo=ia3",
                  dict(algo="ia3", dim=1, alpha=1, meta=kohya_meta("lycoris.kohya", 1, 1, "loom_ia3", {"algo": "ia3"}),
                       preset=dict(unet_target_name=[r"down_blocks\.0\..*\.(to_k|to_v|ff\.net\.2)$"],
                                   text_encoder_target_name=[r"text_model\.encoder\.layers\.[0-3]\.(self_attn\.k_proj|"
                                                             r"self_attn\.v_proj|mlp\.fc2)$"],
                                   name_algo_map={r".*(ff\.net\.2|mlp\.fc2)$": {"train_on_input": True}})), {}))
    # 5. full (diff + diff_b) on conv_in and conv_out.
    files.append(("full_sd15.safetensors", "LyCORIS kohya wrapper, algo=full",
                  dict(algo="full", dim=1, alpha=1,
                       meta=kohya_meta("lycoris.kohya", 1, 1, "loom_full", {"algo": "full"}),
                       preset=dict(enable_conv=True, unet_target_name=["conv_in", "conv_out"])), {}))
    # 6. LoCon: linear rank 2, 3x3 conv rank 4 with Tucker, on up_blocks.3.resnets.2 and
    #    up_blocks.3.attentions.2, plus a bundled embedding (adapters.md §2.12).
    files.append(("locon_tucker_sd15.safetensors", "LyCORIS kohya wrapper, algo=locon, conv_dim, use_tucker",
                  dict(algo="locon", dim=2, alpha=1, conv_dim=4, conv_alpha=2, use_tucker=True, conv_kinds=("conv",),
                       meta=kohya_meta("lycoris.kohya", 2, 1, "loom_locon",
                                       {"algo": "locon", "conv_dim": 4, "conv_alpha": 2, "use_tucker": True}),
                       preset=dict(enable_conv=True, unet_target_module=["Transformer2DModel", "ResnetBlock2D"],
                                   exclude_name=only("up_blocks.3.resnets.2", "up_blocks.3.attentions.2"))),
                  {"bundle": ("loomstyle", 2)}))
    # 7. DoRA (dora_wd, output-axis magnitude) on one transformer and one CLIP layer; its
    #    metadata claims SDXL, which the keys contradict.
    files.append(("dora_sd15.safetensors", "LyCORIS kohya wrapper, algo=lora, dora_wd",
                  dict(algo="lora", dim=1, alpha=1, dora_wd=True, conv_kinds=("conv",),
                       meta=kohya_meta("lycoris.kohya", 1, 1, "loom_dora", {"algo": "lora", "dora_wd": True},
                                       base="sdxl_base_v1-0"),
                       preset=dict(unet_target_module=["Transformer2DModel"],
                                   text_encoder_target_module=["CLIPAttention"],
                                   exclude_name=only("down_blocks.0.attentions.0", "text_model.encoder.layers.0"))),
                  {"metadata_mismatch": True}))
    for name, tool, spec, extra in files:
        spec = dict(spec)
        a, sd = lycoris_file(out, name, unet, te, spec.pop("algo"), spec.pop("dim"), spec.pop("alpha"),
                             spec.pop("preset"), spec.pop("meta"), **spec)
        info = {}
        if "bundle" in extra:
            emb, n = extra["bundle"]
            path = os.path.join(out, name)
            from safetensors import safe_open
            with safe_open(path, "pt") as f:
                meta = f.metadata()
            sd[f"bundle_emb.{emb}.string_to_param.*"] = (torch.randn(n, 768) * 0.01).half()
            save_file(sd, path, meta)
            info["bundled_embeddings"] = 1
        if extra.get("metadata_mismatch"):
            info["metadata_mismatch"] = True
        # conv_in / conv_out have the same shapes in SD1.x, SD2.x and SDXL: nothing in that
        # file can tell the family, so "unknown" is the right answer for it.
        family = "unknown" if name.startswith("full_") else "sd1"
        record(expected, name, "safetensors", list(sd.values()), tool=tool, kind="adapter", family=family,
               layout="kohya", adapter=a, **info)
    peft_lora(out, expected, record, unet, te)
    other_families(out, expected, record)


def clip(width, layers, heads, act):
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection
    return CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=width, intermediate_size=4 * width,
                                                      num_hidden_layers=layers, num_attention_heads=heads,
                                                      max_position_embeddings=77, hidden_act=act,
                                                      projection_dim=width))


def other_families(out, expected, record):
    """Small kohya-format LoRAs for SD2.x and SDXL. The base models live on the meta device:
    a LoRA module only needs the base layer's shape (LyCORIS allocates its factors itself)."""
    from diffusers import UNet2DConditionModel
    with torch.device("meta"):
        sd2_unet = UNet2DConditionModel(sample_size=96, cross_attention_dim=1024, use_linear_projection=True,
                                        attention_head_dim=(5, 10, 20, 20))
        sd2_te = clip(1024, 23, 16, "gelu")  # kohya keeps 23 of OpenCLIP-H's 24 layers (adapters.md §4.1)
        xl_unet = UNet2DConditionModel(sample_size=128, cross_attention_dim=2048, block_out_channels=(320, 640, 1280),
                                       down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                                       up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                                       transformer_layers_per_block=(1, 2, 10), use_linear_projection=True,
                                       attention_head_dim=(5, 10, 20), addition_embed_type="text_time",
                                       addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
        xl_te = [clip(768, 12, 12, "quick_gelu"), clip(1280, 32, 20, "gelu")]
    for name, fam, unet, te, block, base in (
            ("lora_kohya_sd2.safetensors", "sd2", sd2_unet, sd2_te, "down_blocks.0.attentions.0", "sd_v2_768_v"),
            ("lora_kohya_sdxl.safetensors", "sdxl", xl_unet, xl_te, "down_blocks.2.attentions.0.transformer_blocks.1",
             "sdxl_base_v1-0")):
        meta = kohya_meta("networks.lora", 1, 1, name[:-12], base=base)
        meta["ss_v2"] = str(fam == "sd2")
        a, sd = lycoris_file(out, name, unet, te, "lora", 1, 1,
                             dict(unet_target_module=["Attention"], text_encoder_target_module=["CLIPAttention"],
                                  exclude_name=only(block, "text_model.encoder.layers.0")), meta, conv_kinds=("conv",))
        record(expected, name, "safetensors", list(sd.values()), tool="LyCORIS kohya wrapper, algo=lora",
               kind="adapter", family=fam, layout="kohya", adapter=a)


def peft_lora(out, expected, record, unet, te):
    """diffusers training-script LoRA (train_dreambooth_lora.py): peft on the UNet and the text
    encoder, convert_state_dict_to_diffusers, save_lora_weights (the `unet.` / `text_encoder.`
    prefixes and diffusers suffixes of adapters.md §1.4)."""
    import tempfile
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
    torch.manual_seed(7)
    unet.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=["to_k", "to_v"], init_lora_weights="gaussian"))
    # what transformers' add_adapter does (it needs a newer peft than the one installed)
    inject_adapter_in_model(LoraConfig(r=1, lora_alpha=1, target_modules=["q_proj", "v_proj"],
                                       init_lora_weights="gaussian"), te)
    peft_sd = get_peft_model_state_dict(unet)
    te_sd = get_peft_model_state_dict(te)
    n_modules = sum(k.endswith("lora_A.weight") for k in peft_sd)
    n_te = sum(k.endswith("lora_A.weight") for k in te_sd)
    layers = convert_state_dict_to_diffusers({k: v.half() for k, v in peft_sd.items()})
    te_layers = convert_state_dict_to_diffusers({k: v.half() for k, v in te_sd.items()})
    name = "lora_peft_sd15.safetensors"
    with tempfile.TemporaryDirectory() as t:
        StableDiffusionPipeline.save_lora_weights(save_directory=t, unet_lora_layers=layers,
                                                  text_encoder_lora_layers=te_layers, safe_serialization=True)
        os.replace(os.path.join(t, "pytorch_lora_weights.safetensors"), os.path.join(out, name))
    sd = load_file(os.path.join(out, name))
    a = {"types": {"lora": n_modules + n_te}, "modules": {"unet": n_modules, "te": n_te}, "dora_modules": 0,
         "tucker_modules": 0, "rank": {"min": 1, "max": 1, "common": 1}, "conv_modules": 0, "unmatched_keys": 0}
    record(expected, name, "safetensors", list(sd.values()), tool="peft LoraConfig + diffusers save_lora_weights",
           kind="adapter", family="sd1", layout="diffusers", adapter=a)
