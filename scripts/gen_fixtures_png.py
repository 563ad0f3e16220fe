#!/usr/bin/env python3
"""Fixtures for loom's PNG "parameters" text (tests/png/test_png.c).

References:
  * the infotext string: A1111's create_infotext assembly rules (addons.md §6.1),
    re-implemented here in plain Python — dict order, None omitted, `key` alone
    when value == key, quote() as JSON when the value holds ',', '\\n' or ':',
    str() of ints and floats, the whole text strip()-ed — and checked by parsing it
    back with A1111's PNG-Info parameter regex (addons.md §6.4);
  * the PNG text chunk: Pillow's PngInfo.add_text (what A1111 saves with), the
    chunk's bytes cut out of a PNG Pillow writes;
  * Python's repr() for floats.
Writes tests/fixtures/png/expected.json. Run by developers, never in CI.
"""
import io
import json
import os
import re
import struct

from PIL import Image, PngImagePlugin

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "png")


def quote(text):
    text = str(text)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def infotext(c):
    params = {
        "Steps": c["steps"],
        "Sampler": c.get("sampler"),
        "Schedule type": c.get("schedule_type"),
        "CFG scale": c["cfg_scale"],
        "Seed": c["seed"],
        "Size": f"{c['width']}x{c['height']}",
        "Model hash": c.get("model_hash"),
        "Model": c.get("model"),
        "VAE hash": c.get("vae_hash"),
        "VAE": c.get("vae"),
        "Denoising strength": c.get("denoising_strength"),
        "Clip skip": None if c.get("clip_skip", 1) <= 1 else c["clip_skip"],
        "RNG": c.get("rng"),
    }
    for k, v in c.get("extra", []):
        params.setdefault(k, v)  # a key listed above keeps its earlier position
        params[k] = v
    params["Version"] = c.get("version")
    line = ", ".join([k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None])
    neg = c.get("negative_prompt") or ""
    neg_text = f"\nNegative prompt: {neg}" if neg else ""
    return f"{c['prompt']}{neg_text}\n{line}".strip()


# A1111 infotext_utils: the parameter line must yield >= 3 matches of this regex
RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def check_parses(text, c):
    last = text.split("\n")[-1]
    found = dict((k, v) for k, v in RE_PARAM.findall(last))
    assert len(found) >= 3, text
    assert found["Steps"] == str(c["steps"]), (found, c)
    assert found["Seed"] == str(c["seed"])


def pil_text_chunk(keyword, text):
    info = PngImagePlugin.PngInfo()
    info.add_text(keyword, text)
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG", pnginfo=info)
    data = buf.getvalue()
    pos = 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ = data[pos + 4:pos + 8]
        if typ in (b"tEXt", b"iTXt", b"zTXt"):
            return data[pos:pos + 12 + n].hex()
        pos += 12 + n
    raise AssertionError("no text chunk")


CASES = [
    dict(prompt="a cat", steps=20, sampler="Euler a", cfg_scale=7.0, seed=42, width=512, height=512),
    dict(prompt="masterpiece, 1girl, <lora:add_detail:0.6>", negative_prompt="EasyNegative, lowres", steps=20,
         sampler="DPM++ 2M", schedule_type="Karras", cfg_scale=7.5, seed=1234567890, width=512, height=768,
         model_hash="6ce0161689", model="v1-5-pruned-emaonly", clip_skip=2,
         extra=[("Lora hashes", "add_detail: 7c6bad76eb54"), ("TI hashes", "EasyNegative: c74b4e810b03")],
         version="loom 0.1.0"),
    dict(prompt="  spaced prompt\nsecond line  ", negative_prompt="", steps=1, sampler="LMS", cfg_scale=1.0,
         seed=-1, width=64, height=64, rng="CPU", clip_skip=1),
    dict(prompt="ünïcödé café, 東京の夜, emoji 🐱", negative_prompt="bad \"quotes\" and \\ slashes", steps=30,
         sampler="DDIM", cfg_scale=12.25, seed=4294967295, width=768, height=512, denoising_strength=0.75,
         model="my: weird, model", rng="NV", vae="vae-ft-mse-840000-ema-pruned", vae_hash="c6a580b13a"),
    dict(prompt="tiny cfg", steps=4, sampler="LCM", schedule_type="SGM Uniform", cfg_scale=0.0001, seed=7,
         width=512, height=512, extra=[("Emphasis", "Emphasis"), ("Note", "tab\there, ctl\x01")]),
    dict(prompt="big cfg", steps=150, sampler="Heun", cfg_scale=1e-05, seed=0, width=1024, height=1024,
         denoising_strength=1.0),
    dict(prompt="latin1 only: café ñ ß", steps=20, sampler="Euler", cfg_scale=3.3333333333333335, seed=5,
         width=512, height=512),
]

FLOATS = [7.0, 7.5, 0.1, 1e-05, 0.0001, 1e16, 1e15, 123456789.125, 3.3333333333333335, -2.5, 0.0, 1e-300,
          2.5e+300, 0.3, 100.0, 1.5e-07, 12345678901234567890.0]


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for c in CASES:
        text = infotext(c)
        check_parses(text, c)
        cases.append({"input": c, "infotext": text, "chunk_hex": pil_text_chunk("parameters", text)})
    out = {"cases": cases, "float_repr": [[f, repr(f)] for f in FLOATS]}
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
