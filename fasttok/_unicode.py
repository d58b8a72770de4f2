"""Character classes of the pre-tokenizer scanner, derived from Python's `unicodedata`.

The GPT-2 and GPT-4 split patterns only ask four questions of a code point: is it a letter
(`\\p{L}`), a number (`\\p{N}`), white space (`\\s`, which the `regex` module defines as the Unicode
White_Space property), or something else; and the GPT-4 pattern singles out CR and LF. This module
answers them once for all 0x110000 code points and packs the answers into a two-level table that
`fasttok._pretok` reads from C:

    block_index: uint16[0x110000 >> 7]      # code point >> 7 -> block number
    blocks:      uint8[n_blocks * 128]      # block number * 128 + (code point & 127) -> class

Only about 200 of the 8704 blocks of 128 code points differ from one another, so the table is about
42 KB and stays in cache. Building it takes 50-110 ms (measured on the project machine), so it is built
lazily, on the first call that needs it, not at import.

Unicode version: the classes follow `unicodedata.unidata_version` of the running Python (14.0.0 on
Python 3.11). Code points assigned later are "other" here even if a newer `regex` module calls them
letters or numbers; see docs/pretok.md.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata

import numpy as np

from fasttok._files import atomic_write

# Class codes; fasttok/_pretok.pxd declares the same numbers as CLS_*.
OTHER = 0
LETTER = 1
NUMBER = 2
SPACE = 3  # White_Space other than CR and LF
NEWLINE = 4  # CR or LF

BLOCK_SIZE = 128
N_CODE_POINTS = 0x110000
_PLANE = 0x10000

_CATEGORY_CLASS = {
    "Lu": LETTER, "Ll": LETTER, "Lt": LETTER, "Lm": LETTER, "Lo": LETTER,
    "Nd": NUMBER, "Nl": NUMBER, "No": NUMBER,
    # Every Z* character is White_Space, and together with the six controls below they are all of it.
    "Zs": SPACE, "Zl": SPACE, "Zp": SPACE,
}
# White_Space controls: TAB, VT, FF, NEL (0x85). Note 0x1C-0x1F are *not* White_Space although
# str.isspace() says they are space; the regex module's \s follows White_Space.
_SPACE_CONTROLS = frozenset((0x09, 0x0B, 0x0C, 0x85))
_NEWLINES = frozenset((0x0A, 0x0D))

# A block in which nothing matches this holds no letter, number or space: str.isalnum() covers every
# L* and N* character and str.isspace() covers White_Space, both supersets, which is all a "none"
# test needs. test_pretok.py checks the fast table against char_class() for every code point.
_MAYBE_CLASSED = re.compile(r"[\w\s]")


def char_class(cp: int) -> int:
    """Class of one code point, the slow, obvious way: the test oracle of build_class_table().

    >>> char_class(ord("a")), char_class(ord("٣")), char_class(0x3000), char_class(ord("\\n"))
    (1, 2, 3, 4)
    """
    if cp in _NEWLINES:
        return NEWLINE
    if cp in _SPACE_CONTROLS:
        return SPACE
    return _CATEGORY_CLASS.get(unicodedata.category(chr(cp)), OTHER)


def build_class_table() -> tuple[np.ndarray, np.ndarray]:
    """Return (block_index uint16[8704], blocks uint8[n_blocks * 128]) for every code point."""
    all_other = bytes(BLOCK_SIZE)
    all_letter = bytes([LETTER]) * BLOCK_SIZE
    block_ids: dict[bytes, int] = {}
    block_index = np.empty(N_CODE_POINTS // BLOCK_SIZE, dtype=np.uint16)  # (8704,)
    # One plane at a time: decoding all 0x110000 code points at once would cost ~9 MB of peak memory
    # for a table of ~40 KB.
    for plane in range(0, N_CODE_POINTS, _PLANE):
        code_points = np.arange(plane, plane + _PLANE, dtype="<u4")  # (65536,)
        if plane == 0:
            code_points[0xD800:0xE000] = 0  # surrogates cannot be decoded from UTF-8: class them as NUL
        # One C-level decode instead of 65536 chr() calls.
        plane_chars = code_points.tobytes().decode("utf-32-le")
        for offset in range(0, _PLANE, BLOCK_SIZE):
            start = plane + offset
            chars = plane_chars[offset:offset + BLOCK_SIZE]
            # Most blocks are all letters (CJK, Hangul) or hold no classed character at all
            # (unassigned planes, private use, symbols); only mixed blocks go one code point at a time.
            if chars.isalpha():
                block = all_letter
            elif _MAYBE_CLASSED.search(chars) is None:
                block = all_other
            else:
                block = bytes(char_class(start + i) for i in range(BLOCK_SIZE))
            block_index[start // BLOCK_SIZE] = block_ids.setdefault(block, len(block_ids))
    blocks = np.frombuffer(b"".join(block_ids), dtype=np.uint8).copy()  # (n_blocks * 128,)
    return block_index, blocks


def class_of_all_code_points(block_index: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Expand the two-level table to one uint8 class per code point (for tests and inspection)."""
    rows = blocks.reshape(-1, BLOCK_SIZE)  # (n_blocks, 128)
    return rows[block_index].reshape(-1)  # (0x110000,)


