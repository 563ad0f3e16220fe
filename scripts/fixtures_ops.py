"""Op fixtures for tests/ops/test_cpu_ops.c: tests/fixtures/ops/<op>.safetensors.

Every expected value comes from PyTorch (or diffusers) evaluated in float64
on the exact f32 inputs, then rounded to f32. Inputs and outputs are stored
in loom's layouts (kernels/ops.h): NHWC activations, OHWI conv weights,
[out, in] linear weights; the script permutes to PyTorch's NCHW / OIHW and
back.

File layout (read by tests/ops/test_cpu_ops.c): one __metadata__ entry,
"fixture", a JSON object {"format": "loom-ops-fixture/1", "op": ..., "generator": ...,
"cases": [...]} (one key only: safetensors writes several metadata keys in
a random order, and the fixture bytes should not change between runs), with
one object per case:
      {"name": ..., "params": {...op arguments...},
       "inputs": {"x": {"shape": [...], "stored": true}                   -> tensor "<name>/x"
                  "w": {"shape": [...], "seed": s, "scale": f}},          -> fixture_rng.generate
       "output": {"shape": [...], "sampled": false},                      -> tensor "<name>/y"
       "inplace": "x"}   (optional: the op writes into that input's buffer)
  A sampled output stores "<name>/idx" (I32, flat indices into the output)
  and "<name>/y" (F32, the reference at those indices).
An input absent from "inputs" is passed as NULL (optional bias, gamma, ...).
Small inputs (<= STORE_MAX elements) are stored; larger ones are generated
from the counter-based PRNG in fixture_rng.py (mirrored in C), so the whole
directory stays a few MB while covering SD's real shapes.
"""
import json
import math
import os
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

import fixture_rng
import fixtures_dtype_conv

STORE_MAX = 4096     # inputs up to this many elements are stored, larger ones generated
FULL_MAX = 8192      # outputs up to this many elements are stored whole
SAMPLES = 8192       # sampled outputs: this many flat indices
FORMAT = "loom-ops-fixture/1"
GENERATOR = "scripts/gen_fixtures.py ops (torch %s)"

def seed_of(*parts):
    return zlib.crc32("/".join(parts).encode())


def f64(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).double()


def f32(v):
    """A scalar parameter as the C test passes it (a float), back in Python's double."""
    return float(np.float32(v))


def nhwc_to_nchw(t):
    return t.permute(0, 3, 1, 2)


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1)


class OpFile:
    """Cases of one op, written to <out>/<op>.safetensors."""

    def __init__(self, op):
        self.op, self.cases, self.tensors = op, [], {}

    def case(self, name, params=None, inplace=None):
        assert all(c["name"] != name for c in self.cases), name
        c = {"name": name, "params": params or {}, "inputs": {}}
        if inplace:
            c["inplace"] = inplace
        self.cases.append(c)
        return Case(self, c)

    def save(self, out_dir):
        meta = {"format": FORMAT, "op": self.op, "generator": GENERATOR % torch.__version__, "cases": self.cases}
        path = os.path.join(out_dir, self.op + ".safetensors")
        save_file(self.tensors, path, metadata={"fixture": json.dumps(meta)})
        return path


class Case:
    def __init__(self, f, c):
        self.f, self.c = f, c

    def key(self, k):
        return self.c["name"] + "/" + k

    def input(self, k, shape, scale=1.0, values=None, store=None):
        """An f32 input in loom's layout. Generated from the PRNG unless
        `values` is given; stored when small (or store=True). Values that are
        not PRNG output (offsets, special numbers) must be stored."""
        shape = list(shape)
        n = int(np.prod(shape, dtype=np.int64))
        if store is None:
            store = values is not None or n <= STORE_MAX
        if values is None:
            seed = seed_of(self.f.op, self.c["name"], k)
            a = fixture_rng.generate(seed, shape, scale)
            desc = {"shape": shape, "seed": seed, "scale": float(np.float32(scale))}
        else:
            a = np.ascontiguousarray(values, dtype=np.float32).reshape(shape)
            desc = {"shape": shape}
        if store:
            desc = {"shape": shape, "stored": True}
            self.f.tensors[self.key(k)] = a
        self.c["inputs"][k] = desc
        return a

    def output(self, ref):
        """ref: the float64 reference in loom's layout."""
        y = ref.detach().contiguous().numpy()
        assert np.all(np.isfinite(y)), self.c["name"]
        y32 = y.astype(np.float32)
        n = y32.size
        if n <= FULL_MAX:
            self.c["output"] = {"shape": list(y32.shape), "sampled": False}
            self.f.tensors[self.key("y")] = np.ascontiguousarray(y32)
        else:
            rng = np.random.default_rng(seed_of(self.f.op, self.c["name"], "idx"))
            assert n < 2**31
            idx = np.sort(rng.choice(n, SAMPLES, replace=False)).astype(np.int32)
            self.c["output"] = {"shape": list(y32.shape), "sampled": True}
            self.f.tensors[self.key("idx")] = idx
            self.f.tensors[self.key("y")] = np.ascontiguousarray(y32.reshape(-1)[idx])


