#!/usr/bin/env python3
"""Bad-input corpus for loom's PyTorch checkpoint reader (zip + unpickler).

Writes tests/bad_inputs/zip_*.pt (broken zip containers), tests/bad_inputs/pt_*
(well-formed zips whose pickle or storages are wrong or hostile) and
tests/bad_inputs/torch.tsv (file TAB substring loom's error must contain).

Hostile pickles are assembled here from opcode bytes (pickletools names in the
comments) and are never unpickled by this script except through
torch.load(weights_only=True), which refuses them too: where torch has a rule,
the script checks torch rejects the file, so the corpus is not a list of
things only loom dislikes. Real torch.save / torch.jit.save output is used
where the damage is to a genuine file (truncation, legacy format, TorchScript).

Run by developers only (never in CI):  /work/venv/bin/python scripts/gen_bad_inputs_torch.py
"""
import io
import os
import pickle
import struct
import warnings
import zipfile
import zlib

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bad_inputs")

# ---- a zip writer with every field under our control ----------------------------------------


def make_zip(entries, *, zip64=False, disk=0):
    """entries: dicts with name, data and optional method, flags, crc, csize, usize, lho_delta,
    payload (bytes stored instead of data). Returns the archive bytes."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name = e["name"].encode()
        data = e["data"]
        method = e.get("method", 0)
        payload = e.get("payload", zlib.compress(data)[2:-4] if method == 8 else data)
        crc = e.get("crc", zlib.crc32(data))
        csize, usize = e.get("csize", len(payload)), e.get("usize", len(data))
        lho = len(out)
        big = csize >= 2**32 or usize >= 2**32
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) if big else b""
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, e.get("flags", 0), method, 0, 0, crc,
                           0xFFFFFFFF if big else csize, 0xFFFFFFFF if big else usize, len(name), len(extra))
        out += name + extra + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, e.get("flags", 0), method, 0, 0, crc,
                               0xFFFFFFFF if big else csize, 0xFFFFFFFF if big else usize, len(name), len(extra),
                               0, 0, 0, 0, lho + e.get("lho_delta", 0))
        central += name + extra
    cd_off, n = len(out), len(entries)
    out += central
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, disk, disk, n, n, len(central), cd_off)
        out += struct.pack("<IIQI", 0x07064B50, disk, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, disk, disk, n, n, len(central), cd_off, 0)
    return bytes(out)


# ---- pickle assembly (never executed) --------------------------------------------------------


def op_global(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL


def op_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def op_int(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])  # BININT1
    enc = pickle.encode_long(n)
    return b"\x8a" + bytes([len(enc)]) + enc  # LONG1


def tup(*items):
    return b"(" + b"".join(items) + b"t"  # MARK … TUPLE


def tensor(key, numel, size, stride, offset=0, storage="FloatStorage"):
    """torch._utils._rebuild_tensor_v2(persid, offset, size, stride, False, OrderedDict()) as torch writes it."""
    pid = tup(op_str("storage"), op_global("torch", storage), op_str(key), op_str("cpu"), op_int(numel)) + b"Q"
    hooks = op_global("collections", "OrderedDict") + b")R"
    args = tup(pid, op_int(offset), tup(*map(op_int, size)), tup(*map(op_int, stride)), b"\x89", hooks)
    return op_global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def state_dict(items):
    return b"\x80\x02}(" + b"".join(op_str(k) + v for k, v in items) + b"u."  # PROTO 2, EMPTY_DICT, SETITEMS


def torch_like(pkl, storages=None, byteorder=b"little", deflate_pkl=False):
    """An archive laid out like torch.save's, around a given data.pkl."""
    entries = [{"name": "archive/data.pkl", "data": pkl, "method": 8 if deflate_pkl else 0}]
    if byteorder is not None:
        entries.append({"name": "archive/byteorder", "data": byteorder})
    for key, data in (storages or {}).items():
        entries.append({"name": f"archive/data/{key}", "data": data})
    entries.append({"name": "archive/version", "data": b"3\n"})
    return make_zip(entries, zip64=True)


FLOATS4 = struct.pack("<4f", 1, 2, 3, 4)
GOOD_PKL = state_dict([("w", tensor("0", 4, (2, 2), (2, 1)))])


