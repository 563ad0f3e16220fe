#!/usr/bin/env python3
"""Bad-input corpus: files of the wrong kind (not a model container at all).

Writes tests/bad_inputs/misc_* and tests/bad_inputs/misc.tsv (file TAB the
substring loom's error must contain). The files are made by the tools that
make such files in the wild (Pillow for PNG, tarfile for the pre-0.4 torch tar
layout), so loom sees real headers. Run by developers, never in CI:

    /path/to/venv/bin/python scripts/gen_bad_inputs_misc.py
"""
import io
import os
import struct
import tarfile

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "bad_inputs")


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []

    def put(name, data, want):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        rows.append((name, want))

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    put("misc_image.safetensors", buf.getvalue(), "PNG image")
    put("misc_text.ckpt", b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n",
        "unknown file type")
    # GGUF v3 header: magic, version, tensor count, kv count
    put("misc_model.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0), "GGUF")
    put("misc_empty.pt", b"", "empty file")
    put("misc_random.bin", bytes((i * 37 + 11) & 0xFF for i in range(4096)), "unknown file type")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for member in ("storages", "tensors", "pickle"):
            info = tarfile.TarInfo(member)
            info.size = 4
            t.addfile(info, io.BytesIO(b"\x80\x02N."))
    put("misc_old_tar.pt", tbuf.getvalue(), "tar format")

    with open(os.path.join(OUT, "misc.tsv"), "w") as f:
        f.write("# made by scripts/gen_bad_inputs_misc.py: file<TAB>substring of the expected error\n")
        for name, want in rows:
            f.write(f"{name}\t{want}\n")


if __name__ == "__main__":
    main()