# ---- linear / conv2d ---------------------------------------------------------

def linear_cases():
    f = OpFile("linear")
    cases = [  # name, x shape, N, bias, residual
        ("small_bias_residual", [2, 5, 7], 3, True, True),
        ("small_plain", [4, 16], 8, False, False),
        ("small_4d_bias", [2, 3, 4, 8], 5, True, False),
        ("sd_proj_4096x320", [1, 4096, 320], 320, True, False),
        ("sd_proj_out_residual", [1, 4096, 320], 320, True, True),
        ("sd_cross_kv_77x768", [1, 77, 768], 320, False, False),
        ("sd_ff_down_1024x1280", [2, 1024, 1280], 320, True, False),
        ("sd_geglu_proj_4096x320", [1, 4096, 320], 2560, True, False),
    ]
    for name, xs, n, has_b, has_r in cases:
        k = xs[-1]
        c = f.case(name)
        x = c.input("x", xs)
        w = c.input("w", [n, k], scale=1 / math.sqrt(k))
        b = c.input("bias", [n], scale=0.5) if has_b else None
        r = c.input("residual", xs[:-1] + [n]) if has_r else None
        y = F.linear(f64(x), f64(w), f64(b) if has_b else None)
        if has_r:
            y = y + f64(r)
        c.output(y)
    return f


def conv2d_cases():
    f = OpFile("conv2d")
    cases = [  # name, x NHWC, (O, kh, kw), stride, pad, bias, residual
        ("small_3x3_bias_residual", [2, 5, 6, 3], (4, 3, 3), (1, 1), (1, 1), True, True),
        ("small_3x3_s2_odd", [1, 7, 9, 5], (6, 3, 3), (2, 2), (1, 1), True, False),
        ("small_3x2_s21_p01", [1, 6, 5, 5], (4, 3, 2), (2, 1), (0, 1), False, False),
        ("small_1x1", [2, 4, 4, 8], (6, 1, 1), (1, 1), (0, 0), False, False),
        ("small_1x1_s2_pad", [1, 5, 5, 3], (2, 1, 1), (2, 2), (1, 1), True, False),
        ("small_5x5_nopad", [1, 9, 8, 4], (3, 5, 5), (1, 1), (0, 0), True, False),
        ("sd_conv_in_4to320", [1, 64, 64, 4], (320, 3, 3), (1, 1), (1, 1), True, False),
        ("sd_3x3_64x64x320", [1, 64, 64, 320], (320, 3, 3), (1, 1), (1, 1), True, False),
        ("sd_down_s2_64x64x320", [1, 64, 64, 320], (320, 3, 3), (2, 2), (1, 1), True, False),
        ("sd_skip_1x1_32x32_320to640", [1, 32, 32, 320], (640, 1, 1), (1, 1), (0, 0), True, False),
        ("sd_3x3_8x8x1280_residual", [1, 8, 8, 1280], (1280, 3, 3), (1, 1), (1, 1), True, True),
        ("sd_3x3_batch2_16x16x640", [2, 16, 16, 640], (640, 3, 3), (1, 1), (1, 1), True, False),
    ]
    for name, xs, (o, kh, kw), st, pd, has_b, has_r in cases:
        ci = xs[3]
        c = f.case(name, {"stride": list(st), "pad": list(pd)})
        x = c.input("x", xs)
        w = c.input("w", [o, kh, kw, ci], scale=1 / math.sqrt(kh * kw * ci))  # OHWI
        b = c.input("bias", [o], scale=0.5) if has_b else None
        y = F.conv2d(nhwc_to_nchw(f64(x)), f64(w).permute(0, 3, 1, 2), f64(b) if has_b else None,
                     stride=st, padding=pd)
        y = nchw_to_nhwc(y)
        if has_r:
            y = y + f64(c.input("residual", list(y.shape)))
        c.output(y)
    return f


