#!/usr/bin/env python3
"""Reference ids for loom's CLIP tokenizer test (tests/tokenizer/test_tokenizer.c).

The reference is what A1111 uses for SD1: Hugging Face's *slow* CLIPTokenizer with ftfy
installed (addons.md §4.11; A1111 pins transformers 4.30.2). transformers 5 no longer has the
slow tokenizer, so put 4.30.2 first on the path, without touching the shared venv:

    /work/venv/bin/pip install --no-deps --target /tmp/tf430 \\
        transformers==4.30.2 tokenizers==0.13.3 huggingface_hub==0.16.4
    PYTHONPATH=/tmp/tf430 /work/venv/bin/python scripts/gen_fixtures_tokenizer.py

No network is needed: vocab.json and merges.txt are built from the BPE file loom ships
(data/clip/bpe_simple_vocab_16e6.txt.gz) the well-known way (256 byte symbols, the same with
</w>, the first 48 894 merges joined, then <|startoftext|> and <|endoftext|>), exactly as
OpenAI's and open_clip's SimpleTokenizer build their vocabulary; tokenizer_config.json and
special_tokens_map.json repeat openai/clip-vit-large-patch14's, and the tokenizer is loaded with
from_pretrained like A1111 does. The ids are cross-checked with
open_clip.tokenizer.SimpleTokenizer on every prompt where the two cleanups agree.

Writes tests/fixtures/tokenizer/prompts.json: the corpus (tokenizer_corpus.py) with the ids of
tokenizer(text, add_special_tokens=False) for each prompt. Every prompt is compared with the full
reference, ftfy's mojibake repair (fix_encoding) included; the number of prompts that step changes
is recorded ("fix_encoding_changes") so the test can check the corpus still exercises it.
"""
import gzip
import json
import os
import platform
import sys
import tempfile
import unicodedata

import ftfy
import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_corpus import build_corpus  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BPE = os.path.join(ROOT, "data", "clip", "bpe_simple_vocab_16e6.txt.gz")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "prompts.json")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def make_hf_files(d):
    lines = gzip.open(BPE).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    assert len(merges) == 48894
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(dict(zip(vocab, range(len(vocab)))), f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    # the tokenizer files of openai/clip-vit-large-patch14 (SD1's text encoder) besides the vocabulary
    def added(content):
        return {"content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
                "__type": "AddedToken"}
    config = {"unk_token": added("<|endoftext|>"), "bos_token": added("<|startoftext|>"),
              "eos_token": added("<|endoftext|>"), "pad_token": "<|endoftext|>", "add_prefix_space": False,
              "errors": "replace", "do_lower_case": True, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}
    special = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()
               if k in ("unk_token", "bos_token", "eos_token", "pad_token")}
    for v in special.values():
        if isinstance(v, dict):
            del v["__type"]
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    with open(os.path.join(d, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special, f)


def main():
    import transformers
    from transformers import CLIPTokenizer

    assert transformers.__version__.startswith("4."), (
        f"transformers {transformers.__version__}: the slow CLIPTokenizer needs 4.x (see the docstring)")
    with tempfile.TemporaryDirectory() as d:
        make_hf_files(d)
        # from_pretrained, as A1111 loads it (CLIPTokenizer.from_pretrained("openai/clip-vit-large-patch14")):
        # unlike the bare constructor it registers the special tokens as never-split (sanitize_special_tokens),
        # so tokenize() first cuts the text at every exact "<|startoftext|>" / "<|endoftext|>"
        tok = CLIPTokenizer.from_pretrained(d)
    assert sorted(tok.unique_no_split_tokens) == ["<|endoftext|>", "<|startoftext|>"], tok.unique_no_split_tokens
    assert not getattr(tok, "do_lower_case", False)
    assert tok.fix_text is ftfy.fix_text, "ftfy must be importable: the reference path is the ftfy one"
    assert len(tok) == 49408

    def ref_ids(text):
        return tok(text, truncation=False, add_special_tokens=False)["input_ids"]

    corpus = build_corpus()
    cases, mojibake = [], []
    for kind, value in corpus:
        text = bytes.fromhex(value).decode("utf-8", "replace") if kind == "hex" else value
        cases.append({kind: value, "ids": ref_ids(text)})
        if ftfy.fix_text(text) != ftfy.fix_text(text, fix_encoding=False):
            mojibake.append(text)

    # cross-check with open_clip's SimpleTokenizer where the cleanups agree (open_clip also
    # html-unescapes twice and has other special-token names)
    from open_clip.tokenizer import SimpleTokenizer

    oc = SimpleTokenizer()
    checked = 0
    for case in cases:
        text = bytes.fromhex(case["hex"]).decode("utf-8", "replace") if "hex" in case else case["text"]
        if any(s in text for s in ("<|startoftext|>", "<|endoftext|>", "<start_of_text>", "<end_of_text>")):
            continue
        hf_clean = regex.sub(r"\s+", " ", ftfy.fix_text(text)).strip().lower()
        if oc.clean_fn(text) != hf_clean or regex.search(
                r"<\|startoftext\|>|<\|endoftext\|>|<start_of_text>|<end_of_text>", hf_clean, regex.I):
            continue
        assert oc.encode(text) == case["ids"], text
        checked += 1

    doc = {
        "reference": {
            "tokenizer": f"transformers {transformers.__version__} CLIPTokenizer (slow), "
                         "tokenizer(text, truncation=False, add_special_tokens=False)",
            "ftfy": ftfy.__version__,
            "regex": regex.__version__,
            "python": platform.python_version(),
            "unicodedata": unicodedata.unidata_version,
            "vocabulary": "data/clip/bpe_simple_vocab_16e6.txt.gz",
            "open_clip_cross_checked": checked,
            "fix_encoding_changes": len(mojibake),
        },
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="ascii") as f:
        json.dump(doc, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    n_tokens = sum(len(c["ids"]) for c in cases)
    longest = max(len(c["ids"]) for c in cases)
    print(f"{os.path.relpath(OUT, ROOT)}: {len(cases)} prompts, {n_tokens} tokens (longest {longest}), "
          f"{os.path.getsize(OUT)} bytes; open_clip agrees on {checked}")
    print(f"{len(mojibake)} prompts changed by ftfy's fix_encoding (mojibake repair), e.g.:")
    for t in mojibake[:8]:
        print("   ", ascii(t)[:120])


if __name__ == "__main__":
    main()
