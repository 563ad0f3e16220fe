#!/usr/bin/env python3
"""Generate the character tables of loom's CLIP tokenizer text cleanup.

    /work/venv/bin/python scripts/gen_unicode_tables.py

Writes host/text/unicode_tables.c (Unicode character data) and host/text/ftfy_tables.c
(the data tables of ftfy's default fix_text steps), declared in host/text/unicode_tables.h.

The reference tokenizer (HF transformers' slow CLIPTokenizer, addons.md §4.11) runs
ftfy.fix_text → `regex` \\s+ collapse → str.strip → str.lower → a `regex` pre-tokenizer
compiled with IGNORECASE. Each table is taken from the component that uses it, so the C code
reproduces that component bit for bit:
  * letter / number / \\s / "none of the pre-token classes": probed with the `regex` module
    itself, IGNORECASE on (its Unicode tables are newer than unicodedata's);
  * str.isspace, str.isdecimal, str.lower (with the cased / case-ignorable sets its final-sigma
    rule uses), NFC data: CPython's own tables (unicodedata.unidata_version);
  * ftfy tables: ftfy.chardata (HTML entities, width map, ligatures, control characters) and
    the html module (numeric character-reference fix-ups) and the sloppy-windows-1252 codec;
  * ftfy's mojibake repair (fix_encoding): the badness regex, UTF8_DETECTOR_RE, ALTERED_UTF8_RE
    and LOSSY_UTF8_RE taken apart with Python's own regex parser (re._parser) into tables of
    fixed-length alternatives, and the single-byte codecs of CHARMAP_ENCODINGS probed through
    Python's codecs (ftfy.bad_codecs registers the sloppy ones).
Run by developers only; the outputs are committed.
"""
import html
import os
import sys
import unicodedata

import ftfy
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-* codecs)
import ftfy.chardata as chardata
import regex

from ftfy_mojibake_tables import gen_mojibake

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAXCP = 0x110000


def is_surrogate(c):
    return 0xD800 <= c <= 0xDFFF


def ranges(pred):
    """Sorted, merged [lo, hi] ranges of the code points (surrogates excluded) where pred holds."""
    out = []
    for c in range(MAXCP):
        if is_surrogate(c) or not pred(c):
            continue
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def emit_ranges(f, name, rs, comment):
    f.write(f"/* {comment} */\n")
    f.write(f"const loom_uc_range {name}[] = {{\n")
    for i in range(0, len(rs), 4):
        f.write("    " + " ".join(f"{{0x{lo:04X}, 0x{hi:04X}}}," for lo, hi in rs[i:i + 4]) + "\n")
    f.write("};\n")
    f.write(f"const size_t {name}_count = {len(rs)};\n\n")


def c_cps(s, n):
    """A string of at most n code points as an initializer (C zero-fills the rest)."""
    cps = [ord(ch) for ch in s]
    assert 1 <= len(cps) <= n, (s, n)
    return "{" + ",".join(f"0x{c:X}" for c in cps) + "}"


