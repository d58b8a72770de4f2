"""Slow, obviously-correct sentencepiece normalizer and BPE: the oracles for _charsmap.pyx and _score_bpe.pyx.

sentencepiece's `Normalizer::Normalize`, restated over UTF-8 bytes:

1. `prefix(pos)` (NormalizePrefix) says what the text at pos becomes and how many bytes that consumes:
   the longest user-defined symbol there, copied as it is; else the longest key of the character map,
   replaced by its NUL-terminated string; else one valid UTF-8 character, copied; else one byte,
   replaced by U+FFFD.
2. With remove_extra_whitespaces: skip prefixes that become exactly " " at the start; drop the leading
   spaces of a replacement that follows a replacement ending in a space; drop trailing spaces.
3. add_dummy_prefix puts one space in front (at the end with treat_whitespace_as_suffix);
   escape_whitespaces writes every space as ▁ (U+2581).

>>> normalize(b"  Hello   world ", units=[], replacements=b"", symbols=())
b'\\xe2\\x96\\x81Hello\\xe2\\x96\\x81world'
"""

import heapq

__all__ = ["normalize", "longest_rule", "utf8_char_length", "bpe_segment"]

_SPACE = "\u2581".encode("utf-8")
_REPLACEMENT = "\ufffd".encode("utf-8")


def utf8_char_length(data: bytes, pos: int) -> int:
    """Length of the valid UTF-8 character at data[pos], or 0 (overlong, surrogate, > U+10FFFF,
    truncated: sentencepiece's DecodeUTF8 calls all of these invalid)."""
    for n in (1, 2, 3, 4):
        chunk = data[pos:pos + n]
        if len(chunk) < n:
            return 0
        try:
            chunk.decode("utf-8")
            return n
        except UnicodeDecodeError as e:
            if e.reason != "unexpected end of data":
                return 0
    return 0


def longest_rule(units: list, data: bytes, pos: int) -> tuple:
    """(length, value) of the longest key of the Darts double array `units` at data[pos:], or (0, 0).

    A unit u: offset (u >> 10) << ((u & 0x200) >> 6); label u & 0x800000FF (bit 31 set on leaves, so a
    leaf never matches a byte); has_leaf bit 8; value u & 0x7FFFFFFF. An index past the array ends the walk.
    """
    def offset(u):
        return (u >> 10) << ((u & 0x200) >> 6)

    if not units:
        return 0, 0
    node = offset(units[0])
    best = (0, 0)
    for k in range(pos, len(data)):
        node ^= data[k]
        if node >= len(units) or units[node] & 0x800000FF != data[k]:
            break
        unit = units[node]
        node ^= offset(unit)
        if unit >> 8 & 1:
            if node >= len(units):
                break
            best = (k + 1 - pos, units[node] & 0x7FFFFFFF)
    return best


def _prefix(data, pos, units, replacements, symbols):
    for n in sorted({len(s) for s in symbols}, reverse=True):
        if data[pos:pos + n] in symbols:
            return data[pos:pos + n], n
    length, value = longest_rule(units, data, pos)
    if length:
        end = replacements.find(b"\0", value)
        return replacements[value:end if end >= 0 else len(replacements)], length
    length = utf8_char_length(data, pos)
    return (data[pos:pos + length], length) if length else (_REPLACEMENT, 1)


def normalize(text: bytes, *, units, replacements, symbols, add_dummy_prefix=True,
              remove_extra_whitespaces=True, escape_whitespaces=True, treat_whitespace_as_suffix=False) -> bytes:
    """The normalized bytes of `text`; symbols: the user-defined symbols as a set of bytes."""
    symbols = frozenset(symbols)
    pos = 0
    if remove_extra_whitespaces:
        while pos < len(text):
            piece, n = _prefix(text, pos, units, replacements, symbols)
            if piece != b" ":
                break
            pos += n
    if pos == len(text):
        return b""
    space = _SPACE if escape_whitespaces else b" "
    out = bytearray(space if add_dummy_prefix and not treat_whitespace_as_suffix else b"")
    after_space = remove_extra_whitespaces
    while pos < len(text):
        piece, n = _prefix(text, pos, units, replacements, symbols)
        if after_space:
            piece = piece.lstrip(b" ")
        if piece:
            out += piece.replace(b" ", _SPACE) if escape_whitespaces else piece
            after_space = remove_extra_whitespaces and piece.endswith(b" ")
        elif not remove_extra_whitespaces:
            after_space = False
        pos += n
    if remove_extra_whitespaces:
        while out.endswith(space):
            del out[-len(space):]
    if add_dummy_prefix and treat_whitespace_as_suffix:
        out += space
    return bytes(out)


def bpe_segment(text: bytes, *, pieces: dict, symbols=()) -> list:
    """sentencepiece's BPE segmentation of normalized `text` (bpe::Model, no dropout), as piece bytes.

    pieces: {piece bytes: (score, unused)} for sentencepiece's piece table (normal, user-defined and
    unused pieces); symbols: the user-defined symbols (bytes).

    1. Symbols: at each position the longest user-defined symbol (frozen: it never merges), else one
       character (its length from the lead byte).
    2. Every adjacent pair of unfrozen symbols whose joined bytes are a piece is a candidate, keyed by
       (-score, left position). Pop the best; skip it if either side has changed (been merged away or
       grown); else join them and add the candidates the new symbol forms with its neighbours.
    3. Emit the symbols left to right, splitting an unused piece into the two symbols that last formed
       it (recursively).

    >>> bpe_segment(b"aab", pieces={b"a": (0.0, False), b"b": (0.0, False), b"aa": (-1.0, False),
    ...                             b"ab": (-1.0, False)})
    [b'aa', b'b']
    """
    symbols = frozenset(symbols)
    lengths = sorted({len(s) for s in symbols}, reverse=True)
    starts, frozen, pos = [], [], 0
    while pos < len(text):
        n = next((k for k in lengths if text[pos:pos + k] in symbols), 0)
        frozen.append(n > 0)
        if not n:
            n = min((1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4)[text[pos] >> 4], len(text) - pos)
        starts.append(pos)
        pos += n
    if not starts:
        return []
    sym = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    prev = list(range(-1, len(sym) - 1))
    nxt = list(range(1, len(sym))) + [-1]
    agenda, made_from = [], {}

    def push(left, right):
        if left < 0 or right < 0 or frozen[left] or frozen[right]:
            return
        joined = sym[left] + sym[right]
        if joined in pieces:
            score, unused = pieces[joined]
            heapq.heappush(agenda, (-score, left, right, len(joined)))
            if unused:
                made_from[joined] = (sym[left], sym[right])

    for k in range(1, len(sym)):
        push(k - 1, k)
    while agenda:
        _, left, right, size = heapq.heappop(agenda)
        if not sym[left] or not sym[right] or len(sym[left]) + len(sym[right]) != size:
            continue
        sym[left] += sym[right]
        sym[right] = b""
        nxt[left] = nxt[right]
        if nxt[right] >= 0:
            prev[nxt[right]] = left
        push(prev[left], left)
        push(left, nxt[left])

    out = []

    def emit(piece):
        if piece in made_from and pieces.get(piece, (0, False))[1]:
            emit(made_from[piece][0])
            emit(made_from[piece][1])
        else:
            out.append(piece)

    k = 0
    while k >= 0:
        emit(sym[k])
        k = nxt[k]
    return out
