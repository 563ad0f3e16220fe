#!/usr/bin/env python3
"""ref_a1111_prompt.py — an independent Python re-implementation of AUTOMATIC1111's prompt
handling, used only to produce the expected values of loom's prompt tests
(scripts/gen_fixtures_prompt.py). Written from the description in
../shared/specs/addons.md §4.1–4.10 and adapters.md §3.4; no A1111 code is copied.

Pieces (each a function, so the generator can record every stage):
  parse_networks(text)         §4.2  `<kind:a:b:…>` tags removed, argument semantics of
                                     lora/lyco (te, unet, dyn) and hypernet (multiplier)
  split_and(text)              §4.3  composable-diffusion `AND` with optional `:weight`
  schedule(text, steps)        §4.4  prompt editing / alternation, lark grammar as A1111 has it
  schedule_index(ends, k)      §4.4  which variant denoiser call k uses
  parse_emphasis(text)         §4.5  A1111's parse_prompt_attention
  chunk(text, tokenizer, …)    §4.6–4.7  BREAK, per-fragment tokenization, 75-token chunks,
                                     comma backtracking, textual-inversion placeholders
  clip_tokenizer()             §4.11 HF CLIPTokenizer built offline from open_clip's vocab

Needs: lark (pip install lark), transformers, ftfy, open_clip (for the vocab file).
"""
import gzip
import json
import os
import re
import tempfile

import lark

# ---------------------------------------------------------------------------------------------
# §4.2 extra-network tags

RE_NETWORK = re.compile(r"<(\w+):([^>]+)>")


class NetworkError(ValueError):
    pass


def _py_float(s, what, tag):
    try:
        return float(s)
    except ValueError:
        raise NetworkError("%s: %s %r is not a number" % (tag, what, s))


def _py_int(s, what, tag):
    try:
        return int(s)
    except ValueError:
        raise NetworkError("%s: %s %r is not an integer" % (tag, what, s))


def describe_network(kind, items, tag):
    """One request: positional/named split (an item with exactly one '=' is named), and the
    multipliers A1111's lora (alias lyco) and hypernet handlers derive from it."""
    positional, named = [], {}
    for item in items:
        parts = item.split("=")
        if len(parts) == 2:
            named[parts[0]] = parts[1]  # a repeated key: the last one wins (a dict)
        else:
            positional.append(item)
    req = {"kind": kind, "args": list(items), "tag": tag}
    if kind in ("lora", "lyco"):
        if not positional:
            raise NetworkError("%s: no network name" % tag)
        req["name"] = positional[0]
        te = _py_float(positional[1], "te multiplier", tag) if len(positional) > 1 else 1.0
        if "te" in named:
            te = _py_float(named["te"], "te multiplier", tag)
        unet = _py_float(positional[2], "unet multiplier", tag) if len(positional) > 2 else te
        if "unet" in named:
            unet = _py_float(named["unet"], "unet multiplier", tag)
        dyn = _py_int(positional[3], "dyn", tag) if len(positional) > 3 else None
        if "dyn" in named:
            dyn = _py_int(named["dyn"], "dyn", tag)
        req.update(te=te, unet=unet, dyn=dyn)
    elif kind == "hypernet":
        # the hypernet handler reads the raw items, not the positional ones (addons.md §1.7)
        req["name"] = items[0]
        req["te"] = _py_float(items[1], "multiplier", tag) if len(items) > 1 else 1.0
        req["unet"] = req["te"]
        req["dyn"] = None
    else:
        req["name"] = positional[0] if positional else None
    return req


def parse_networks(text):
    """-> (text without tags, [request, …]); raises NetworkError for a malformed lora/lyco/hypernet tag."""
    found = []

    def take(m):
        found.append((m.group(1), m.group(2).split(":"), m.group(0)))
        return ""

    stripped = RE_NETWORK.sub(take, text)
    return stripped, [describe_network(k, items, tag) for k, items, tag in found]


# ---------------------------------------------------------------------------------------------
# §4.3 AND

RE_AND = re.compile(r"\bAND\b")
RE_AND_WEIGHT = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")


def split_and(text):
    res = []
    for part in RE_AND.split(text):
        m = RE_AND_WEIGHT.search(part)
        if m is None:
            res.append((part, 1.0))
        else:
            sub, w = m.groups()
            res.append((sub, float(w) if w is not None else 1.0))
    return res


# ---------------------------------------------------------------------------------------------
# §4.4 prompt editing and alternation. The grammar is A1111's (the spec gives its rules); the
# parser is lark's default (Earley, dynamic lexer, ambiguity resolved by lark), as A1111 builds it.

