#!/usr/bin/env python3
"""gen_fixtures_golden_pipeline.py — the golden-state reference for tests/golden_pipeline (issue 3's
"Golden-state test against diffusers on a tiny SD-architecture config").

Run by developers only (never in CI), with a built loom:

    /work/venv/bin/python scripts/gen_fixtures_golden_pipeline.py build/loom

Needs torch, diffusers, transformers, safetensors, ftfy, open_clip, lark and k-diffusion 0.1.1.post1 with
torchsde/trampoline/scipy (see gen_fixtures_sampler.py, whose k-diffusion loader and sigma tables are
reused here, as is ref_a1111_prompt.py's offline tokenizer and A1111 prompt parser).

The model: `loom make-checkpoint --preset demo --seed SEED` writes a deterministic random-weights SD1.x
single-file checkpoint. The weights are data: the script runs loom only to get that file, records its
SHA-256 (the test regenerates it and compares) and reads it with diffusers' own single-file code paths:
create_unet_diffusers_config_from_ldm / create_vae_diffusers_config_from_ldm on an LDM inference config
(v1-inference.yaml with the demo's dimensions, below), convert_ldm_unet_checkpoint,
convert_ldm_vae_checkpoint and convert_ldm_clip_checkpoint, each followed by a strict load that must use
every tensor of its part of the file. Every expected value is computed by the reference stack, as
AUTOMATIC1111 runs it:

  text         ref_a1111_prompt.chunk (A1111's parser, 77 ids padded with EOS) + transformers
               CLIPTextModel.last_hidden_state (clip skip 1) per chunk, chunks concatenated; A1111's
               "Original" emphasis (addons.md §4.9) is the identity for these prompts (NOTES below)
  unet         diffusers UNet2DConditionModel eps for a stored x, fractional t and the text contexts
  noise        torch.randn([1, 4, h, w], generator=torch.Generator().manual_seed(noise_seed)) — what
               loom's --rng cpu reproduces — times sigmas[0] (A1111 KDiffusionSampler.sample)
  sampling     k-diffusion's CompVisDenoiser around the diffusers UNet (c_in = 1/sqrt(sigma^2 + 1),
               t = sigma_to_t(sigma) unquantized, denoised = x - sigma * eps) inside A1111's
               CFGDenoiser (cond and uncond in one batch when their contexts have the same length, else
               one UNet call each; combine_denoised: uncond + (cond - uncond) * scale), run by sample_euler on get_sigmas(steps) ("normal") and by sample_dpmpp_2m on
               get_sigmas_karras(steps, sigma_min, sigma_max) of the model's table
  vae          diffusers AutoencoderKL.decode(latent / scaling_factor) of the Euler run's final latent

Everything runs twice: in float64 (the reference the test compares loom with) and in float32 (what
A1111 computes; its distance from float64 is printed and stored, and tells whether the random model is
well-conditioned enough for the test's 1e-4 tolerance to mean anything). The float64 run computes the
UNet's sinusoidal timestep embedding in float64 (diffusers builds t * freq in float32 even for a float64
model; gen_fixtures_golden_unet.py explains). Sigma tables are built in float64 as in
gen_fixtures_sampler.py (importing it also swaps torch.linspace for the formula of torch's CUDA kernel,
which loom implements) and rounded to float32 for the float32 run.

Writes tests/fixtures/golden_pipeline/ (a few hundred KB, no weights):
  expected.safetensors  reference tensors (float64 run stored as f32; "<name>_f32" = the float32 run;
                        sigma tables f64), __metadata__ = the config the test runs with
  config.json           the same config for people, plus the measured float32-vs-float64 errors
Tensors (image/latent layouts as named):
  text/prompt, text/negative [77, 64], text/prompt_long [154, 64]  CLIP contexts (1, 1 and 2 chunks)
  unet/x [2, h, w, 4] NHWC, unet/t [2], unet/context [2, 77, 64], unet/eps [2, h, w, 4] NHWC
  noise [1, 4, h, w] NCHW (the torch CPU draw, unscaled)
  sigmas/euler, sigmas/dpmpp_2m_karras  [steps + 1] f64
  latent/euler, latent/dpmpp_2m_karras  [1, 4, h, w] NCHW, unscaled (what --dump-latent writes)
  vae/out [1, 8h, 8w, 3] NHWC = decode(latent/euler / 0.18215)
  png/euler u8 [8h, 8w, 3]  A1111's pixels of vae/out (the Euler run's PNG)
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures_sampler as kd  # noqa: E402  k-diffusion loader, LDM alphas_cumprod, sigma tables
import ref_a1111_prompt as ref  # noqa: E402  A1111's prompt parser and the offline CLIP tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "golden_pipeline")

# The run. Chosen so that the float32 reference sits well inside 1e-5 of the float64 one (printed;
# measured ~1e-6). NOTES says why it is 128x128 and has no emphasis.
NOTES = [
    "128x128 px (16x16 latent), not 64x64: at an 8x8 latent the UNet's deepest level is 1x1, where each "
    "GroupNorm group (32 groups of 64 channels) normalises 2 values; their difference cancels and float32 "
    "rounding is amplified: the float32 UNet output was up to 4.5e-4 (rel L2) away from float64, so a 1e-4 "
    "test would measure rounding luck. At 16x16 (2x2 at the deepest level) float32 is ~7e-7 from float64.",
    "No emphasis prompt: the demo checkpoint's final_layer_norm has weight 1 and bias 0, so every context "
    "vector has mean 0 and A1111's 'Original' emphasis (z *= mean_before / mean_after) is a ratio of two "
    "rounding errors (0/0 exactly; in float arithmetic about 0.99 for typical prompts). Emphasis is golden-"
    "tested in tests/clip_vae with random norm affines.",
]
CONFIG = {
    "preset": "demo",
    "weights_seed": 1,
    "width": 128,
    "height": 128,
    "steps": 8,
    "cfg_scale": 7.0,
    "noise_seed": 42,
    "prompt": "a photo of a cat sitting on a wooden table, soft light, highly detailed",
    "negative_prompt": "blurry, low quality, watermark",
    # more than 75 tokens: two chunks (A1111's comma backtracking decides where the first one ends), so
    # the context is [154, 64] and CFG runs cond and uncond as separate UNet batches (different lengths)
    "prompt_long": ("an old stone lighthouse on a rocky island at dusk, waves crashing against the rocks, seagulls "
                    "circling overhead, a small wooden boat tied to the pier, warm light in the windows, dramatic "
                    "clouds, distant mountains, reflections on the wet stones, fine mist in the air, oil painting, "
                    "muted colours, rich texture, visible brush strokes, gallery lighting, museum quality, "
                    "masterpiece, trending on artstation"),
    "unet_t": [981.0, 417.625],
    "unet_x_seed": 7,
}
# Which prompt each sampler run uses (the negative prompt is the same).
RUNS = {"euler": ("normal", "prompt"), "dpmpp_2m_karras": ("karras", "prompt_long")}

# v1-inference.yaml with the demo preset's dimensions (host/model/sd1_layout.c "demo"): what an LDM
# single-file loader (diffusers from_single_file, A1111) reads the checkpoint with. Heads as loom
# assumes for a single file: 8 for the UNet (SD1's num_heads), 64 channels per CLIP head (1 here).
DEMO_LDM = {"model": {"params": {
    "scale_factor": 0.18215,
    "unet_config": {"params": {
        "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 32,
        "attention_resolutions": [4, 2, 1], "num_res_blocks": 2, "channel_mult": [1, 2, 2, 2],
        "num_heads": 8, "use_spatial_transformer": True, "transformer_depth": 1, "context_dim": 64,
        "use_checkpoint": False, "legacy": False}},
    "first_stage_config": {"params": {"embed_dim": 4, "ddconfig": {
        "double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 32,
        "ch_mult": [1, 1, 2, 2], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}}},
}}}
CLIP = dict(vocab_size=49408, hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=1,
            max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=49406,
            eos_token_id=49407, pad_token_id=49407)
UNET_PREFIX, VAE_PREFIX, CLIP_PREFIX = "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer."


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_checkpoint(loom, path):
    subprocess.run([loom, "make-checkpoint", "--preset", CONFIG["preset"], "--seed", str(CONFIG["weights_seed"]),
                    path], check=True, stdout=subprocess.DEVNULL)
    return sha256_file(path)


# ---------------------------------------------------------------------------------------------
# the models, through diffusers' single-file converters

def strict_load(model, sd, what, n_file):
    model.load_state_dict(sd, strict=True)
    assert len(sd) == n_file, f"{what}: {n_file} tensors in the file, {len(sd)} converted"
    return model.eval()


def load_models(path):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint,
                                                     create_unet_diffusers_config_from_ldm,
                                                     create_vae_diffusers_config_from_ldm)
    from transformers import CLIPTextConfig, CLIPTextModel

    ck = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(path).items()}
    count = {p: sum(k.startswith(p) for k in ck) for p in (UNET_PREFIX, VAE_PREFIX, CLIP_PREFIX)}
    assert sum(count.values()) == len(ck), "the checkpoint holds keys outside UNet / VAE / CLIP"

    ucfg = create_unet_diffusers_config_from_ldm(DEMO_LDM, ck, image_size=64)
    unet = strict_load(UNet2DConditionModel(**ucfg), convert_ldm_unet_checkpoint(ck, ucfg), "unet",
                       count[UNET_PREFIX])
    vcfg = create_vae_diffusers_config_from_ldm(DEMO_LDM, ck, image_size=64)
    # the encoder is in the file too; only decode is compared here (the VAE test covers encode)
    vae = strict_load(AutoencoderKL(**vcfg), convert_ldm_vae_checkpoint(ck, vcfg), "vae", count[VAE_PREFIX])
    assert vae.config.scaling_factor == 0.18215
    conv = convert_ldm_clip_checkpoint({k: v for k, v in ck.items() if k.startswith(CLIP_PREFIX)})
    # transformers 5 has no position_ids buffer (SD1 files carry it, loom ignores it)
    conv = {k[len("text_model."):]: v for k, v in conv.items() if not k.endswith("position_ids")}
    te = strict_load(CLIPTextModel(CLIPTextConfig(**CLIP)), conv, "clip", count[CLIP_PREFIX] - 1)
    return te, unet, vae


# ---------------------------------------------------------------------------------------------
# text (A1111 FrozenCLIPEmbedderWithCustomWords, one chunk, clip skip 1)

def chunks_of(text, tokenize):
    """A1111's chunks of a prompt: [(77 ids, 77 weights), …]."""
    chunks, _ = ref.chunk(text, tokenize)
    return [(c["ids"], c["weights"]) for c in chunks]


