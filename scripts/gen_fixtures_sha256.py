#!/usr/bin/env python3
"""gen_fixtures_sha256.py — SHA-256 vectors from hashlib for tests/sha256/test_sha256.c.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_sha256.py

Writes tests/fixtures/sha256/vectors.safetensors:
  data     u8 [N]      pseudo-random bytes (fixed seed), with b"abc" and FIPS 180-4's two-block
                       message "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" first
  lengths  i64 [M]     the messages: consecutive slices of data of these lengths (0 included; the
                       lengths straddle SHA-256's padding boundaries 55/56/64 and span several blocks)
  digests  u8 [M, 32]  hashlib.sha256 of each message
  ranges   i64 [R, 2]  (offset, length) slices of data, length -1 meaning to the end, as
                       loom_sha256_file hashes them from a file holding data
  range_digests u8 [R, 32]
"""
import hashlib
import os
import random

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "sha256")

FIXED = [b"abc", b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]
LENGTHS = [0, 1, 2, 31, 32, 54, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 191, 192, 255, 256,
           1000, 4096, 4099, 65537]


def main():
    rng = random.Random(20240613)
    msgs = FIXED + [bytes(rng.getrandbits(8) for _ in range(n)) for n in LENGTHS]
    data = b"".join(msgs)
    ranges = [(0, -1), (0, 0), (1, 62), (17, 5000), (len(data) - 1, 1), (len(data), 0), (1 << 16, -1)]
    rd = [hashlib.sha256(data[o:] if n < 0 else data[o:o + n]).digest() for o, n in ranges]
    os.makedirs(OUT, exist_ok=True)
    t = {
        "data": torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy()),
        "lengths": torch.tensor([len(m) for m in msgs], dtype=torch.int64),
        "digests": torch.from_numpy(np.frombuffer(b"".join(hashlib.sha256(m).digest() for m in msgs),
                                                  dtype=np.uint8).reshape(len(msgs), 32).copy()),
        "ranges": torch.tensor(ranges, dtype=torch.int64),
        "range_digests": torch.from_numpy(np.frombuffer(b"".join(rd), dtype=np.uint8).reshape(len(rd), 32).copy()),
    }
    path = os.path.join(OUT, "vectors.safetensors")
    save_file(t, path, metadata={"generator": "scripts/gen_fixtures_sha256.py", "reference": "hashlib.sha256"})
    print(f"{len(msgs)} messages, {len(ranges)} ranges, {len(data)} bytes -> {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