SCHEDULE_GRAMMAR = r"""
!start: (prompt | /[][():]/+)*
prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
!emphasized: "(" prompt ")"
        | "(" prompt ":" prompt ")"
        | "[" prompt "]"
scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
alternate: "[" prompt ("|" [prompt])+ "]"
WHITESPACE: /\s+/
plain: /([^\\\[\]():|]|\\.)+/
%import common.SIGNED_NUMBER -> NUMBER
"""

_schedule_parser = lark.Lark(SCHEDULE_GRAMMAR)


def _when(number, steps):
    """`when` of one [from:to:when]: with a '.' a fraction of the steps, else a step; int()
    truncates toward zero; clamped to `steps` (no hires pass: offsets 0)."""
    v = float(number)
    v = v * steps if "." in number else v
    return min(steps, int(v))


def _render(node, step, whens):
    if node is None:
        return ""
    if isinstance(node, lark.Token):
        return str(node)
    if node.data == "scheduled":
        before, after = node.children[0], node.children[1]
        return _render(before if step <= whens[id(node)] else after, step, whens)
    if node.data == "alternate":
        opts = node.children
        return _render(opts[(step - 1) % len(opts)], step, whens)
    return "".join(_render(c, step, whens) for c in node.children)


def schedule(text, steps):
    """-> [(end_step, text), …] like A1111's get_learned_conditioning_prompt_schedules."""
    try:
        tree = _schedule_parser.parse(text)
    except lark.exceptions.LarkError:
        return [(steps, text)]
    ends, whens = {steps}, {}
    for sub in tree.iter_subtrees():
        if sub.data == "scheduled":
            w = _when(str(sub.children[3]), steps)
            whens[id(sub)] = w
            if w >= 1:
                ends.add(w)
        elif sub.data == "alternate":
            ends.update(range(1, steps + 1))
    return [(t, _render(tree, t, whens)) for t in sorted(ends)]


def schedule_index(ends, k):
    """Variant used at denoiser call k (0-based): the first with k <= end_step, else the first."""
    for i, e in enumerate(ends):
        if k <= e:
            return i
    return 0


# ---------------------------------------------------------------------------------------------
# §4.5 emphasis

RE_ATTENTION = re.compile(r"""
\\\(|\\\)|\\\[|\\]|\\\\|\\|
\(|\[|
:\s*([+-]?[.\d]+)\s*\)|
\)|]|
[^\\()\[\]:]+|
:
""", re.X)
RE_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


class EmphasisError(ValueError):
    pass


def parse_emphasis(text):
    """-> [[fragment, weight], …]; ["BREAK", -1] separates BREAK pieces."""
    res, rounds, squares = [], [], []

    def scale(start, m):
        for p in range(start, len(res)):
            res[p][1] *= m

    for m in RE_ATTENTION.finditer(text):
        s, w = m.group(0), m.group(1)
        if s.startswith("\\"):
            res.append([s[1:], 1.0])
        elif s == "(":
            rounds.append(len(res))
        elif s == "[":
            squares.append(len(res))
        elif w is not None and rounds:
            try:
                f = float(w)
            except ValueError:
                raise EmphasisError("emphasis weight %r is not a number" % w)
            scale(rounds.pop(), f)
        elif s == ")" and rounds:
            scale(rounds.pop(), 1.1)
        elif s == "]" and squares:
            scale(squares.pop(), 1 / 1.1)
        else:
            for i, part in enumerate(RE_BREAK.split(s)):
                if i > 0:
                    res.append(["BREAK", -1])
                res.append([part, 1.0])
    for p in rounds:
        scale(p, 1.1)
    for p in squares:
        scale(p, 1 / 1.1)
    if not res:
        res = [["", 1.0]]
    i = 0
    while i + 1 < len(res):
        if res[i][1] == res[i + 1][1]:
            res[i][0] += res[i + 1][0]
            del res[i + 1]
        else:
            i += 1
    return res


# ---------------------------------------------------------------------------------------------
# §4.7 chunking

CHUNK = 75
BOS, EOS, COMMA = 49406, 49407, 267


class EmbeddingDb:
    """Textual-inversion lookup (addons.md §2.4): names tokenized, longest id sequence first."""

    def __init__(self, tokenize, embeddings):
        self.by_first = {}
        for handle, (name, vectors) in enumerate(embeddings):
            ids = tokenize(name)
            self.by_first.setdefault(ids[0], []).append((ids, handle, vectors))
        for lst in self.by_first.values():
            lst.sort(key=lambda e: len(e[0]), reverse=True)

    def find(self, tokens, pos):
        for ids, handle, vectors in self.by_first.get(tokens[pos], []):
            if tokens[pos:pos + len(ids)] == ids:
                return handle, vectors, len(ids)
        return None


