#!/usr/bin/env python3
"""Fixtures for loom's PyTorch checkpoint loader (host/io/torch_zip.c).

Writes small files saved with real torch.save into tests/fixtures/loader/:

  pt_plain.pt        state dict of every dtype torch saves (incl. 0-dim, empty,
                     float8 / uint16 which use _rebuild_tensor_v3)
  pt_sd.ckpt         SD-style {'state_dict': {...}, 'epoch', 'global_step', ...}
  pt_views.pt        tensors sharing one storage with offsets, a transposed
                     view and an expanded (stride 0) view, saved as views
  pt_module.pt       nn.Module.state_dict() (OrderedDict + _metadata BUILD)
  pt_hypernet.pt     A1111 hypernetwork layout (int keys -> tuple of 2 state dicts)
  pt_ti_orig.pt      original textual-inversion file (nn.ParameterDict object)
  pt_deflated.pt     pt_plain.pt re-zipped with ZIP_DEFLATED
  pt_proto4.pt / pt_proto5.pt   pickle_protocol=4 / 5
  pt_bigendian.pt    pt_plain.pt as a big-endian machine writes it (see below)
  pt_bare.pt         a bare tensor at the root (aesthetic embedding layout)

and the reference read by torch.load itself:

  torch_expected.json         per file: every tensor loom must list (name,
                              dtype, shape, stride, key of its reference bytes)
                              and, for some files, the typed value tree
  torch_expected.safetensors  the reference tensors, made contiguous

Big-endian: torch.save has no switch to write big-endian storages; a
big-endian machine writes byteorder 'big' and byte-swapped records. We build
exactly that from pt_plain.pt and check torch.load reads it back to the same
values before using it.

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_fixtures_torch.py
"""
import argparse
import collections
import io
import json
import os
import pickle
import warnings
import zipfile

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "loader")

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL", torch.uint16: "U16", torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2",
}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def plain_state():
    g = gen(1)
    return {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(2, 2, generator=g).double(),
        "i64": torch.tensor([-(2**40), -1, 0, 2**62]),
        "i32": torch.tensor([-7, 123456, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 5], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True, False, True]),
        "u16": torch.tensor([1, 40000, 65535], dtype=torch.uint16),
        "f8_e4m3": torch.tensor([0.5, -2.0, 448.0]).to(torch.float8_e4m3fn),
        "f8_e5m2": torch.tensor([0.25, -3.0, 57344.0]).to(torch.float8_e5m2),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "conv.weight": torch.randn(2, 3, 3, 3, generator=g),
    }


def views_state():
    base = torch.arange(24, dtype=torch.float32)
    m = torch.arange(12, dtype=torch.float32).view(3, 4)
    return {
        "base": base,
        "slice": base[2:10],                       # offset 2
        "block": base.view(4, 6)[1:3, 2:5],         # offset 8, strides (6, 1)
        "transposed": m.t(),                        # strides (1, 4)
        "expanded": torch.arange(3.0).expand(4, 3),  # strides (0, 1)
        "step": base[1::5],                         # stride 5
    }


class HypernetModule(torch.nn.Module):
    """The layout of A1111's HypernetworkModule (addons.md §1.4): only child `linear`."""

    def __init__(self, dim, hidden, g):
        super().__init__()
        self.linear = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, dim))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)


def hypernet_object():
    g = gen(3)
    obj = {}
    for dim in (768, 320):
        hidden = int(dim * 0.01)
        obj[dim] = (HypernetModule(dim, hidden, g).state_dict(), HypernetModule(dim, hidden, g).state_dict())
    obj.update({
        "step": 5, "name": "tiny-hn", "layer_structure": [1.0, 0.01, 1.0], "activation_func": "relu",
        "is_layer_norm": False, "weight_initialization": "Normal", "use_dropout": True,
        "dropout_structure": [0.0, 0.3, 0.0], "last_layer_dropout": False, "activate_output": False,
        "sd_checkpoint": None, "sd_checkpoint_name": "v1-5-pruned", "optional_info": None,
    })
    return obj


def ti_orig_object():
    g = gen(4)
    return {
        "string_to_token": {"*": torch.tensor(265)},
        "string_to_param": torch.nn.ParameterDict({"*": torch.nn.Parameter(torch.randn(2, 8, generator=g))}),
    }