# ---- norms ---------------------------------------------------------------------

def group_norm_cases():
    f = OpFile("group_norm")
    cases = [  # name, x (NHWC or [N,S,C]), groups, eps, silu, affine, offset
        ("small_4d", [2, 4, 5, 8], 4, 1e-5, False, True, 0.0),
        ("small_3d_silu", [2, 3, 12], 3, 1e-6, True, True, 0.0),
        ("small_no_affine", [1, 2, 2, 6], 2, 1e-5, False, False, 0.0),
        ("small_2d_one_group", [3, 10], 1, 1e-5, True, True, 0.0),
        ("small_offset_mean", [2, 4, 4, 8], 2, 1e-5, False, True, 100.0),
        ("sd_64x64x320_silu", [1, 64, 64, 320], 32, 1e-5, True, True, 0.0),
        ("sd_64x64x320_transformer", [1, 64, 64, 320], 32, 1e-6, False, True, 0.0),
        ("sd_8x8x1280_batch2_silu", [2, 8, 8, 1280], 32, 1e-5, True, True, 0.0),
    ]
    for name, xs, g, eps, silu, affine, offset in cases:
        ch = xs[-1]
        c = f.case(name, {"groups": g, "eps": eps, "silu": silu})
        if offset:  # |mean| >> std: catches E[x^2]-E[x]^2 and f32-folded means
            u = fixture_rng.generate(seed_of("group_norm", name, "x"), xs, 0.01)
            x = c.input("x", xs, values=u.astype(np.float64) + offset)
        else:
            x = c.input("x", xs, scale=2.0)
        gm = bt = None
        if affine:
            gm = c.input("gamma", [ch], values=1 + 0.25 * fixture_rng.generate(seed_of(name, "g"), [ch]))
            bt = c.input("beta", [ch], scale=0.5)
        xt = f64(x)
        xt = xt.permute(0, xt.dim() - 1, *range(1, xt.dim() - 1))  # channels to dim 1
        y = F.group_norm(xt, g, f64(gm) if affine else None, f64(bt) if affine else None, f32(eps))
        if silu:
            y = F.silu(y)
        y = y.permute(0, *range(2, y.dim()), 1)
        c.output(y)
    return f


def layer_norm_cases():
    f = OpFile("layer_norm")
    cases = [  # name, shape, eps, affine, offset
        ("small_3d", [2, 3, 8], 1e-5, True, 0.0),
        ("small_no_affine", [5, 16], 1e-5, False, 0.0),
        ("small_1d", [24], 1e-6, True, 0.0),
        ("small_offset_mean", [4, 32], 1e-5, True, -300.0),
        ("sd_4096x320", [1, 4096, 320], 1e-5, True, 0.0),
        ("clip_77x768_batch2", [2, 77, 768], 1e-5, True, 0.0),
    ]
    for name, xs, eps, affine, offset in cases:
        ch = xs[-1]
        c = f.case(name, {"eps": eps})
        if offset:
            u = fixture_rng.generate(seed_of("layer_norm", name, "x"), xs, 0.05)
            x = c.input("x", xs, values=u.astype(np.float64) + offset)
        else:
            x = c.input("x", xs, scale=3.0)
        gm = bt = None
        if affine:
            gm = c.input("gamma", [ch], values=1 + 0.25 * fixture_rng.generate(seed_of(name, "g"), [ch]))
            bt = c.input("beta", [ch], scale=0.5)
        y = F.layer_norm(f64(x), (ch,), f64(gm) if affine else None, f64(bt) if affine else None, f32(eps))
        c.output(y)
    return f


# ---- attention -------------------------------------------------------------------

