"""The data of ftfy's mojibake repair (fix_encoding) for host/text/ftfy_tables.c.

Used by gen_unicode_tables.py. Every table comes from ftfy itself, so the C code in
host/text/tokenizer_mojibake.c reproduces ftfy 6.3.1's fix_encoding:
  * badness.BADNESS_RE (is_bad): parsed with Python's own regex parser (re._parser) into
    fixed-length alternatives of atoms; its character classes become bits of one 64-bit mask per
    code point (a literal character stays a literal);
  * chardata.UTF8_DETECTOR_RE (decode_inconsistent_utf8): its five classes as bits of an 8-bit
    mask; the pattern's structure is checked against the template the C code implements;
  * chardata.ALTERED_UTF8_RE (restore_byte_a0) and chardata.LOSSY_UTF8_RE
    (replace_lossy_sequences): byte regexes, parsed the same way into alternatives of 256-bit
    byte classes (their order matters: re.sub takes the first alternative that matches);
  * chardata.CHARMAP_ENCODINGS: for every character one of them can encode, its byte in each
    (Python's codecs, including ftfy's sloppy ones), from which the C code gets both
    possible_encoding and str.encode.
"""
import re
import re._constants as C
import re._parser as P

import ftfy.badness as badness
import ftfy.chardata as chardata
import ftfy.fixes as fixes

# atom kinds: keep in step with host/text/unicode_tables.h
ATOM_CLASS, ATOM_NOT_CLASS, ATOM_LIT, ATOM_SPACE, ATOM_WORD, ATOM_ANY, ATOM_BOL = range(7)
MAX_ATOMS = 7
U8_BITS = {"utf8_first_of_2": 1, "utf8_first_of_3": 2, "utf8_first_of_4": 4, "utf8_continuation": 8,
           "utf8_continuation_strict": 16}
DETECTOR_TEMPLATE = """
    (?<! [{utf8_continuation_strict}])
    (
        [{utf8_first_of_2}] [{utf8_continuation}]
        |
        [{utf8_first_of_3}] [{utf8_continuation}]{{2}}
        |
        [{utf8_first_of_4}] [{utf8_continuation}]{{3}}
    )+
    """


def class_set(items):
    """(negated, set of code points) of the items of an IN node made of literals and ranges."""
    neg, s = False, set()
    for op, av in items:
        if op is C.NEGATE:
            neg = True
        elif op is C.LITERAL:
            s.add(av)
        elif op is C.RANGE:
            assert av[1] - av[0] < 0x1000, av
            s.update(range(av[0], av[1] + 1))
        else:
            raise AssertionError(f"unsupported class item {op}")
    return neg, frozenset(s)


def alternatives(pattern, flags):
    """The top-level BRANCH of a pattern as lists of single-character items (repeats expanded)."""
    tree = P.parse(pattern, flags)
    assert len(tree) == 1 and tree[0][0] is C.BRANCH, "expected a plain alternation"
    out = []
    for alt in tree[0][1][1]:
        seqs = [[]]
        for op, av in alt:
            if op is C.MAX_REPEAT:
                lo, hi, sub = av
                assert len(sub) == 1
                if (lo, hi) == (0, 1):  # x?: both spellings (fine for a search, which is all is_bad does)
                    seqs = [s + k for s in seqs for k in ([], [sub[0]])]
                else:
                    assert lo == hi, av
                    seqs = [s + [sub[0]] * lo for s in seqs]
            else:
                seqs = [s + [(op, av)] for s in seqs]
        out += seqs
    return out


