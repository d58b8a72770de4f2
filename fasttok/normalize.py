"""Text normalizers: plain `str -> str` functions, composed by the tokenizers that use them.

The BERT functions reproduce Hugging Face `tokenizers`' BertNormalizer character for character
(the reference the parity tests compare against), which differs from Google's original Python
BERT code in three documented places:

* control characters are Unicode categories Cc, Cf, Co, Cs (not Cn: unassigned code points are kept);
* whitespace is Unicode's White_Space property (so U+2028/U+2029 count; U+001C..U+001F do not and,
  being Cc, are dropped);
* the CJK ranges skip U+2B820..U+2B91F (HF's table), and lowercasing is per character, so a final
  capital sigma becomes `σ`, never the context-dependent `ς` that `str.lower()` produces.

Order, as in HF: clean text, space out CJK, strip accents, lowercase.

>>> bert_normalize("Héllo\\tWORLD\\x00 中文")
'hello world  中  文 '
"""
import functools
import re
import unicodedata

import numpy as np

__all__ = [
    "clean_text", "pad_cjk", "strip_accents", "lowercase", "nfc", "nfkc", "bert_normalize", "repair_surrogates",
    "WHITESPACE", "is_cjk", "is_control", "is_punctuation", "is_whitespace", "bert_char_classes",
]

# Unicode's White_Space property (what Rust's char::is_whitespace, hence HF, uses).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# CJK Unified Ideographs and extensions, and the compatibility blocks, as HF's BertNormalizer lists them.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
_CONTROL_CATEGORIES = frozenset(("Cc", "Cf", "Co", "Cs"))
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def is_whitespace(ch: str) -> bool:
    """True for a White_Space character: `is_whitespace("\\u3000") -> True`."""
    return ch in WHITESPACE


def is_control(ch: str) -> bool:
    """True for a character BERT's clean-up drops (tab, newline and CR are whitespace instead)."""
    if ch in "\t\n\r":
        return False
    return ch in "\x00\ufffd" or unicodedata.category(ch) in _CONTROL_CATEGORIES


def is_punctuation(ch: str) -> bool:
    """ASCII punctuation (which includes symbols like `$` and `+`) or any Unicode P* character."""
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (not kana, not Hangul): `is_cjk("中") -> True`."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


# Class bits of bert_char_classes, as fasttok/_wordpiece.pyx reads them.
BERT_WHITESPACE, BERT_ALONE, BERT_DROPPED, BERT_NONSPACING = 1, 2, 4, 8


@functools.cache
def bert_char_classes(size: int = 0x110000) -> np.ndarray:
    """The predicates above as a table for the core: class bits per code point below `size`.

    1 whitespace, 2 a word alone (punctuation, CJK), 4 dropped by the clean-up, 8 nonspacing mark.
    The full table (about 0.3 s to build, once per process) is only needed once non-ASCII text
    arrives; pure-ASCII batches use the first 128.

    >>> [int(c) for c in bert_char_classes(0x80)[[ord(" "), ord("a"), ord("!"), 0]]]
    [1, 0, 2, 4]
    """
    categories = [unicodedata.category(chr(cp)) for cp in range(size)]
    codes = {cat: k for k, cat in enumerate(sorted(set(categories)))}
    cat = np.fromiter((codes[c] for c in categories), dtype=np.uint8, count=size)  # (size,)
    table = np.zeros(size, dtype=np.uint8)  # (size,)
    punct = [codes[c] for c in codes if c.startswith("P")]
    table[np.isin(cat, punct)] |= BERT_ALONE
    table[[ord(ch) for ch in _ASCII_PUNCTUATION]] |= BERT_ALONE
    for lo, hi in _CJK_RANGES:
        table[lo:hi + 1] |= BERT_ALONE
    table[np.isin(cat, [codes[c] for c in _CONTROL_CATEGORIES if c in codes])] |= BERT_DROPPED
    table[[cp for cp in (0, 0xFFFD) if cp < size]] |= BERT_DROPPED
    table[np.isin(cat, [codes[c] for c in ("Mn",) if c in codes])] |= BERT_NONSPACING
    for ch in WHITESPACE:
        if ord(ch) < size and (ch in "\t\n\r" or not table[ord(ch)] & BERT_DROPPED):
            table[ord(ch)] = BERT_WHITESPACE
    table.flags.writeable = False
    return table


def _char_class(ranges) -> str:
    """A regex character class matching the given inclusive code point ranges."""
    return "[" + "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges) + "]"