def emphasis_original(z, weights):
    """A1111's "Original" emphasis (addons.md §4.9) on one chunk z [1, 77, C]. With every weight 1 it
    is the identity: A1111 computes the same mean twice and multiplies by exactly 1. (Said here because
    the demo checkpoint's final_layer_norm has weight 1 and bias 0, so every token vector has mean 0
    and the ratio is 0/0 in exact arithmetic: float64 can give NaN where float32 gives 1. For the same
    reason a prompt WITH emphasis is meaningless on this model — A1111 would scale the context by a
    ratio of two rounding errors — and is refused below.)"""
    if all(v == 1.0 for v in weights):
        return z
    w = torch.tensor([weights], dtype=z.dtype)
    m0 = z.mean()
    assert abs(m0.item()) > 1e-3 * z.abs().mean().item(), "emphasis on a zero-mean context is ill-conditioned"
    z = z * w[:, :, None]
    return z * (m0 / z.mean())


def encode(te, chunks, dtype):
    """The context A1111 hands the UNet: each chunk through the text model (clip skip 1:
    last_hidden_state), emphasis per chunk, chunks concatenated along the tokens -> [77·k, C]."""
    out = []
    for ids, weights in chunks:
        with torch.no_grad():
            z = te.to(dtype)(input_ids=torch.tensor([ids], dtype=torch.int64)).last_hidden_state
        out.append(emphasis_original(z, weights)[0])
    return torch.cat(out)