def badness_tables():
    classes = {}  # frozenset -> bit
    pats = []
    for alt in alternatives(badness.BADNESS_RE.pattern, badness.BADNESS_RE.flags):
        atoms = []
        for op, av in alt:
            if op is C.LITERAL:
                atoms.append((ATOM_LIT, av))
            elif op is C.ANY:
                atoms.append((ATOM_ANY, 0))
            elif op is C.AT:
                assert av is C.AT_BEGINNING
                atoms.append((ATOM_BOL, 0))
            elif op is C.IN and len(av) == 1 and av[0][0] is C.CATEGORY:
                cat = av[0][1]
                assert cat in (C.CATEGORY_SPACE, C.CATEGORY_WORD), cat
                atoms.append((ATOM_SPACE if cat is C.CATEGORY_SPACE else ATOM_WORD, 0))
            elif op is C.IN:
                neg, s = class_set(av)
                if len(s) == 1 and not neg:
                    atoms.append((ATOM_LIT, next(iter(s))))
                    continue
                bit = classes.setdefault(s, len(classes))
                atoms.append((ATOM_NOT_CLASS if neg else ATOM_CLASS, bit))
            else:
                raise AssertionError(f"unsupported badness item {op}")
        assert 1 <= len(atoms) <= MAX_ATOMS
        pats.append(atoms)
    assert len(classes) <= 64, len(classes)
    return classes, pats


def detector_classes():
    assert chardata.UTF8_DETECTOR_RE.pattern == DETECTOR_TEMPLATE.format(**chardata.UTF8_CLUES)
    assert chardata.UTF8_DETECTOR_RE.flags & re.VERBOSE
    out = {}
    for name, bit in U8_BITS.items():
        neg, s = class_set(P.parse(f"[{chardata.UTF8_CLUES[name]}]", re.VERBOSE)[0][1])
        assert not neg
        out[bit] = s
    return out


def byte_tables():
    classes = {}
    pats = {}
    for name, rx in (("altered_utf8", chardata.ALTERED_UTF8_RE), ("lossy_utf8", chardata.LOSSY_UTF8_RE)):
        pats[name] = []
        for alt in alternatives(rx.pattern, rx.flags):
            seq = []
            for op, av in alt:
                if op is C.LITERAL:
                    s = frozenset([av])
                else:
                    assert op is C.IN, op
                    neg, s = class_set(av)
                    assert not neg
                seq.append(classes.setdefault(s, len(classes)))
            assert 1 <= len(seq) <= 6
            pats[name].append(seq)
    return classes, pats


def charmap_table():
    encs = chardata.CHARMAP_ENCODINGS
    table = {}
    for e, enc in enumerate(encs):
        # possible_encoding(): the bytes 0x80-0xFF and 0x1A as decoded, plus the other ASCII bytes
        charlist = bytes(list(range(0x80, 0x100)) + [0x1A]).decode(enc)
        assert chardata.ENCODING_REGEXES[enc].pattern == f"^[\x00-\x19\x1b-\x7f{charlist}]*$"
        allowed = set(charlist)
        for c in range(0x80):
            if c != 0x1A:
                assert chr(c).encode(enc) == bytes([c]), (enc, c)
        for ch in allowed:
            b = ch.encode(enc)
            assert len(b) == 1 and (b[0] != 0), (enc, ch)
            if ord(ch) < 0x80 and ord(ch) != 0x1A:
                continue
            table.setdefault(ord(ch), [0] * len(encs))[e] = b[0]
    # the C code folds ftfy's "latin-1 but not windows-1252" branch into fix_c1_controls: that needs
    # strict windows-1252 to agree with the sloppy codec wherever it decodes at all
    for b in range(0x80, 0x100):
        try:
            strict = bytes([b]).decode("windows-1252")
        except UnicodeDecodeError:
            assert bytes([b]).decode("sloppy-windows-1252") == chr(b)
            continue
        assert strict == bytes([b]).decode("sloppy-windows-1252")
    assert fixes.A_GRAVE_WORD_RE.pattern == b"\xc3 (?! |quele|quela|quilo|s )"
    assert chardata.C1_CONTROL_RE.pattern == r"[\x80-\x9f]"
    return encs, sorted(table.items())