# ---------------------------------------------------------------------------- Unicode data
def gen_unicode(path):
    I = regex.IGNORECASE
    re_letter = regex.compile(r"[\p{L}]", I)
    re_number = regex.compile(r"[\p{N}]", I)
    re_space = regex.compile(r"\s", I)
    re_other = regex.compile(r"[^\s\p{L}\p{N}]", I)

    letter = ranges(lambda c: bool(re_letter.match(chr(c))))
    number = ranges(lambda c: bool(re_number.match(chr(c))))
    rspace = ranges(lambda c: bool(re_space.match(chr(c))))
    # Characters that none of the four pre-token classes matches (IGNORECASE makes the negated
    # class reject a character whose case variants are letters, e.g. U+0345): findall skips them.
    none = ranges(lambda c: not (re_letter.match(chr(c)) or re_number.match(chr(c))
                                 or re_space.match(chr(c)) or re_other.match(chr(c))))
    # the classes must not overlap, or "first alternative wins" would need more than four sets
    for c in range(MAXCP):
        if is_surrogate(c):
            continue
        ch = chr(c)
        hits = [bool(r.match(ch)) for r in (re_letter, re_number, re_space, re_other)]
        assert sum(hits) <= 1, hex(c)

    pyspace = ranges(lambda c: chr(c).isspace())
    # the re module's \\w on str patterns (_sre: Py_UNICODE_ISALNUM or '_'), used by ftfy's badness regex
    reword = ranges(lambda c: chr(c).isalnum() or c == 0x5F)
    decimal = ranges(lambda c: chr(c).isdecimal())

    # Case-insensitive equivalents of ASCII letters in the pre-tokenizer's literals
    # ("'s", "<|startoftext|>", ...): e.g. U+017F LONG S matches 's'.
    fold = []
    re_ascii = regex.compile(r"[a-z]", I)
    for c in range(0x80, MAXCP):
        if not is_surrogate(c) and re_ascii.match(chr(c)):
            for a in "abcdefghijklmnopqrstuvwxyz":
                if regex.fullmatch(a, chr(c), I):
                    fold.append((ord(a), c))
    # check the literal alternatives really use this per-character equivalence
    pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", I)
    for a, c in fold:
        if a == ord("s"):
            assert pat.findall("'" + chr(c)) == ["'" + chr(c)]
            assert pat.findall("<|" + chr(c) + "tartoftext|>") == ["<|" + chr(c) + "tartoftext|>"]

    # str.lower: single-code-point mappings as runs (lo, hi, stride, delta), multi-code-point ones
    # listed. U+03A3 maps to σ here; the final-sigma rule is applied by the C code.
    single, multi = [], []
    for c in range(MAXCP):
        if is_surrogate(c):
            continue
        low = chr(c).lower()
        if low == chr(c):
            continue
        if len(low) == 1:
            single.append((c, ord(low) - c))
        else:
            multi.append((c, low))
    runs = []  # [lo, hi, stride, delta]
    for c, d in single:
        if runs:
            lo, hi, stride, delta = runs[-1]
            if delta == d and (c - hi) in (1, 2) and (lo == hi or c - hi == stride):
                runs[-1] = [lo, c, c - hi, delta]
                continue
        runs.append([c, c, 1, d])
    # Final sigma (CPython handle_capital_sigma): probe the two character sets it consults.
    #   ('1' + c + 'Σ').lower() ends in ς  iff  c is cased and not case-ignorable
    #   ('A' + c + 'Σ').lower() ends in ς  iff  c is case-ignorable or cased
    cased = ranges(lambda c: ("1" + chr(c) + "\u03a3").lower()[-1] == "\u03c2")
    ignorable = ranges(lambda c: ("A" + chr(c) + "\u03a3").lower()[-1] == "\u03c2"
                       and ("1" + chr(c) + "\u03a3").lower()[-1] != "\u03c2")

    # NFC: canonical combining classes, one-level canonical decompositions, primary composites
    ccc = []
    for c in range(MAXCP):
        if is_surrogate(c):
            continue
        k = unicodedata.combining(chr(c))
        if k == 0:
            continue
        if ccc and ccc[-1][1] == c - 1 and ccc[-1][2] == k:
            ccc[-1][1] = c
        else:
            ccc.append([c, c, k])
    decomp, comp = [], []
    for c in range(MAXCP):
        if is_surrogate(c) or 0xAC00 <= c <= 0xD7A3:  # Hangul syllables are algorithmic
            continue
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        assert 1 <= len(parts) <= 2
        decomp.append((c, parts[0], parts[1] if len(parts) == 2 else 0))
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(c):
            comp.append((parts[0], parts[1], c))
    comp.sort()

    with open(path, "w", encoding="ascii") as f:
        f.write("/* unicode_tables.c: GENERATED by scripts/gen_unicode_tables.py; do not edit.\n")
        f.write(f" * Python {sys.version.split()[0]}: unicodedata (Unicode {unicodedata.unidata_version}) for str.isspace,\n")
        f.write(f" * str.isdecimal, str.lower and NFC; regex {regex.__version__} (its own, newer Unicode tables) for\n")
        f.write(" * the pre-tokenizer classes, probed with IGNORECASE as the reference compiles them. */\n")
        f.write('#include "unicode_tables.h"\n\n')
        f.write(f'const char loom_uc_unicode_version[] = "{unicodedata.unidata_version}";\n')
        f.write(f'const char loom_uc_regex_version[] = "{regex.__version__}";\n\n')
        emit_ranges(f, "loom_uc_letter", letter, "regex [\\p{L}] (IGNORECASE)")
        emit_ranges(f, "loom_uc_number", number, "regex [\\p{N}] (IGNORECASE)")
        emit_ranges(f, "loom_uc_re_space", rspace, "regex \\s")
        emit_ranges(f, "loom_uc_pretok_none", none,
                    "matched by none of [\\p{L}] [\\p{N}] \\s [^\\s\\p{L}\\p{N}] under IGNORECASE")
        emit_ranges(f, "loom_uc_py_space", pyspace, "str.isspace")
        emit_ranges(f, "loom_uc_decimal", decimal, "str.isdecimal (the re module's \\d)")
        emit_ranges(f, "loom_uc_re_word", reword, "the re module's \\w: str.isalnum or '_'")
        emit_ranges(f, "loom_uc_cased", cased, "cased and not case-ignorable (CPython final-sigma rule)")
        emit_ranges(f, "loom_uc_case_ignorable", ignorable, "case-ignorable (CPython final-sigma rule)")
        f.write("/* regex IGNORECASE: non-ASCII code points equal to an ASCII letter */\n")
        f.write("const loom_uc_fold loom_uc_ascii_fold[] = {\n")
        for a, c in fold:
            f.write(f"    {{'{chr(a)}', 0x{c:04X}}},\n")
        f.write(f"}};\nconst size_t loom_uc_ascii_fold_count = {len(fold)};\n\n")
        f.write("/* str.lower, one code point: runs lo..hi step `stride`, lower = cp + delta */\n")
        f.write("const loom_uc_case_run loom_uc_lower_runs[] = {\n")
        for lo, hi, stride, delta in runs:
            f.write(f"    {{0x{lo:04X}, 0x{hi:04X}, {stride}, {delta}}},\n")
        f.write(f"}};\nconst size_t loom_uc_lower_runs_count = {len(runs)};\n\n")
        f.write("/* str.lower, several code points */\n")
        f.write("const loom_uc_multi loom_uc_lower_multi[] = {\n")
        for c, low in multi:
            f.write(f"    {{0x{c:04X}, {c_cps(low, 3)}}},\n")
        f.write(f"}};\nconst size_t loom_uc_lower_multi_count = {len(multi)};\n\n")
        f.write("/* canonical combining class (non-zero only) */\n")
        f.write("const loom_uc_ccc_run loom_uc_ccc[] = {\n")
        for i in range(0, len(ccc), 3):
            f.write("    " + " ".join(f"{{0x{lo:04X}, 0x{hi:04X}, {k}}}," for lo, hi, k in ccc[i:i + 3]) + "\n")
        f.write(f"}};\nconst size_t loom_uc_ccc_count = {len(ccc)};\n\n")
        f.write("/* canonical decomposition, one level (second = 0: singleton); Hangul is algorithmic */\n")
        f.write("const loom_uc_pair_map loom_uc_decomp[] = {\n")
        for i in range(0, len(decomp), 3):
            f.write("    " + " ".join(f"{{0x{c:04X}, 0x{a:04X}, 0x{b:04X}}}," for c, a, b in decomp[i:i + 3]) + "\n")
        f.write(f"}};\nconst size_t loom_uc_decomp_count = {len(decomp)};\n\n")
        f.write("/* primary composites sorted by (first, second): {first, second, composite} */\n")
        f.write("const loom_uc_pair_map loom_uc_comp[] = {\n")
        for i in range(0, len(comp), 3):
            f.write("    " + " ".join(f"{{0x{a:04X}, 0x{b:04X}, 0x{c:04X}}}," for a, b, c in comp[i:i + 3]) + "\n")
        f.write(f"}};\nconst size_t loom_uc_comp_count = {len(comp)};\n")
    return len(letter), len(decomp), len(comp)


