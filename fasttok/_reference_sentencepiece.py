"""Slow, obviously-correct sentencepiece normalizer: the test oracle for fasttok/_charsmap.pyx.

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

__all__ = ["normalize", "longest_rule", "utf8_char_length"]

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
