#!/usr/bin/env python3
"""Good safetensors fixtures for tests/loader/test_safetensors.c.

Writes into tests/fixtures/loader/:
  st_dtypes.safetensors      every dtype loom knows, written by safetensors.torch.save_file,
                             with a 0-dim scalar, an empty [0, 3], a 4-D and a 5-D tensor and
                             a __metadata__ block
  st_unaligned.safetensors   header not padded to 8 bytes, so tensors start at odd offsets;
                             the reference reader (safetensors.torch.load_file) accepts it
  st_gaps.safetensors        padding bytes between tensors and after the last one; the
                             reference reader refuses it (its spans must tile the data area),
                             loom accepts it, so its expected values are the arrays written
  st_expected.json           what the reference sees in each file: per tensor the dtype name,
                             shape and values (integers exact, floats as float64 through torch),
                             the header order (Python's json module) and the metadata

The order of __metadata__ keys inside st_dtypes.safetensors changes from run to
run (the reference writer keeps them in a hash map), so regenerating changes its
bytes but not its meaning. Run by developers, never in CI:

    /work/venv/bin/python scripts/gen_fixtures_safetensors.py
"""
import json
import os
import struct

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "loader")

ST_NAME = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint64: "U64", torch.uint32: "U32", torch.uint16: "U16",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def dtype_tensors():
    g = torch.Generator().manual_seed(1234)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def randint(lo, hi, *shape, dtype):
        return torch.randint(lo, hi, shape, generator=g, dtype=torch.int64).to(dtype)

    return {
        "f32.weight": randn(3, 4),
        "f16.weight": randn(2, 5).half(),
        "bf16.bias": randn(7).bfloat16(),
        "f64.values": randn(2, 2).double(),
        "f8_e4m3": (randn(6) * 4).to(torch.float8_e4m3fn),
        "f8_e5m2": (randn(6) * 4).to(torch.float8_e5m2),
        # int64 beyond 2^32 and negative, to catch a reader that truncates
        "i64.ids": torch.tensor([[0, -1, 2**40 + 3], [-(2**45), 7, 2**52 + 1]], dtype=torch.int64),
        "i32": randint(-(2**31), 2**31, 5, dtype=torch.int32),
        "i16": randint(-(2**15), 2**15, 5, dtype=torch.int16),
        "i8": randint(-128, 128, 5, dtype=torch.int8),
        "u64": torch.tensor([0, 1, 2**62 + 5], dtype=torch.uint64),
        "u32": torch.tensor([0, 2**32 - 1, 123456], dtype=torch.uint32),
        "u16": torch.tensor([0, 65535, 4321], dtype=torch.uint16),
        "u8.mask": torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.uint8),
        "bool.flags": torch.tensor([True, False, False, True, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
        "conv.4d": randn(2, 3, 2, 2).half(),
        "five_d": randn(1, 2, 1, 3, 2),
    }


METADATA = {"format": "pt", "ss_network_dim": "4", "ss_network_args": '{"conv_dim": "2"}',
            "note": "caf\u00e9 \u2713"}


def values(t):
    if t.dtype.is_floating_point:
        return t.to(torch.float64).flatten().tolist()
    return [int(v) for v in t.flatten().tolist()]  # bool -> 0/1; JSON integers stay exact


def header_order(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    return [k for k in hdr if k != "__metadata__"]


def describe(path, tensors, metadata):
    return {
        "metadata": dict(sorted(metadata.items())),
        "order": header_order(path),
        "tensors": {k: {"dtype": ST_NAME[t.dtype], "shape": list(t.shape), "values": values(t)}
                    for k, t in tensors.items()},
    }


def write_raw(path, header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    path = os.path.join(OUT, "st_dtypes.safetensors")
    save_file(dtype_tensors(), path, metadata=METADATA)
    os.chmod(path, 0o644)  # the writer creates it 0600
    with safe_open(path, framework="pt") as f:
        md = f.metadata()
    expected["st_dtypes.safetensors"] = describe(path, load_file(path), md)

    # Unaligned: an f32 at data offset 1 after a 3-byte u8, and the JSON not
    # padded, so the data area itself starts at an odd file offset.
    a = torch.tensor([1, 2, 3], dtype=torch.uint8)
    b = torch.tensor([[1.5, -2.25], [1e-3, 65504.0]], dtype=torch.float32)
    c = torch.tensor([-7, 9], dtype=torch.int64)
    data = a.numpy().tobytes() + b.numpy().tobytes() + c.numpy().tobytes()
    hdr = {"bytes": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
           "odd.f32": {"dtype": "F32", "shape": [2, 2], "data_offsets": [3, 19]},
           "odd.i64": {"dtype": "I64", "shape": [2], "data_offsets": [19, 35]}}
    for pad in range(8):  # pick a header length that leaves the data area misaligned
        hdr["__metadata__"] = {"pad": "x" * pad}
        if (8 + len(json.dumps(hdr, separators=(",", ":")))) % 2 == 1:
            break
    path = os.path.join(OUT, "st_unaligned.safetensors")
    write_raw(path, hdr, data)
    expected["st_unaligned.safetensors"] = describe(path, load_file(path), hdr["__metadata__"])

    # Gaps: 5 bytes before the first tensor, 3 between, 4 at the end.
    x = torch.tensor([0.5, 0.25, -8.0], dtype=torch.float32)
    y = torch.tensor([3, -4], dtype=torch.int16)
    data = b"\xaa" * 5 + x.numpy().tobytes() + b"\xbb" * 3 + y.numpy().tobytes() + b"\xcc" * 4
    hdr = {"x": {"dtype": "F32", "shape": [3], "data_offsets": [5, 17]},
           "y": {"dtype": "I16", "shape": [2], "data_offsets": [20, 24]}}
    path = os.path.join(OUT, "st_gaps.safetensors")
    write_raw(path, hdr, data)
    try:
        load_file(path)
        raise SystemExit("the reference reader accepted st_gaps.safetensors; the fixture no longer shows a gap")
    except SystemExit:
        raise
    except Exception:
        pass  # expected: the reference insists on tiling
    expected["st_gaps.safetensors"] = describe(path, {"x": x, "y": y}, {})

    with open(os.path.join(OUT, "st_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