def attention_ref(q, k, v, heads, scale, causal=False):
    """softmax(q·kᵀ·scale)·v per (batch, head) in float64; q [B,Sq,H·D] etc.
    causal: query i sees keys j <= i (torch's is_causal, top-left aligned)."""
    b, sq, hd = q.shape
    sk, hdv = k.shape[1], v.shape[2]
    d, dv = hd // heads, hdv // heads
    if scale <= 0:
        scale = 1 / math.sqrt(d)
    qh = q.view(b, sq, heads, d).transpose(1, 2)
    kh = k.view(b, sk, heads, d).transpose(1, 2)
    vh = v.view(b, sk, heads, dv).transpose(1, 2)
    out = torch.empty(b, heads, sq, dv, dtype=torch.float64)
    hidden = torch.ones(sq, sk, dtype=torch.bool).triu(1) if causal else None
    for i in range(b):
        for h in range(heads):  # one head at a time: 4096x4096 float64 scores are 134 MB
            s = qh[i, h] @ kh[i, h].T * scale
            if causal:
                s = s.masked_fill(hidden, float("-inf"))
            p = torch.softmax(s, dim=-1)
            out[i, h] = p @ vh[i, h]
    if sq * sk * heads * b <= 2**24:  # cross-check against torch's fused path
        sdpa = F.scaled_dot_product_attention(qh, kh, vh, scale=scale, is_causal=causal)
        assert torch.allclose(sdpa, out, rtol=1e-10, atol=1e-12)
    return out.transpose(1, 2).reshape(b, sq, hdv)


def attention_cases():
    f = OpFile("attention")
    cases = [  # name, B, Sq, Sk, heads, D, Dv, scale (<= 0: 1/sqrt(D))
        ("small_odd_lengths", 2, 7, 13, 2, 8, 8, 0.0),
        ("small_dv_ne_d_scale", 1, 5, 6, 3, 4, 6, 0.3),
        ("small_one_key", 1, 3, 1, 1, 4, 4, 0.0),
        ("head64_256x256", 1, 256, 256, 2, 64, 64, 0.0),
        ("head80_batch2_100x77", 2, 100, 77, 2, 80, 80, 0.0),
        ("head160_64x64", 1, 64, 64, 2, 160, 160, 0.0),
        ("sd_self_4096_h8_d40", 1, 4096, 4096, 8, 40, 40, 0.0),
        ("sd_cross_4096x77_h8_d40", 1, 4096, 77, 8, 40, 40, 0.0),
    ]
    for name, b, sq, sk, heads, d, dv, scale in cases:
        c = f.case(name, {"heads": heads, "scale": scale})
        # q is scaled up so the softmax is peaked, as in a trained UNet,
        # rather than a near-uniform average of v.
        q = c.input("q", [b, sq, heads * d], scale=4.0)
        k = c.input("k", [b, sk, heads * d])
        v = c.input("v", [b, sk, heads * dv])
        c.output(attention_ref(f64(q), f64(k), f64(v), heads, f32(scale)))
    return f


def attention_causal_cases():
    """CLIP's text self-attention (addons.md §4.8): causal, Sq == Sk == 77; plus
    Sq != Sk both ways, to pin the top-left alignment."""
    f = OpFile("attention_causal")
    cases = [  # name, B, Sq, Sk, heads, D, scale
        ("small_square", 2, 7, 7, 2, 8, 0.0),
        ("small_fewer_queries", 1, 4, 9, 3, 4, 0.3),
        ("small_more_queries", 1, 9, 4, 1, 4, 0.0),
        ("clip_l_77_h12_d64", 2, 77, 77, 12, 64, 0.0),
        ("openclip_h_77_h16_d64", 1, 77, 77, 16, 64, 0.0),
    ]
    for name, b, sq, sk, heads, d, scale in cases:
        c = f.case(name, {"heads": heads, "scale": scale})
        q = c.input("q", [b, sq, heads * d], scale=4.0)
        k = c.input("k", [b, sk, heads * d])
        v = c.input("v", [b, sk, heads * d])
        c.output(attention_ref(f64(q), f64(k), f64(v), heads, f32(scale), causal=True))
    return f


# ---- elementwise -------------------------------------------------------------------