def chunk(text, tokenize, backtrack=20, emphasis=True, embeddings=None):
    """-> ([{"ids", "weights", "fixes"}, …], token_count) like A1111's tokenize_line."""
    pieces = parse_emphasis(text) if emphasis else [[text, 1.0]]
    chunks, cur = [], {"ids": [], "weights": [], "fixes": []}
    state = {"count": 0, "last_comma": -1}

    def close(is_last=False):
        nonlocal cur
        state["count"] += len(cur["ids"]) if is_last else CHUNK
        pad = CHUNK - len(cur["ids"])
        if pad > 0:
            cur["ids"] += [EOS] * pad
            cur["weights"] += [1.0] * pad
        cur["ids"] = [BOS] + cur["ids"] + [EOS]
        cur["weights"] = [1.0] + cur["weights"] + [1.0]
        state["last_comma"] = -1
        chunks.append(cur)
        cur = {"ids": [], "weights": [], "fixes": []}

    for frag, weight in pieces:
        if frag == "BREAK" and weight == -1:
            close()
            continue
        toks = tokenize(frag)
        pos = 0
        while pos < len(toks):
            tok = toks[pos]
            if tok == COMMA:
                state["last_comma"] = len(cur["ids"])
            elif (backtrack != 0 and len(cur["ids"]) == CHUNK and state["last_comma"] != -1
                  and len(cur["ids"]) - state["last_comma"] <= backtrack):
                cut = state["last_comma"] + 1
                moved_ids, moved_w = cur["ids"][cut:], cur["weights"][cut:]
                cur["ids"], cur["weights"] = cur["ids"][:cut], cur["weights"][:cut]
                close()  # fixes stay where they were (addons.md §2.4 quirk)
                cur["ids"], cur["weights"] = moved_ids, moved_w
            if len(cur["ids"]) == CHUNK:
                close()
            hit = embeddings.find(toks, pos) if embeddings else None
            if hit is None:
                cur["ids"].append(tok)
                cur["weights"].append(weight)
                pos += 1
                continue
            handle, vectors, matched = hit
            if len(cur["ids"]) + vectors > CHUNK:
                close()
            cur["fixes"].append([len(cur["ids"]), handle])
            cur["ids"] += [0] * vectors
            cur["weights"] += [weight] * vectors
            pos += matched
    if cur["ids"] or not chunks:
        close(is_last=True)
    return chunks, state["count"]


def pad_after_eos(ids, pad_id):
    """§4.8: encoders that pad with another id (SD2, SDXL-G: 0) overwrite every id after the
    first EOS of the 77."""
    first = ids.index(EOS)
    return ids[:first + 1] + [pad_id] * (len(ids) - first - 1)


# ---------------------------------------------------------------------------------------------
# §4.11 the tokenizer A1111 uses for SD1: HF CLIPTokenizer with ftfy cleanup

def _bytes_to_unicode():
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    bs, cs, n = keep[:], keep[:], 0
    for b in range(256):
        if b not in keep:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(cs[bs.index(b)]) for b in keep] + [chr(c) for c in cs[len(keep):]]


def clip_tokenizer():
    """-> tokenize(text) -> [ids] without BOS/EOS and without truncation. The vocabulary is
    rebuilt from open_clip's bpe_simple_vocab_16e6.txt.gz (addons.md §4.11): 256 byte
    symbols, the same with </w>, the first 48894 merges joined, then the two specials."""
    import ftfy
    import open_clip
    from transformers import CLIPTokenizer

    path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = lines[1:1 + 48894]
    syms = _bytes_to_unicode()
    vocab = syms + [s + "</w>" for s in syms] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408
    d = tempfile.mkdtemp(prefix="loom_clip_vocab_")
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizer.from_pretrained(d)
    assert tok.convert_tokens_to_ids(",</w>") == COMMA

    def tokenize(text):
        # transformers 4.30's slow CLIPTokenizer (A1111's) runs ftfy.fix_text first; newer
        # transformers dropped that step, so it is done here
        return tok(ftfy.fix_text(text), truncation=False, add_special_tokens=False)["input_ids"]

    return tokenize


if __name__ == "__main__":
    # the doctest vectors of addons.md §4.4/§4.5
    print(schedule("a [b:3]", 10))
    print(schedule("a [b : c : 1] d", 10))
    print(schedule("a[b:[c:d:2]:1]e", 10))
    print(schedule("[fe|||]male", 10))
    print(parse_emphasis("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).'"))
    print(parse_emphasis("[[a]]"), parse_emphasis("(x BREAK y)"))