def gen_mojibake(f):
    classes, pats = badness_tables()
    det = detector_classes()
    masks = {}
    for s, bit in classes.items():
        for c in s:
            masks.setdefault(c, [0, 0])[0] |= 1 << bit
    for bit, s in det.items():
        for c in s:
            masks.setdefault(c, [0, 0])[1] |= bit
    runs = []  # [lo, hi, badmask, u8mask]
    for c in sorted(masks):
        m = masks[c]
        if runs and runs[-1][1] == c - 1 and runs[-1][2:] == m:
            runs[-1][1] = c
        else:
            runs.append([c, c] + m)
    f.write("\n/* ---- fix_encoding (mojibake repair) ---------------------------------- */\n\n")
    f.write("/* code points in a class of badness.BADNESS_RE (bit k = class k of loom_ftfy_badness)\n"
            " * or of chardata.UTF8_DETECTOR_RE (LOOM_FTFY_U8_* bits) */\n")
    f.write("const loom_ftfy_class_run loom_ftfy_classes[] = {\n")
    for lo, hi, m, u in runs:
        f.write(f"    {{0x{lo:04X}, 0x{hi:04X}, 0x{m:X}u, 0x{u:X}}},\n")
    f.write(f"}};\nconst size_t loom_ftfy_classes_count = {len(runs)};\n\n")
    f.write(f"/* badness.BADNESS_RE: {len(pats)} alternatives (x? written out both ways) of\n"
            " * {kind, class bit or code point}; is_bad() is a search for any of them */\n")
    f.write("const loom_ftfy_pattern loom_ftfy_badness[] = {\n")
    for atoms in pats:
        f.write(f"    {{{len(atoms)}, {{" + ", ".join(f"{{{k}, 0x{a:X}}}" for k, a in atoms) + "}},\n")
    f.write(f"}};\nconst size_t loom_ftfy_badness_count = {len(pats)};\n\n")

    bclasses, bpats = byte_tables()
    f.write("/* byte classes of ALTERED_UTF8_RE and LOSSY_UTF8_RE: 256-bit sets */\n")
    f.write(f"const uint32_t loom_ftfy_byte_classes[{len(bclasses)}][8] = {{\n")
    for s, _ in sorted(bclasses.items(), key=lambda kv: kv[1]):
        words = [sum(1 << (b - 32 * w) for b in s if 32 * w <= b < 32 * w + 32) for w in range(8)]
        f.write("    {" + ", ".join(f"0x{x:08X}u" for x in words) + "},\n")
    f.write("};\n\n")
    for name, rx in (("altered_utf8", "ALTERED_UTF8_RE"), ("lossy_utf8", "LOSSY_UTF8_RE")):
        f.write(f"/* chardata.{rx}, alternatives in the pattern's order (byte class indices) */\n")
        f.write(f"const loom_ftfy_byte_pattern loom_ftfy_{name}[] = {{\n")
        for seq in bpats[name]:
            f.write(f"    {{{len(seq)}, {{" + ", ".join(str(x) for x in seq) + "}},\n")
        f.write(f"}};\nconst size_t loom_ftfy_{name}_count = {len(bpats[name])};\n\n")

    encs, table = charmap_table()
    f.write("/* chardata.CHARMAP_ENCODINGS, in the order fix_encoding tries them */\n")
    f.write(f"const char *const loom_ftfy_charmap_names[LOOM_FTFY_CHARMAPS] = {{\n")
    f.write("    " + ", ".join(f'"{e}"' for e in encs) + ",\n};\n")
    flags = [(1 if e.startswith("sloppy") else 0) | (2 if e != "macroman" else 0) for e in encs]
    f.write("const uint8_t loom_ftfy_charmap_flags[LOOM_FTFY_CHARMAPS] = {"
            + ", ".join(str(x) for x in flags) + "};\n\n")
    f.write("/* characters other than ASCII (U+001A included) some of them can encode, and their byte in\n"
            " * each (0: not encodable); ASCII other than U+001A is the same byte in all */\n")
    f.write("const loom_ftfy_charmap_entry loom_ftfy_charmap[] = {\n")
    for i in range(0, len(table), 2):
        f.write("   " + "".join(f" {{0x{c:04X}, {{" + ",".join(f"0x{b:02X}" for b in bs) + "}},"
                                for c, bs in table[i:i + 2]) + "\n")
    f.write(f"}};\nconst size_t loom_ftfy_charmap_count = {len(table)};\n")
    assert len(encs) == 10
    return len(runs), len(pats), len(table)