# ---------------------------------------------------------------------------- ftfy data
def gen_ftfy(path):
    ents = sorted(chardata.HTML_ENTITIES.items())
    for name, val in ents:
        assert name.startswith("&") and name.endswith(";") and name[1:-1].isalnum() and name.isascii()
        assert 1 <= len(val) <= 3
    width = sorted(chardata.WIDTH_MAP.items())
    lig = sorted(chardata.LIGATURES.items())
    ctrl = ranges(lambda c: c in chardata.CONTROL_CHARS)
    c1 = [bytes([b]).decode("sloppy-windows-1252") for b in range(0x80, 0xA0)]
    # html.unescape's numeric character references (Python's html._replace_charref)
    inv_ref = sorted(html._invalid_charrefs.items())
    inv_cp = ranges(lambda c: c in html._invalid_codepoints)
    with open(path, "w", encoding="ascii") as f:
        f.write("/* ftfy_tables.c: GENERATED by scripts/gen_unicode_tables.py; do not edit.\n")
        f.write(f" * Data of ftfy {ftfy.__version__} fix_text's default steps (ftfy.chardata) and of Python\n")
        f.write(f" * {sys.version.split()[0]}'s html.unescape numeric references. */\n")
        f.write('#include "unicode_tables.h"\n\n')
        f.write(f'const char loom_ftfy_version[] = "{ftfy.__version__}";\n\n')
        f.write("/* HTML_ENTITIES: \"&name;\" (sorted, strcmp order) -> up to 3 code points */\n")
        f.write("const loom_ftfy_entity loom_ftfy_entities[] = {\n")
        for i in range(0, len(ents), 3):
            f.write("   " + "".join(f' {{"{name}",{c_cps(val, 3)}}},' for name, val in ents[i:i + 3]) + "\n")
        f.write(f"}};\nconst size_t loom_ftfy_entities_count = {len(ents)};\n\n")
        f.write("/* WIDTH_MAP (fix_character_width) */\n")
        f.write("const loom_uc_multi loom_ftfy_width[] = {\n")
        for c, s in width:
            f.write(f"    {{0x{c:04X}, {c_cps(s, 3)}}},\n")
        f.write(f"}};\nconst size_t loom_ftfy_width_count = {len(width)};\n\n")
        f.write("/* LIGATURES (fix_latin_ligatures) */\n")
        f.write("const loom_uc_multi loom_ftfy_ligatures[] = {\n")
        for c, s in lig:
            f.write(f"    {{0x{c:04X}, {c_cps(s, 3)}}},\n")
        f.write(f"}};\nconst size_t loom_ftfy_ligatures_count = {len(lig)};\n\n")
        emit_ranges(f, "loom_ftfy_control", ctrl, "CONTROL_CHARS (remove_control_chars)")
        f.write("/* fix_c1_controls: U+0080..U+009F decoded as sloppy-windows-1252 */\n")
        f.write("const uint32_t loom_ftfy_c1[32] = {\n")
        for i in range(0, 32, 8):
            f.write("    " + " ".join(f"0x{ord(s):04X}," for s in c1[i:i + 8]) + "\n")
        f.write("};\n\n")
        f.write("/* html._invalid_charrefs: numeric reference -> replacement */\n")
        f.write("const loom_uc_pair_map loom_html_invalid_charrefs[] = {\n")
        for num, s in inv_ref:
            assert len(s) == 1
            f.write(f"    {{0x{num:04X}, 0x{ord(s):04X}, 0}},\n")
        f.write(f"}};\nconst size_t loom_html_invalid_charrefs_count = {len(inv_ref)};\n\n")
        emit_ranges(f, "loom_html_invalid_codepoints", inv_cp, "html._invalid_codepoints: reference -> ''")
        gen_mojibake(f)
    return len(ents)


def main():
    ucp = os.path.join(ROOT, "host", "text", "unicode_tables.c")
    ftp = os.path.join(ROOT, "host", "text", "ftfy_tables.c")
    n_letter, n_decomp, n_comp = gen_unicode(ucp)
    n_ent = gen_ftfy(ftp)
    for p in (ucp, ftp):
        print(f"{os.path.relpath(p, ROOT)}: {os.path.getsize(p)} bytes")
    print(f"letter ranges {n_letter}, decompositions {n_decomp}, composites {n_comp}, entities {n_ent}")


if __name__ == "__main__":
    main()
