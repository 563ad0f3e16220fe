#!/usr/bin/env python3
"""Bad-input corpus for the safetensors loader (host/io/safetensors.c).

Writes tests/bad_inputs/st_*.safetensors and tests/bad_inputs/safetensors.tsv
(file TAB the substring loom's error must contain). The truncated files are
cut from a file written by safetensors.torch.save_file; the others have a
hand-made header, each breaking one rule of the format (addons.md §5.8) with
everything else valid. Each hand-made file is also offered to the reference
reader, and the script stops if that reader accepts one that loom must refuse
(except where loom is stricter on purpose, marked below). Run by developers,
never in CI:

    /work/venv/bin/python scripts/gen_bad_inputs_safetensors.py
"""
import json
import os
import struct

import torch
from safetensors.torch import load, save

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "bad_inputs")


def raw(header, data=b"", length=None):
    """A safetensors file from a header (dict, or bytes used as they are)."""
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def f32(name, shape, begin, end):
    return {name: {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}}


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []

    def put(name, data, want, reference_accepts=False):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        rows.append((name, want))
        try:
            load(data)
            accepted = True
        except Exception:
            accepted = False
        if accepted != reference_accepts:
            raise SystemExit(f"{name}: reference reader {'accepts' if accepted else 'refuses'} it")

    good = save({"a.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
                 "b.bias": torch.ones(4, dtype=torch.float16)}, metadata={"format": "pt"})
    hlen = struct.unpack("<Q", good[:8])[0]
    put("st_truncated_data.safetensors", good[:8 + hlen + 20], "runs past the end of the data area")
    put("st_truncated_header.safetensors", good[:8 + hlen // 2], "runs past the end of the file")
    put("st_header_past_end.safetensors", struct.pack("<Q", len(good)) + good[8:], "runs past the end of the file")
    put("st_header_huge.safetensors", struct.pack("<Q", 2**63) + good[8:], "exceeds the limit")
    put("st_header_not_json.safetensors", raw(b"{not json}"), "header is not valid JSON")
    # '[' at byte 8: container detection (tensor_file.c) never hands it to the safetensors parser
    put("st_header_not_object.safetensors", raw(b"[1,2,3] "), "header is not a JSON object")
    put("st_bad_utf8.safetensors", raw(b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "header is not valid JSON")
    put("st_nul_in_name.safetensors", raw(b'{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                          b"\0" * 4), "header is not valid JSON",
        reference_accepts=True)  # serde allows NUL in names; loom's names are C strings
    put("st_duplicate_name.safetensors", raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                             b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "duplicate", reference_accepts=True)  # serde keeps the last one; loom refuses to guess
    put("st_deep_nesting.safetensors", raw(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
        "header is not valid JSON")
    put("st_unknown_dtype.safetensors",
        raw({"w": {"dtype": "F8_E8M0", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype 'F8_E8M0'")
    put("st_newline_in_name.safetensors",
        raw({"evil\nname": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype 'Q4'")
    put("st_dtype_not_string.safetensors",
        raw({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "dtype is not a string")
    put("st_negative_dim.safetensors", raw(f32("w", [-1, 2], 0, 8), b"\0" * 8), "is not a non-negative integer")
    put("st_float_dim.safetensors", raw(f32("w", [2.0], 0, 8), b"\0" * 8), "is not a non-negative integer")
    put("st_size_mismatch.safetensors", raw(f32("w", [2, 3], 0, 20), b"\0" * 24), "span 20 bytes, but 6 elements of F32 need 24")
    put("st_span_past_end.safetensors", raw(f32("w", [4], 0, 16), b"\0" * 12), "runs past the end of the data area")
    put("st_overlap.safetensors", raw({**f32("a", [4], 0, 16), **f32("b", [4], 8, 24)}, b"\0" * 24), "overlap")
    put("st_begin_after_end.safetensors", raw(f32("w", [0], 16, 8), b"\0" * 16), "is after end")
    put("st_offsets_not_pair.safetensors",
        raw({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, b"\0" * 8),
        "not a pair of non-negative integers")
    put("st_huge_shape.safetensors", raw(f32("w", [2**40, 2**40, 2**40], 0, 4), b"\0" * 4), "overflows")
    put("st_huge_bytes.safetensors", raw({"w": {"dtype": "F64", "shape": [2**62], "data_offsets": [0, 8]}},
                                         b"\0" * 8), "byte count overflows")
    put("st_huge_empty_shape.safetensors", raw(f32("w", [0, 2**62, 2**62], 0, 0)), "overflows")
    put("st_too_many_dims.safetensors", raw(f32("w", [1] * 9, 0, 4), b"\0" * 4), "loom reads at most 8",
        reference_accepts=True)  # the reference has no rank limit; loom's directory holds 8
    put("st_metadata_not_string.safetensors", raw({"__metadata__": {"k": 5}, **f32("w", [1], 0, 4)}, b"\0" * 4),
        "__metadata__ value for 'k' is not a string")
    put("st_metadata_not_object.safetensors", raw({"__metadata__": ["k"], **f32("w", [1], 0, 4)}, b"\0" * 4),
        "__metadata__ is not an object")
    put("st_missing_offsets.safetensors", raw({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
        "missing 'data_offsets'")
    put("st_unknown_field.safetensors",
        raw({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "strides": [1]}}, b"\0" * 4),
        "unknown field 'strides'", reference_accepts=True)  # serde ignores it; it could change the meaning
    put("st_entry_not_object.safetensors", raw({"w": [1, 2]}, b"\0" * 4), "entry is not an object")
    put("st_zero_bytes.safetensors", b"", "empty file")
    put("st_7_bytes.safetensors", b"\x08\0\0\0\0\0\0", "unknown file type")

    with open(os.path.join(OUT, "safetensors.tsv"), "w") as f:
        f.write("# made by scripts/gen_bad_inputs_safetensors.py: file<TAB>substring of the expected error\n")
        for name, want in rows:
            f.write(f"{name}\t{want}\n")


if __name__ == "__main__":
    main()