# ------------------------------------------------------------------------------------------------
# A disk cache, so that only the first process on a machine pays for the build (20-50 ms measured on the
# project machine, against under 2 ms to load and check the cached file; the tinyshakespeare training
# benchmark in README.md depends on it). The file is a plain input: it may be truncated by a crash,
# corrupted on disk, or left by another build, so it is used only when its contents pass a SHA-256
# written beside them and every bound the scanner relies on; anything else is rebuilt and rewritten.

def cache_path() -> str | None:
    """Where the table is cached: $FASTTOK_CACHE_DIR, else $XDG_CACHE_HOME/fasttok, else ~/.cache/fasttok.

    The file name carries the Unicode version and a hash of this module, so a new Python or a change
    to the classification never reads an old table. FASTTOK_CACHE_DIR="" turns the cache off.
    """
    directory = os.environ.get("FASTTOK_CACHE_DIR")
    if directory is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        directory = os.path.join(base, "fasttok")
    if not directory:
        return None
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return os.path.join(directory, f"classes-{unicodedata.unidata_version}-{digest}.npz")


def _checksum(block_index, blocks) -> np.ndarray:
    """SHA-256 of the table's contents (dtype, shape and bytes of both arrays), as uint8[32]."""
    h = hashlib.sha256()
    for a in (block_index, blocks):
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8)


def _valid(block_index, blocks) -> bool:
    # The scanner indexes blocks with block_index without bounds checks: only a table whose every
    # index and class is in range may reach it.
    return (block_index.dtype == np.uint16 and block_index.shape == (N_CODE_POINTS // BLOCK_SIZE,)
            and blocks.dtype == np.uint8 and blocks.ndim == 1 and blocks.size % BLOCK_SIZE == 0
            and blocks.size > 0 and int(block_index.max()) < blocks.size // BLOCK_SIZE
            and int(blocks.max()) <= NEWLINE)


def _read_cache(path):
    """The cached (block_index, blocks), or None when the file is missing, unreadable or fails any check."""
    try:
        with np.load(path, allow_pickle=False) as data:
            block_index, blocks, checksum = data["block_index"], data["blocks"], data["sha256"]
    except Exception:
        # A truncated or CRC-corrupt zip raises zipfile.BadZipFile, zlib.error, EOFError, ... (not only
        # OSError/ValueError): whatever the reason, an unreadable cache is rebuilt, never an error.
        return None
    if not (isinstance(checksum, np.ndarray) and checksum.dtype == np.uint8 and checksum.shape == (32,)):
        return None
    if not _valid(block_index, blocks) or not np.array_equal(checksum, _checksum(block_index, blocks)):
        return None
    return np.ascontiguousarray(block_index), np.ascontiguousarray(blocks)


def load_class_table() -> tuple[np.ndarray, np.ndarray]:
    """The class table from the disk cache when a valid one is there, else built (and cached)."""
    path = cache_path()
    if path is not None and (table := _read_cache(path)) is not None:
        return table
    block_index, blocks = build_class_table()
    if path is not None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with atomic_write(path, "wb") as f:
                np.savez(f, block_index=block_index, blocks=blocks, sha256=_checksum(block_index, blocks))
        except OSError:
            pass  # a read-only home only costs the rebuild next time
    return block_index, blocks