def _ranges(flags):
    """Maximal runs of code points whose flag is set, as inclusive (lo, hi) pairs."""
    out, start = [], None
    for cp, flag in enumerate(flags):
        if flag and start is None:
            start = cp
        elif not flag and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


@functools.cache
def _patterns():
    """Regexes built once from the Unicode tables, paid only when non-ASCII text appears."""
    categories = [unicodedata.category(chr(cp)) for cp in range(0x110000)]
    drop = _ranges([cat in _CONTROL_CATEGORIES for cat in categories])
    drop = sorted(set(drop) | {(0, 0), (0xFFFD, 0xFFFD)})
    keep = {ord(ch) for ch in "\t\n\r"}
    drop = [r for lo, hi in drop for r in _split_range(lo, hi, keep)]
    nonspacing = _ranges([cat == "Mn" for cat in categories])
    whitespace = sorted((ord(ch), ord(ch)) for ch in WHITESPACE if not is_control(ch))
    return {
        "drop": re.compile(_char_class(drop)),
        "space": re.compile(_char_class(whitespace)),
        "cjk": re.compile("(" + _char_class(sorted(_CJK_RANGES)) + ")"),
        "mn": re.compile(_char_class(nonspacing)),
    }


def _split_range(lo, hi, holes):
    """(lo, hi) without the code points in `holes`."""
    out, start = [], lo
    for h in sorted(x for x in holes if lo <= x <= hi):
        if start <= h - 1:
            out.append((start, h - 1))
        start = h + 1
    if start <= hi:
        out.append((start, hi))
    return out


# ASCII fast path: str.translate with a 128-entry table.
_ASCII_CLEAN = {cp: None for cp in range(0x20) if chr(cp) not in "\t\n\r"}
_ASCII_CLEAN.update({0x7F: None, ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})


def clean_text(text: str) -> str:
    """Drop NUL, U+FFFD and control characters; map every whitespace character to a space.

    >>> clean_text("a\\x00b\\u200bc\\td\\u2028e")
    'abc d e'
    """
    if text.isascii():
        return text.translate(_ASCII_CLEAN)
    p = _patterns()
    return p["space"].sub(" ", p["drop"].sub("", text))


def pad_cjk(text: str) -> str:
    """Put a space on each side of every CJK ideograph: `pad_cjk("a中b") -> 'a 中 b'`."""
    if text.isascii():
        return text
    return _patterns()["cjk"].sub(r" \1 ", text)


def strip_accents(text: str) -> str:
    """Decompose (NFD) and drop nonspacing marks (category Mn): `strip_accents("café") -> 'cafe'`."""
    if text.isascii():
        return text
    return _patterns()["mn"].sub("", unicodedata.normalize("NFD", text))


def lowercase(text: str) -> str:
    """Lowercase each character on its own: `lowercase("ΟΔΟΣ") -> 'οδοσ'` (no final-sigma rule)."""
    # str.lower() is context-free except for the final-sigma rule of capital sigma; map that first.
    return text.replace("\u03a3", "\u03c3").lower()


def nfc(text: str) -> str:
    """Canonical composition: `nfc("e\\u0301") -> 'é'`."""
    return unicodedata.normalize("NFC", text)


def nfkc(text: str) -> str:
    """Compatibility composition: `nfkc("ﬁ") -> 'fi'`."""
    return unicodedata.normalize("NFKC", text)


def repair_surrogates(text: str) -> str:
    """Make text encodable as UTF-8 the way tiktoken does: a surrogate pair becomes the character it
    stands for in UTF-16, a lone surrogate U+FFFD; any other text is returned unchanged.

    Python strings can hold surrogates (from JSON `"\\ud83d\\udc4d"`, `surrogateescape`, Windows
    APIs) that UTF-8 cannot encode; repairing them, instead of raising, matches tiktoken's `encode`.

    >>> repair_surrogates("\\ud83d\\udc4d \\ud800") == "\\U0001f44d \\ufffd"
    True
    """
    if text.isascii():  # O(1) in CPython: the common case pays nothing
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def bert_normalize(text: str, *, lowercase: bool = True, strip_accents: bool | None = None) -> str:
    """BERT's normalizer: clean, space out CJK, strip accents (default: when lowercasing), lowercase."""
    text = pad_cjk(clean_text(text))
    if lowercase if strip_accents is None else strip_accents:
        text = _strip_accents(text)
    if lowercase:
        text = _lowercase(text)
    return text


_strip_accents = strip_accents
_lowercase = lowercase
