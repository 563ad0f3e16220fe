#!/usr/bin/env python3
"""Expected values for loom's A1111 prompt parser tests (tests/prompt/test_prompt.c).

    /work/venv/bin/python scripts/gen_fixtures_prompt.py [--fuzz N] [--out PATH]

Runs scripts/ref_a1111_prompt.py (an independent re-implementation of A1111's algorithms)
over the committed corpus tests/fixtures/prompt/corpus.jsonl plus prompts generated here
with fixed seeds (long prompts around the 75-token boundary, random prompts, dense bracket
soup), and writes
tests/fixtures/prompt/expected.json:

  cases[]: prompt, negative flag, the extra-network result (text without tags, requests or
           the error), the AND parts, and per part and step count the schedule (end steps,
           variant texts, the variant index of denoiser calls 0 … steps+2)
  texts[]: per distinct variant text (schedules refer to them by index), the emphasis pieces (or the error), the chunks (77 ids,
           77 weights, both run-length coded; embedding fixes), the token count and, for texts with brackets or
           BREAK, the chunk ids with emphasis "None"; for the first 40, the ids padded with 0
           after the first EOS (SD2's padding)
  embeddings: the textual-inversion names and vector counts registered while chunking

A1111's pipeline order (addons.md §4.1): a positive prompt loses its tags, is split on AND,
each part is scheduled; a negative prompt is only scheduled. Needs: lark, transformers, ftfy,
open_clip. Run by developers only; the output is committed (keep it under 1 MB).
"""
import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_a1111_prompt as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXDIR = os.path.join(ROOT, "tests", "fixtures", "prompt")
EMBEDDINGS = [("xqzstyle", 3), ("bigxqzemb", 70), ("xqz hands", 2), ("xqz", 1)]
WORDS = ("cat dog tree house river mountain sky cloud sun moon star city street car road forest "
         "flower bird fish boat light dark red blue green yellow white black small big old young "
         "happy rain snow fire water stone wood glass gold silver").split()


