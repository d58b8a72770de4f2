"""Where the `regex` oracle and fasttok's Unicode tables may disagree, and text that avoids exactly that.

fasttok's character classes come from the running Python's `unicodedata` (Python 3.11: Unicode 14), the
`regex` module carries its own, often newer, tables (regex 2026.11 knows code points that Unicode 14 leaves
unassigned, such as U+13441). On those code points fasttok agrees with tiktoken and HF `tokenizers`, not
with `regex`, so every test that uses `regex` as its oracle draws text through `AGREEING_CHARS`, which
leaves out exactly the code points whose class differs. `test_pretok.py` proves that set is small and
holds only code points unassigned in `unicodedata`.
"""
from functools import lru_cache

import numpy as np
import regex
from hypothesis import strategies as st

from fasttok import _pretok, _unicode


@lru_cache(maxsize=None)
def regex_classes():
    """Class of every code point according to the regex module: uint8[0x110000]."""
    code_points = np.arange(0x110000, dtype="<u4")
    code_points[0xD800:0xE000] = 0
    every_char = code_points.tobytes().decode("utf-32-le")
    classes = np.zeros(0x110000, dtype=np.uint8)  # (0x110000,)
    for cls, pattern in [(_unicode.LETTER, r"\p{L}"), (_unicode.NUMBER, r"\p{N}"), (_unicode.SPACE, r"\s")]:
        hits = np.fromiter(map(ord, regex.findall(pattern, every_char)), dtype=np.int64)
        classes[hits] = cls
    classes[[0x0A, 0x0D]] = _unicode.NEWLINE
    return classes


@lru_cache(maxsize=None)
def newer_code_points():
    """Code points whose class differs between our table and the regex module."""
    ours = _unicode.class_of_all_code_points(*_pretok._class_table())
    return frozenset(np.nonzero(ours != regex_classes())[0].tolist())


def agrees(ch: str) -> bool:
    return ord(ch) not in newer_code_points()


AGREEING_CHARS = st.characters(blacklist_categories=("Cs",)).filter(agrees)


def agreeing_text(**kwargs):
    """`st.text(...)` over the code points on which regex and unicodedata agree."""
    return st.text(AGREEING_CHARS, **kwargs)