def torch_refuses(data):
    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception:
        return True
    return False


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore")  # torch.jit.save deprecation, weights_only protocol notes
    rows = []

    def put(name, data, want, torch_too=False):
        if torch_too:
            assert torch_refuses(data), f"{name}: torch.load accepts it, so it is not a bad input"
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        rows.append((name, want))

    # the helpers make files torch reads: each bad file below is one change away from this
    good = torch_like(GOOD_PKL, {"0": FLOATS4})
    assert torch.load(io.BytesIO(good), weights_only=True)["w"].tolist() == [[1, 2], [3, 4]]
    buf = io.BytesIO()
    torch.save({"a": torch.arange(6.0), "b": torch.ones(2, 2)}, buf)
    real = buf.getvalue()

    # -- the zip container --
    cd = real.rfind(b"PK\x01\x02")
    put("zip_cut_central.pt", real[: cd + 20], "end-of-central-directory", True)
    put("zip_cut_data.pt", real[: len(real) // 3], "end-of-central-directory", True)
    eocd = bytearray(real)
    z64 = real.rfind(b"PK\x06\x06")
    struct.pack_into("<Q", eocd, z64 + 48, len(real) + 1000)  # ZIP64 end record: central directory offset
    e = real.rfind(b"PK\x05\x06")
    struct.pack_into("<I", eocd, e + 16, len(real) + 1000)
    put("zip_eocd_offset.pt", bytes(eocd), "lies outside the file", True)
    put("zip_lho_past_end.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL, "lho_delta": 10**6}]),
        "local header (offset 1000000) is missing or outside")
    put("zip_size_past_end.pt", make_zip(
        [{"name": "archive/data.pkl", "data": GOOD_PKL, "csize": 10**7, "usize": 10**7}]), "runs past the end")
    zeros = bytes(10 * 2**20)  # 10 MiB of zeros deflate to ~10 KiB
    put("zip_bomb_lying.pt", make_zip([{"name": "archive/data.pkl", "data": zeros, "method": 8, "usize": 4096}]),
        "inflates past its declared size")
    put("zip_bomb_2e40.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL, "method": 8, "usize": 2**40}],
                                     zip64=True), "zip bomb")
    put("zip_crc.pt", make_zip(
        [{"name": "archive/data.pkl", "data": GOOD_PKL, "crc": zlib.crc32(GOOD_PKL) ^ 1},
         {"name": "archive/data/0", "data": FLOATS4}]), "CRC-32", True)
    put("zip_encrypted.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL, "flags": 1}]), "encrypted")
    put("zip_method.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL, "method": 12}]),
        "compression method 12")
    put("zip_multidisk.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL}], disk=1), "multi-disk")
    put("zip_duplicate.pt", make_zip([{"name": "archive/data.pkl", "data": GOOD_PKL},
                                      {"name": "archive/data.pkl", "data": GOOD_PKL}]), "appears twice")
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w") as z:
        z.writestr("readme.txt", "not a checkpoint\n")
    put("zip_no_pkl.pt", zb.getvalue(), "no data.pkl", True)
    sb = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), sb)
    put("zip_torchscript.pt", sb.getvalue(), "TorchScript")

    # -- storages and tensor views --
    put("pt_storage_size.ckpt", torch_like(GOOD_PKL, {"0": FLOATS4[:12]}), "record holds 12 bytes", True)
    put("pt_view_past_end.ckpt", torch_like(state_dict([("w", tensor("0", 4, (3, 2), (2, 1)))]), {"0": FLOATS4}),
        "reaches element 5 of storage '0', which holds 4", True)
    put("pt_offset_past_end.ckpt", torch_like(state_dict([("w", tensor("0", 4, (2,), (1,), offset=3))]),
                                              {"0": FLOATS4}), "reaches element 4", True)
    put("pt_stride_overflow.ckpt", torch_like(state_dict([("w", tensor("0", 4, (2, 2), (2**62, 2**62)))]),
                                              {"0": FLOATS4}), "overflow", True)
    put("pt_missing_storage.ckpt", torch_like(state_dict([("w", tensor("1", 4, (4,), (1,)))]), {"0": FLOATS4}),
        "has no data/1 record", True)
    put("pt_storage_type.ckpt", torch_like(state_dict([("w", tensor("0", 2, (2,), (1,), storage="ComplexFloatStorage"))]),
                                           {"0": FLOATS4}), "storage type torch.ComplexFloatStorage is not supported")
    put("pt_byteorder.ckpt", torch_like(GOOD_PKL, {"0": FLOATS4}, byteorder=b"middle"), "byteorder", True)
    put("pt_nine_dims.ckpt", torch_like(state_dict([("w", tensor("0", 4, (1,) * 9, (1,) * 9))]), {"0": FLOATS4}),
        "9 dims")

    # -- hostile or broken pickles --
    system = b"\x80\x02" + op_global("os", "system") + tup(op_str("echo pwned")) + b"R."
    put("pt_global_os_system.ckpt", torch_like(system), "unsupported pickle global 'os.system'", True)
    getattr_ = b"\x80\x04" + b"\x8c\x08builtins\x94\x8c\x07getattr\x94\x93" + b")R."  # SHORT_BINUNICODE, STACK_GLOBAL
    put("pt_global_getattr.ckpt", torch_like(getattr_), "unsupported pickle global 'builtins.getattr'", True)
    put("pt_unknown_opcode.ckpt", torch_like(b"\x80\x02}\xff."), "unsupported pickle opcode (opcode 0xff at offset 3)",
        True)
    put("pt_pickle_no_stop.ckpt", torch_like(GOOD_PKL[:-1], {"0": FLOATS4}), "without a STOP opcode", True)
    put("pt_pickle_cut_operand.ckpt", torch_like(b"\x80\x02X\xff\x00\x00\x00abc"), "pickle is truncated", True)
    put("pt_huge_string.ckpt", torch_like(b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc."),
        "pickle is truncated", True)
    put("pt_bad_proto.ckpt", torch_like(b"\x80\x06N."), "pickle protocol 6")  # pickle.loads refuses it too
    put("pt_bad_memo.ckpt", torch_like(b"\x80\x02h\x05."), "memo entry 5 is not set", True)
    put("pt_stack_underflow.ckpt", torch_like(b"\x80\x02a."), "stack underflow", True)
    put("pt_reduce_nonglobal.ckpt", torch_like(b"\x80\x02K\x01)R."), "only allowed globals can be called", True)
    put("pt_bad_persid.ckpt", torch_like(b"\x80\x02" + tup(op_str("storage"), op_str("x")) + b"Q."),
        "persistent id is not", True)
    # 1,100,000 nested MARK/EMPTY_LIST pushes: a stack-depth bomb (deflated, it stays small)
    put("pt_stack_bomb.ckpt", torch_like(b"\x80\x02" + b"(]" * 550_000 + b".", deflate_pkl=True), "stack deeper than")
    # lists nested 200 deep through the memo, with a shallow stack: L_i = [L_{i-1}]
    deep = b"\x80\x02]r\x00\x00\x00\x00" + b"".join(b"]j" + struct.pack("<I", i - 1) + b"ar" + struct.pack("<I", i)
                                                       + b"0" for i in range(1, 201)) + b"j\xc8\x00\x00\x00."
    put("pt_deep_nesting.ckpt", torch_like(deep), "nested deeper than 100 levels")
    put("pt_cyclic.ckpt", torch_like(b"\x80\x02]q\x00h\x00a."), "(or cyclic)")
    # L_i = [L_{i-1}, L_{i-1}]: 60 levels share sub-lists, a walk would visit 2^60 nodes
    dag = b"\x80\x02]r\x00\x00\x00\x00" + b"".join(
        b"]j" + struct.pack("<I", i - 1) + b"aj" + struct.pack("<I", i - 1) + b"ar" + struct.pack("<I", i) + b"0"
        for i in range(1, 61)) + b"j<\x00\x00\x00."
    put("pt_shared_explosion.ckpt", torch_like(dag), "object graph is too large")

    # -- the legacy (pre-1.6) format, refused by container detection --
    lb = io.BytesIO()
    torch.save({"w": torch.ones(2)}, lb, _use_new_zipfile_serialization=False)
    put("pt_legacy.pt", lb.getvalue(), "legacy (pre-1.6, non-zip) PyTorch format")

    with open(os.path.join(OUT, "torch.tsv"), "w") as f:
        f.write("# made by scripts/gen_bad_inputs_torch.py: file<TAB>substring of the expected error\n")
        for name, want in rows:
            f.write(f"{name}\t{want}\n")
    print(f"wrote {len(rows)} bad torch inputs")


if __name__ == "__main__":
    main()