def num(x):
    """JSON has no inf/nan: those become strings."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None if x is None else repr(x)
    return x


def rle(values):
    """Runs of 3 or more equal values become [value, count] (the test expands them)."""
    out, i = [], 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i] and type(values[j]) is type(values[i]):
            j += 1
        out += [[values[i], j - i]] if j - i >= 3 else values[i:j]
        i = j
    return out


def long_prompts(tokenize):
    for w in WORDS:
        assert len(tokenize(w)) == 1, w
    rnd = random.Random(75)

    def words(n):
        return [rnd.choice(WORDS) for _ in range(n)]

    out = []
    for n in (74, 75, 76, 77, 150, 151, 225, 300):
        out.append(" ".join(words(n)))
    # one comma token at index c of a 90-token prompt: backtracking needs 75 - c <= 20
    for c in (40, 54, 55, 56, 60, 70, 73, 74, 75, 76, 149, 150):
        toks = words(max(90, c + 20))
        toks[c - 1] += ","
        del toks[c]
        out.append(" ".join(toks))
    for every in (3, 10, 19, 21, 25):
        toks = words(200)
        out.append(" ".join(t + ("," if i % every == every - 1 else "") for i, t in enumerate(toks)))
    out.append(" ".join(words(50)) + ", " + " ".join(words(19)) + ", " + " ".join(words(30)))
    out.append(", ".join(words(100)))
    out.append(",,,,, " + " ".join(words(80)))
    out.append(" ".join(words(74)) + " , , , " + " ".join(words(10)))
    # emphasis across the boundary, a comma inside
    out.append(" ".join(words(60)) + " (" + " ".join(words(5)) + ", " + " ".join(words(20)) + ":1.3) end")
    out.append(" ".join(words(70)) + " [[" + " ".join(words(10)) + "]] " + " ".join(words(5)))
    # BREAK at, before and after the boundary
    for k in (74, 75, 76, 150):
        out.append(" ".join(words(k)) + " BREAK " + " ".join(words(10)))
    out.append(" ".join(words(30)) + " BREAK BREAK " + " ".join(words(80)) + " BREAK")
    # embeddings at the boundary and inside a backtracked span
    for k in (71, 72, 73, 74, 75):
        out.append(" ".join(words(k)) + " xqzstyle " + " ".join(words(5)))
    out.append(" ".join(words(59)) + ", " + " ".join(words(5)) + " xqzstyle " + " ".join(words(20)))
    out.append(" ".join(words(10)) + " bigxqzemb " + " ".join(words(10)))
    out.append(" ".join(words(60)) + " bigxqzemb " + " ".join(words(10)))
    out.append("xqz hands, " + " ".join(words(72)) + " xqz hands xqz")
    # schedules and alternation over long text
    out.append("[" + " ".join(words(60)) + ":" + " ".join(words(90)) + ":0.5] tail")
    out.append(" ".join(words(70)) + " [a|b|c] " + " ".join(words(10)))
    # a long realistic prompt
    parts = []
    for i in range(120):
        w = " ".join(words(rnd.randint(1, 3)))
        r = rnd.random()
        parts.append("(%s:%.2f)" % (w, rnd.uniform(0.5, 1.5)) if r < 0.2 else "[%s]" % w if r < 0.3
                     else "((%s))" % w if r < 0.4 else w)
    out.append(", ".join(parts))
    return out


FUZZ_ATOMS = ["a", "b", "cat", " ", " ", "(", ")", "[", "]", ":", ":", "|", "\\", "1", "0.5", "2", "-1",
              "BREAK", ",", "AND", "<lora:x:0.5>", ".", "e", "\n", "é"]
# dense bracket soup: constructs next to stray characters, where lark's choice between
# reading a construct and reading stray characters matters (prompt_schedule_parse.c)
BRACKET_ATOMS = ["[a:", "[", "]", "(", ")", ":", ":2]", ":0.5]", "|", "[x|", "b", "a b", "(y:", ":1.2)",
                 "\\[", "\\", "]]", "[[", "::", ":3", "1]", "2]", "c", ":-1]", ":7"]


def fuzz_prompts(n, seed, atoms=FUZZ_ATOMS, longest=16):
    rnd = random.Random(seed)
    return ["".join(rnd.choice(atoms) for _ in range(rnd.randint(2, longest))) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzz", type=int, default=120, help="random prompts")
    ap.add_argument("--brackets", type=int, default=150, help="random dense bracket-soup prompts")
    ap.add_argument("--seed", type=int, default=1111)
    ap.add_argument("--out", default=os.path.join(FIXDIR, "expected.json"))
    args = ap.parse_args()

    tokenize = ref.clip_tokenizer()
    db = ref.EmbeddingDb(tokenize, EMBEDDINGS)
    corpus = [json.loads(line) for line in open(os.path.join(FIXDIR, "corpus.jsonl"), encoding="utf-8")]
    corpus += [{"p": p, "steps": [20], "note": "long"} for p in long_prompts(tokenize)]
    corpus += [{"p": p, "steps": [10], "note": "fuzz"} for p in fuzz_prompts(args.fuzz, args.seed)]
    corpus += [{"p": p, "steps": [10], "note": "brackets"}
               for p in fuzz_prompts(args.brackets, args.seed + 1, BRACKET_ATOMS, 24)]

    cases, texts = [], {}
    for c in corpus:
        p, neg = c["p"], c.get("neg", False)
        case = {"prompt": p, "negative": neg}
        stripped = ref.RE_NETWORK.sub("", p)
        try:
            _, reqs = ref.parse_networks(p)
            case["networks"] = {"text": stripped, "tags": [
                {"kind": r["kind"], "tag": r["tag"], "name": r["name"], "args": r["args"],
                 "te": num(r.get("te")), "unet": num(r.get("unet")), "dyn": r.get("dyn")} for r in reqs]}
        except ref.NetworkError as e:
            case["networks"] = {"text": stripped, "error": str(e)}
        base = p if neg else stripped
        parts = [(base, 1.0)] if neg else ref.split_and(base)
        case["and"] = [[t, w] for t, w in parts]
        case["schedules"] = []
        for pi, (part, _) in enumerate(parts):
            for steps in c.get("steps", [20]):
                sched = ref.schedule(part, steps)
                ends = [e for e, _ in sched]
                for _, t in sched:
                    texts.setdefault(t, len(texts))
                case["schedules"].append({"part": pi, "steps": steps, "ends": ends,
                                          "texts": [texts[t] for _, t in sched],
                                          "index": [ref.schedule_index(ends, k) for k in range(steps + 3)]})
        cases.append(case)

    entries = []
    for t in texts:  # in index order
        entry = {"text": t}
        entries.append(entry)
        try:
            entry["pieces"] = ref.parse_emphasis(t)
        except ref.EmphasisError as e:
            entry["error"] = str(e)
            continue
        chunks, count = ref.chunk(t, tokenize, embeddings=db)
        entry["ids"] = [rle(k["ids"]) for k in chunks]
        entry["weights"] = [rle(k["weights"]) for k in chunks]
        entry["fixes"] = [k["fixes"] for k in chunks]
        entry["token_count"] = count
        if len(entries) <= 40:
            entry["ids_pad0"] = [rle(ref.pad_after_eos(k["ids"], 0)) for k in chunks]
        if any(ch in t for ch in "([") or "BREAK" in t:
            plain, _ = ref.chunk(t, tokenize, emphasis=False, embeddings=db)
            entry["ids_no_emphasis"] = [rle(k["ids"]) for k in plain]

    empty, _ = ref.chunk("", tokenize)
    out = {"generator": "scripts/gen_fixtures_prompt.py", "comma_padding_backtrack": 20,
           "embeddings": EMBEDDINGS, "empty_chunk": rle(empty[0]["ids"]), "cases": cases, "texts": entries}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    n_chunks = sum(len(e.get("ids", [])) for e in entries)
    print("%s: %d cases, %d texts, %d chunks, %d bytes" % (args.out, len(cases), len(texts), n_chunks,
                                                            os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