def special_values():
    """Activation inputs covering the tails: exp overflow, erf saturation."""
    v = [-100, -88.8, -50, -20, -10, -6, -5, -4, -3, -2, -1.5, -1, -0.5, -1e-3, -1e-7, 0,
         1e-7, 1e-3, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 10, 20, 50, 88.8, 100]
    return np.array(v, dtype=np.float32)


ACTS = {  # loom_act name -> float64 reference
    "none": lambda x: x,
    "silu": F.silu,
    "gelu": lambda x: F.gelu(x, approximate="none"),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
}


def unary_cases():
    f = OpFile("unary")
    for act, ref in ACTS.items():
        c = f.case("small_" + act, {"act": act})
        x = c.input("x", [3, 5, 7], scale=6.0)
        c.output(ref(f64(x)))
        c = f.case("tails_" + act, {"act": act})
        x = c.input("x", [31], values=special_values())
        c.output(ref(f64(x)))
    c = f.case("inplace_silu", {"act": "silu"}, inplace="x")
    x = c.input("x", [2, 4, 4, 5], scale=5.0)
    c.output(F.silu(f64(x)))
    for act in ("silu", "gelu"):
        c = f.case("sd_64x64x320_" + act, {"act": act})
        x = c.input("x", [1, 64, 64, 320], scale=4.0)
        c.output(ACTS[act](f64(x)))
    return f


def geglu_cases():
    f = OpFile("geglu")
    for name, xs in [("small", [2, 3, 10]), ("small_2d", [5, 6]), ("sd_4096x2560", [1, 4096, 2560]),
                     ("sd_batch2_1024x5120", [2, 1024, 5120])]:
        c = f.case(name)
        x = f64(c.input("x", xs, scale=3.0))
        a, g = x.chunk(2, dim=-1)  # diffusers GEGLU: hidden_states, gate = proj(x).chunk(2, dim=-1)
        c.output(a * F.gelu(g))
    return f


def binary_cases(op):
    f = OpFile(op)
    fn = torch.add if op == "add" else torch.mul
    cases = [  # name, a shape, b shape, inplace
        ("same_shape", [2, 3, 4, 5], [2, 3, 4, 5], None),
        ("channel_vector", [2, 3, 4, 5], [5], None),
        ("per_sample_channel", [2, 3, 4, 6], [2, 1, 1, 6], None),
        ("middle_broadcast", [2, 3, 4, 5], [3, 1, 5], None),
        ("scalar_like", [4, 7], [1], None),
        ("tokens_3d", [2, 5, 8], [2, 1, 8], None),
        ("inplace_a", [3, 4, 5], [4, 5], "a"),
        ("inplace_b_same_shape", [3, 4, 5], [3, 4, 5], "b"),
        ("sd_temb_64x64x320", [2, 64, 64, 320], [2, 1, 1, 320], None),
        ("sd_residual_32x32x640", [1, 32, 32, 640], [1, 32, 32, 640], None),
    ]
    for name, ash, bsh, inplace in cases:
        c = f.case(name, inplace=inplace)
        a = c.input("a", ash, scale=2.0)
        b = c.input("b", bsh, scale=2.0)
        c.output(fn(f64(a), f64(b)))
    return f


def concat_cases():
    f = OpFile("concat")
    for name, ash, cb in [("small_4d", [2, 3, 4, 5], 7), ("small_2d", [3, 4], 1), ("small_1d", [3], 2),
                          ("sd_skip_32x32_640_320", [2, 32, 32, 640], 320), ("sd_skip_8x8_1280", [2, 8, 8, 1280], 1280)]:
        c = f.case(name)
        a = c.input("a", ash)
        b = c.input("b", ash[:-1] + [cb])
        c.output(torch.cat([f64(a), f64(b)], dim=-1))
    return f


def upsample2x_cases():
    f = OpFile("upsample2x")
    for name, xs in [("small", [2, 3, 4, 5]), ("small_1x1", [1, 1, 1, 3]), ("sd_32x32x1280", [1, 32, 32, 1280]),
                     ("sd_8x8x1280_batch2", [2, 8, 8, 1280])]:
        c = f.case(name)
        x = c.input("x", xs)
        y = F.interpolate(nhwc_to_nchw(f64(x)), scale_factor=2, mode="nearest")
        c.output(nchw_to_nhwc(y))
    return f