def rezip(src, dst, compression=zipfile.ZIP_DEFLATED, transform=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if transform:
                data = transform(info.filename, data)
            zout.writestr(info.filename, data)


def storage_elem_sizes(src):
    """storage key -> element size, read from the pickle's persistent ids."""
    import pickle

    sizes = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils":
                return lambda *a, **k: None
            if module == "torch" and name.endswith("Storage"):
                return getattr(torch, name)
            if module == "torch.storage":
                return torch.UntypedStorage
            if module == "collections":
                return collections.OrderedDict
            if module == "torch":
                return getattr(torch, name)
            raise RuntimeError(f"{module}.{name}")

        def persistent_load(self, pid):
            _, cls, key, _, _ = pid
            with warnings.catch_warnings():  # typed storage classes are deprecated, but the pickle names them
                warnings.simplefilter("ignore")
                sizes[key] = 1 if cls is torch.UntypedStorage else cls.dtype.itemsize
            return None

    with zipfile.ZipFile(src) as z:
        name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        Reader(io.BytesIO(z.read(name))).load()
    return sizes


def write_big_endian(src, dst, dtypes_by_key):
    def swap(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        if "/data/" in name:
            key = name.rsplit("/", 1)[1]
            es = dtypes_by_key[key]
            if es > 1:
                return b"".join(data[i:i + es][::-1] for i in range(0, len(data), es))
        return data

    rezip(src, dst, zipfile.ZIP_STORED, swap)


def flatten(obj, prefix, out):
    """The naming rule loom implements (torch_zip.c): '.'-joined str(key) / index."""
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)


class Refs:
    def __init__(self):
        self.tensors = {}

        self.by_id = {}

    def add(self, t):
        # the flat list and the tree share tensor objects; holding `t` keeps its id unique
        if id(t) not in self.by_id:
            self.by_id[id(t)] = (f"t{len(self.tensors)}", t)
            self.tensors[self.by_id[id(t)][0]] = t.detach().contiguous().clone()
        return self.by_id[id(t)][0]


def typed(obj, refs):
    """The value tree as typed JSON, for the C test to compare with loom's tree."""
    if obj is None:
        return {"none": None}
    if isinstance(obj, bool):
        return {"bool": obj}
    if isinstance(obj, int):
        if -(2**63) <= obj < 2**63:
            return {"int": obj}
        return {"bigint": pickle.encode_long(obj).hex()}  # two's complement bytes, as pickled
    if isinstance(obj, float):
        return {"float": obj}
    if isinstance(obj, str):
        return {"str": obj}
    if isinstance(obj, bytes):
        return {"bytes": obj.hex()}
    if isinstance(obj, torch.Tensor):
        return {"tensor": refs.add(obj)}
    if isinstance(obj, tuple):
        return {"tuple": [typed(v, refs) for v in obj]}
    if isinstance(obj, (list, set, frozenset)):  # loom keeps sets as lists, in pickled order
        return {"list": [typed(v, refs) for v in obj]}
    if isinstance(obj, dict):
        return {"dict": [[typed(k, refs), typed(v, refs)] for k, v in obj.items()]}
    cls = type(obj)
    if isinstance(obj, torch.nn.ParameterDict):
        items = {"_parameters": dict(obj._parameters)}
    elif isinstance(obj, argparse.Namespace):
        items = vars(obj)
    else:
        raise TypeError(cls)
    # an opaque object: its class and (some of) the entries of its BUILD state
    return {"object": f"{cls.__module__}.{cls.__name__}",
            "state_items": [[k, typed(v, refs)] for k, v in items.items()]}


SHARED = [1, 2]
VALUES = {
    "none": None, "t": True, "f": False, "small": 7, "neg": -5, "i16": 40000, "i32": -(2**31), "i40": 2**40,
    "big": 2**62, "min64": -(2**63), "huge": 2**100, "neg_huge": -(2**80) + 3, "long4": 3**700,
    "flt": 0.1, "neg_flt": -1e300, "str": "h\u00e9llo \u2713", "empty": "", "bytes": b"\x00\xff\x80abc",
    "tuple0": (), "tuple1": (1,), "tuple2": (1, "a"), "tuple3": (1, 2.5, None), "tuple5": (1, 2, 3, 4, 5),
    "nested": [1, [2, [3, {"k": (4,)}]]], "set": {3, 1, 2}, "fset": frozenset({"x"}),
    "intkeys": {1: "a", -2: "b", 70000: "c"}, "od": collections.OrderedDict(b=1, a=2),
    "ns": argparse.Namespace(lr=0.5, name="run"), "shared": [SHARED, SHARED],
    "many": list(range(1001)), "bigdict": {i: -i for i in range(1001)},  # past the 1000-item batches
}

# Hand-written pickles for opcodes pickle.dumps never emits at protocols 2-5
# (protocol-0 text forms, py2 strings, 8-byte lengths, stack ops); their
# expected values come from Python's own pickle.loads.
HANDMADE = {
    "pk_text_ops.pkl": b"(I42\nI01\nI00\nI-7\nL-12345678901L\nF1.25\nS'a\\'b\\x41\\n'\nVcaf\\u00e9\\U0001f600\nt.",
    "pk_py2_strings.pkl": b"\x80\x02(U\x02hiT\x03\x00\x00\x00abcK\x01\x85t.",
    "pk_len8.pkl": b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8d\x03\x00\x00\x00\x00\x00\x00\x00abc"
                   b"\x8e\x02\x00\x00\x00\x00\x00\x00\x00\x01\x02\x86\x94.",
    "pk_stack_ops.pkl": b"\x80\x02](K\x01K\x021K\x0320a(0K\x05a.",
}


def describe(path, refs, tree=False):
    obj = torch.load(path, weights_only=False)
    root = obj["state_dict"] if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) else obj
    flat = []
    flatten(root, "", flat)
    storages = {}  # storage identity -> small index, to check that views share their storage
    for _, t in flat:
        storages.setdefault(t.untyped_storage().data_ptr(), len(storages))
    entry = {"tensors": [{"name": n, "ref": refs.add(t), "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                          "stride": list(t.stride()), "offset": t.storage_offset(),
                          "storage": storages[t.untyped_storage().data_ptr()]} for n, t in flat]}
    if tree:
        entry["tree"] = typed(obj, refs)
    return entry


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda name: os.path.join(OUT, name)  # noqa: E731

    torch.save(plain_state(), p("pt_plain.pt"))
    g = gen(2)
    sd = {f"model.diffusion_model.input_blocks.{i}.0.weight": torch.randn(4, 2, generator=g).half() for i in range(3)}
    sd["first_stage_model.decoder.conv_out.bias"] = torch.randn(3, generator=g)
    torch.save({"state_dict": sd, "epoch": 3, "global_step": 100, "pytorch-lightning_version": "1.6.0"},
               p("pt_sd.ckpt"))
    torch.save(views_state(), p("pt_views.pt"))
    mod = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    torch.save(mod.state_dict(), p("pt_module.pt"))
    torch.save(hypernet_object(), p("pt_hypernet.pt"))
    torch.save(ti_orig_object(), p("pt_ti_orig.pt"))
    rezip(p("pt_plain.pt"), p("pt_deflated.pt"))
    torch.save(plain_state(), p("pt_proto4.pt"), pickle_protocol=4)
    torch.save(views_state(), p("pt_proto5.pt"), pickle_protocol=5)
    write_big_endian(p("pt_plain.pt"), p("pt_bigendian.pt"), storage_elem_sizes(p("pt_plain.pt")))
    torch.save(torch.randn(1, 8, generator=gen(5)), p("pt_bare.pt"))

    # the big-endian file must read back (through torch itself) as the original
    raw = lambda t: t.contiguous().reshape(-1).view(torch.uint8)  # noqa: E731
    a, b = torch.load(p("pt_plain.pt")), torch.load(p("pt_bigendian.pt"))
    assert a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(raw(a[k]), raw(b[k])) for k in a), \
        "big-endian rewrite does not round-trip through torch.load"
    with zipfile.ZipFile(p("pt_bigendian.pt")) as z:
        assert z.read([n for n in z.namelist() if n.endswith("byteorder")][0]) == b"big"

    refs = Refs()
    expected = {}
    for name in ("pt_plain.pt", "pt_sd.ckpt", "pt_views.pt", "pt_module.pt", "pt_deflated.pt", "pt_proto4.pt",
                 "pt_proto5.pt", "pt_bigendian.pt", "pt_bare.pt"):
        expected[name] = describe(p(name), refs, tree=name == "pt_sd.ckpt")
    expected["pt_hypernet.pt"] = describe(p("pt_hypernet.pt"), refs, tree=True)
    expected["pt_ti_orig.pt"] = describe(p("pt_ti_orig.pt"), refs, tree=True)
    pickles = {}
    for proto in (2, 3, 4, 5):
        name = f"pk_values_p{proto}.pkl"
        with open(p(name), "wb") as f:
            f.write(pickle.dumps(VALUES, protocol=proto))
    for name, data in HANDMADE.items():
        with open(p(name), "wb") as f:
            f.write(data)
    for name in sorted(n for n in os.listdir(OUT) if n.startswith("pk_") and n.endswith(".pkl")):
        with open(p(name), "rb") as f:
            pickles[name] = typed(pickle.loads(f.read()), refs)
    save_file(refs.tensors, p("torch_expected.safetensors"))
    with open(p("torch_expected.json"), "w") as f:
        # one file per line: readable enough, and small
        f.write('{"_comment": "made by scripts/gen_fixtures_torch.py from torch.load / pickle.loads",\n')
        for section, items in (("files", expected), ("pickles", pickles)):
            f.write(f' "{section}": {{\n')
            f.write(",\n".join(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in items.items()))
            f.write("\n }" + (",\n" if section == "files" else "\n}\n"))
    total = sum(os.path.getsize(p(n)) for n in expected) + os.path.getsize(p("torch_expected.safetensors"))
    print(f"wrote {len(expected)} torch fixtures, {total} bytes")


if __name__ == "__main__":
    main()