# ---------------------------------------------------------------------------------------------
# the UNet as A1111 sees it

def timestep_embedding_f64(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1,
                           max_period=10000):
    """diffusers.models.embeddings.get_timestep_embedding, evaluated in float64."""
    import math
    half = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - downscale_freq_shift)
    emb = scale * timesteps[:, None].double() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class Precision:
    """Runs the models in `dtype`; float64 also evaluates the timestep embedding in float64."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        import diffusers.models.embeddings as emb
        self.orig = emb.get_timestep_embedding
        if self.dtype == torch.float64:
            emb.get_timestep_embedding = timestep_embedding_f64
        return self

    def __exit__(self, *exc):
        import diffusers.models.embeddings as emb
        emb.get_timestep_embedding = self.orig


class LatentDiffusionStandIn(torch.nn.Module):
    """What k-diffusion's CompVisDenoiser needs of LDM's LatentDiffusion: alphas_cumprod (LDM's linear
    schedule, registered as float32) and apply_model(x, t, cond) = the eps UNet."""

    def __init__(self, unet, dtype):
        super().__init__()
        self.unet = unet
        self.register_buffer("alphas_cumprod", torch.tensor(kd.AC32, dtype=torch.float32).to(dtype))

    def apply_model(self, x, t, cond):
        return self.unet(x, t, encoder_hidden_states=cond).sample


class CFGDenoiser:
    """A1111's CFGDenoiser for one image and one cond: cond and uncond in one batch when their contexts
    have the same length, else one UNet call each (A1111's default, pad_cond_uncond off); then
    combine_denoised: uncond + (cond - uncond) * scale."""

    def __init__(self, model, cond, uncond, scale):
        self.model, self.cond, self.uncond, self.scale = model, cond, uncond, scale
        self.calls = 0

    def __call__(self, x, sigma, **kw):
        with torch.no_grad():
            if self.cond.shape == self.uncond.shape:
                out = self.model(torch.cat([x, x]), torch.cat([sigma, sigma]),
                                 cond=torch.stack([self.cond, self.uncond]))
                d_cond, d_uncond = out[:1], out[1:]
            else:
                d_cond = self.model(x, sigma, cond=self.cond[None])
                d_uncond = self.model(x, sigma, cond=self.uncond[None])
        self.calls += 1
        return d_uncond + (d_cond - d_uncond) * self.scale


def sigma_table(sched, steps):
    """float64 table, as gen_fixtures_sampler.py builds it (k-diffusion's get_sigmas / get_sigmas_karras)."""
    torch.set_default_dtype(torch.float64)
    try:
        return kd.sigmas_for(kd.model_schedule(torch.float64), sched, steps, torch.float64)
    finally:
        torch.set_default_dtype(torch.float32)


def sample(unet, dtype, sampler, table, noise, cond, uncond):
    den = kd.external.CompVisDenoiser(LatentDiffusionStandIn(unet.to(dtype), dtype), quantize=False)
    cfg = CFGDenoiser(den, cond.to(dtype), uncond.to(dtype), CONFIG["cfg_scale"])
    table = table.to(dtype)
    x = noise.to(dtype) * table[0]
    fn = {"euler": kd.sampling.sample_euler, "dpmpp_2m_karras": kd.sampling.sample_dpmpp_2m}[sampler]
    with torch.no_grad(), Precision(dtype):
        x = fn(cfg, x, table, disable=True)
    assert cfg.calls == CONFIG["steps"]
    return x


# ---------------------------------------------------------------------------------------------

def rel_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("loom", help="path of the built loom executable")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    import diffusers
    diffusers.utils.logging.set_verbosity_error()  # .to(dtype) on a model warns on every cast
    torch.set_num_threads(1)  # reproducible float32 numbers from run to run

    with tempfile.TemporaryDirectory(prefix="loom_golden_") as tmp:
        ckpt = os.path.join(tmp, "demo.safetensors")
        digest = make_checkpoint(os.path.abspath(args.loom), ckpt)
        te, unet, vae = load_models(ckpt)

    tokenize = ref.clip_tokenizer()
    t, errs = {}, {}

    def put(name, ref64, ref32):
        t[name] = ref64.float().contiguous()
        t[name + "_f32"] = ref32.float().contiguous()
        errs[name] = rel_l2(ref32, ref64)
        print(f"{name:26s} {tuple(ref64.shape)!s:18s} |ref| {ref64.double().norm().item():10.4g}  "
              f"float32 vs float64 rel L2 {errs[name]:.2e}")

    # text
    ctx, texts = {}, {}
    for key, name in (("prompt", "text/prompt"), ("negative_prompt", "text/negative"), ("prompt_long", "text/prompt_long")):
        chunks = chunks_of(CONFIG[key], tokenize)
        texts[key] = [" ".join(map(str, i)) for i, _ in chunks]  # the 77 ids of each chunk (weights: all 1)
        put(name, encode(te, chunks, torch.float64), encode(te, chunks, torch.float32))
        ctx[key] = t[name]  # the stored tensor is what the UNet runs below get
    assert len(texts["prompt"]) == 1 and len(texts["negative_prompt"]) == 1 and len(texts["prompt_long"]) == 2

    # one UNet output (batch 2: the prompt's and the negative prompt's context, two timesteps)
    h, w = CONFIG["height"] // 8, CONFIG["width"] // 8
    g = torch.Generator().manual_seed(CONFIG["unet_x_seed"])
    x = torch.randn(2, 4, h, w, generator=g)
    tt = torch.tensor(CONFIG["unet_t"], dtype=torch.float32)
    c = torch.stack([ctx["prompt"], ctx["negative_prompt"]])
    with torch.no_grad():
        with Precision(torch.float64):
            eps64 = unet.double()(x.double(), tt.double(), c.double()).sample
            eps_t = unet(x.double(), tt.double().flip(0), c.double()).sample
            eps_c = unet(x.double(), tt.double(), c.double().flip(0)).sample
        with Precision(torch.float32):
            eps32 = unet.float()(x, tt, c).sample
    # the reference must depend on each input, or a test against it could not fail
    assert rel_l2(eps_t, eps64) > 1e-2 and rel_l2(eps_c, eps64) > 1e-3, (rel_l2(eps_t, eps64), rel_l2(eps_c, eps64))
    t["unet/x"], t["unet/t"], t["unet/context"] = nhwc(x), tt, c.contiguous()
    put("unet/eps", nhwc(eps64), nhwc(eps32))

    # sampling
    noise = torch.randn([1, 4, h, w], generator=torch.Generator().manual_seed(CONFIG["noise_seed"]))
    t["noise"] = noise
    latents = {}
    for run, (sched, prompt_key) in RUNS.items():
        table = sigma_table(sched, CONFIG["steps"])
        t["sigmas/" + run] = table.clone()
        lat64 = sample(unet, torch.float64, run, table, noise, ctx[prompt_key], ctx["negative_prompt"])
        lat32 = sample(unet, torch.float32, run, table, noise, ctx[prompt_key], ctx["negative_prompt"])
        put("latent/" + run, lat64, lat32)
        latents[run] = lat64
    assert rel_l2(latents["euler"], latents["dpmpp_2m_karras"]) > 1e-2
    # the final latent must depend on the text through CFG, or a wrong context could pass the test
    swapped = sample(unet, torch.float64, "euler", t["sigmas/euler"], noise, ctx["negative_prompt"], ctx["prompt"])
    assert rel_l2(swapped, latents["euler"]) > 1e-2, rel_l2(swapped, latents["euler"])

    # VAE decode of the stored Euler latent
    z = t["latent/euler"]
    with torch.no_grad():
        img64 = vae.double().decode(z.double() / vae.config.scaling_factor).sample
        img32 = vae.float().decode(z / vae.config.scaling_factor).sample
    put("vae/out", nhwc(img64), nhwc(img32))
    # the PNG pixels A1111 makes of it: 255 * clamp((x + 1) / 2, 0, 1), truncated by astype(np.uint8)
    t["png/euler"] = (255.0 * ((nhwc(img64)[0] + 1.0) / 2.0).clamp(0, 1)).to(torch.uint8).contiguous()

    worst = max(errs.values())
    print(f"worst float32-vs-float64 rel L2: {worst:.2e}")
    assert worst < 1e-5, "the float32 reference is not within 1e-5 of float64: pick a better-conditioned config"

    meta = {k: (json.dumps(v) if isinstance(v, (list, float)) else str(v)) for k, v in CONFIG.items()}
    meta.update({"checkpoint_sha256": digest, "generator": "scripts/gen_fixtures_golden_pipeline.py",
                 "vae_input": "latent/euler", "euler": "euler / normal / prompt",
                 "dpmpp_2m_karras": "DPM++ 2M Karras / prompt_long"})
    os.makedirs(args.out, exist_ok=True)
    save_file(t, os.path.join(args.out, "expected.safetensors"), metadata=meta)
    info = dict(CONFIG, notes=NOTES, checkpoint_sha256=digest, runs={k: {"scheduler": s, "prompt": p} for k, (s, p) in RUNS.items()},
                tokens=texts, float32_vs_float64_rel_l2=errs, tolerance_rel_l2=1e-4,
                versions={"torch": torch.__version__, "diffusers": __import__("diffusers").__version__,
                          "transformers": __import__("transformers").__version__, "k-diffusion": "0.1.1.post1"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {args.out} ({total} bytes), checkpoint sha256 {digest}")


if __name__ == "__main__":
    main()