# ---- timestep embedding, softmax ---------------------------------------------------------

def timestep_ref(t, dim, max_period, flip, shift):
    """The diffusers get_timestep_embedding formula, evaluated in float64."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - shift))
    args = t[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


def timestep_embedding_cases():
    from diffusers.models.embeddings import get_timestep_embedding

    f = OpFile("timestep_embedding")
    t_all = np.array([0, 1, 999, 500.5, 0.25, 981, 37.75, 261], dtype=np.float32)
    cases = [  # name, t, dim, max_period, flip_sin_to_cos, freq_shift
        ("sd_320", t_all, 320, 10000.0, True, 0.0),
        ("sd_320_batch2", t_all[2:4], 320, 10000.0, True, 0.0),
        ("sin_cos_shift1", t_all, 256, 10000.0, False, 1.0),
        ("odd_dim_flip", t_all, 7, 10000.0, True, 0.0),
        ("odd_dim_shift1", t_all, 9, 10000.0, False, 1.0),
        ("period_1000", t_all, 64, 1000.0, True, 0.5),
        ("dim1", t_all[:3], 1, 10000.0, True, 0.0),
    ]
    for name, t, dim, mp, flip, shift in cases:
        c = f.case(name, {"dim": dim, "max_period": mp, "flip_sin_to_cos": flip, "freq_shift": shift})
        tt = c.input("t", [len(t)], values=t)
        y = timestep_ref(f64(tt), dim, mp, flip, shift)
        # the formula above is diffusers' own (which runs in f32: args near 1000 rad lose ~1e-4)
        ref32 = get_timestep_embedding(torch.from_numpy(tt), dim, flip_sin_to_cos=flip,
                                       downscale_freq_shift=shift, max_period=mp)
        assert torch.allclose(ref32.double(), y, atol=5e-4), name
        c.output(y)
    return f


def softmax_cases():
    f = OpFile("softmax")
    cases = [  # name, shape, input scale, softmax scale, inplace
        ("small", [3, 7], 2.0, 1.0, None),
        ("small_scaled_3d", [2, 5, 13], 4.0, 0.125, None),
        ("large_logits", [4, 9], 80.0, 1.5, None),  # exp(120) overflows f32 without the max shift
        ("negative_scale", [3, 6], 2.0, -0.7, None),
        ("one_column", [4, 1], 1.0, 1.0, None),
        ("inplace", [2, 3, 11], 3.0, 1.0, "x"),
        ("attn_scores_8x4096", [8, 4096], 10.0, 1.0, None),
    ]
    for name, xs, xscale, scale, inplace in cases:
        c = f.case(name, {"scale": scale}, inplace=inplace)
        x = c.input("x", xs, scale=xscale)
        c.output(F.softmax(f64(x) * f32(scale), dim=-1))
    return f


# ---- driver ----------------------------------------------------------------------------------

GENERATORS = {
    "linear": linear_cases, "conv2d": conv2d_cases, "group_norm": group_norm_cases,
    "layer_norm": layer_norm_cases, "attention": attention_cases, "attention_causal": attention_causal_cases,
    "geglu": geglu_cases,
    "unary": unary_cases, "add": lambda: binary_cases("add"), "mul": lambda: binary_cases("mul"),
    "concat": concat_cases, "upsample2x": upsample2x_cases,
    "timestep_embedding": timestep_embedding_cases, "softmax": softmax_cases,
}


def generate(out_dir, only=None):
    """Writes <out_dir>/<op>.safetensors for every op (or those in `only`)
    and dtype_conv.safetensors (fixtures_dtype_conv.py)."""
    os.makedirs(out_dir, exist_ok=True)
    for op, gen in GENERATORS.items():
        if only and op not in only:
            continue
        path = gen().save(out_dir)
        print("  %-60s %8.1f KB" % (os.path.relpath(path), os.path.getsize(path) / 1024))
    if not only or "dtype_conv" in only:
        path = fixtures_dtype_conv.generate(out_dir, GENERATOR % torch.__version__)
        print("  %-60s %8.1f KB" % (os.path.relpath(path), os.path.getsize(path) / 1024))
