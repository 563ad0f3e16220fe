"""fp16 / bf16 conversion fixture for tests/ops/test_dtype_conv.c:
tests/fixtures/ops/dtype_conv.safetensors, torch's own casts as raw bits.

Run through scripts/gen_fixtures.py ops (or `gen_fixtures.py ops dtype_conv`).
"""
import json
import os

import numpy as np
import torch
from safetensors.numpy import save_file


def dtype_conv_tensors():
    """f32 values with torch's .half() / .bfloat16() as raw bits, and every
    f16 / bf16 bit pattern with torch's .float(); compared bit for bit."""
    rng = np.random.default_rng(20240613)
    special = np.array([0.0, -0.0, 1.0, -1.0, 65504.0, -65504.0, 65519.996, 65520.0, 65536.0, 1e10, -1e10,
                        2.0**-14, 2.0**-14 * (1 - 2.0**-11), 2.0**-24, 2.0**-25, 2.0**-25 * 1.5, 2.0**-26,
                        3 * 2.0**-25, 1e-30, -1e-30, 1.401298464e-45, 3.4028235e38, -3.4028235e38,
                        np.inf, -np.inf, np.nan, -np.nan, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11,
                        1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.3895314e38, 3.3961775e38], dtype=np.float32)
    u32 = [special.view(np.uint32)]
    u32.append(rng.integers(0, 2**32, 8192, dtype=np.uint64).astype(np.uint32))  # any bit pattern
    mags = np.exp2(rng.uniform(-30, 18, 4096)) * rng.choice([-1, 1], 4096)  # around the f16 range
    u32.append(mags.astype(np.float32).view(np.uint32))
    # exact halfway points between neighbouring f16 values (ties to even), and one f32 ulp either side
    h = rng.integers(0, 0x7bff, 2048, dtype=np.uint64).astype(np.uint16)
    h = np.concatenate([h, np.arange(0, 40, dtype=np.uint16), np.array([0x03ff, 0x0400, 0x7bfe], np.uint16)])
    lo = h.view(np.float16).astype(np.float64)
    hi = (h + 1).view(np.float16).astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32)  # exact: f16 has 11 significant bits
    assert np.all(mid.astype(np.float64) == (lo + hi) / 2)
    sign = np.where(rng.integers(0, 2, mid.size) == 1, np.uint32(0x80000000), np.uint32(0))
    m = mid.view(np.uint32) | sign
    u32 += [m, m + 1, m - 1]
    # bf16 halfway points: low 16 bits exactly 0x8000, and one ulp either side
    b = rng.integers(0, 0x7f7f, 2048, dtype=np.uint64).astype(np.uint32) << 16
    b |= np.where(rng.integers(0, 2, b.size) == 1, np.uint32(0x80000000), np.uint32(0))
    u32 += [b | 0x8000, (b | 0x8000) + 1, (b | 0x8000) - 1]
    f32 = np.concatenate(u32).astype(np.uint32).view(np.float32)
    t = torch.from_numpy(f32.copy())
    all16 = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    return {
        "f32": f32,
        "f16_bits": t.half().view(torch.int16).numpy(),
        "bf16_bits": t.bfloat16().view(torch.int16).numpy(),
        "f16_all_f32": all16.view(torch.float16).float().numpy(),   # index i = f16 bits i
        "bf16_all_f32": all16.view(torch.bfloat16).float().numpy(),  # index i = bf16 bits i
    }


def generate(out_dir, generator):
    path = os.path.join(out_dir, "dtype_conv.safetensors")
    meta = {"format": "loom-dtype-conv/1", "generator": generator}
    save_file(dtype_conv_tensors(), path, metadata={"fixture": json.dumps(meta)})
    return path
