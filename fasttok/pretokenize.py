"""Split patterns, splitting, and reading a corpus as a stream of text blocks.

A pattern is one of the names in PATTERNS, any regex string, or a compiled `regex` pattern.
"""
import functools
import os
import re as _re_std

from fasttok import _pretok
from fasttok.errors import CorpusError

# The published patterns, character for character: GPT-2's from OpenAI's encoder.py, GPT-4's
# (cl100k_base) from tiktoken. "whitespace" is HF tokenizers' Whitespace pre-tokenizer.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
WHITESPACE_PATTERN = r"""\w+|[^\w\s]+"""

PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "whitespace": WHITESPACE_PATTERN}
_SCANNED = {GPT2_PATTERN, GPT4_PATTERN}  # the core scanner splits these; others need the regex module

_NAME_LIKE = _re_std.compile(r"[A-Za-z][A-Za-z0-9_\-]*")

# Files are read in blocks of about this many bytes, cut where no pre-token can straddle the cut.
BLOCK_SIZE = 1 << 20


def pattern_source(pattern):
    """Return the regex source string for a pattern name, regex string or compiled regex; None for None.

    >>> pattern_source("gpt2") == GPT2_PATTERN
    True
    """
    if pattern is None:
        return None
    if isinstance(pattern, str):
        if pattern in PATTERNS:
            return PATTERNS[pattern]
        if _NAME_LIKE.fullmatch(pattern):
            # A bare word is almost surely a misspelt name, not a regex that matches that word.
            raise ValueError(f"unknown pattern name {pattern!r}; known names: {', '.join(PATTERNS)} "
                             f"(to split on a literal word, pass regex.compile({pattern!r}))")
        source = pattern
    elif hasattr(pattern, "pattern"):
        source = pattern.pattern
    else:
        raise TypeError(f"pattern must be a name, a regex string or a compiled regex, not {type(pattern).__name__}")
    if source not in _SCANNED:
        regex = _regex_module()
        try:
            regex.compile(source)
        except regex.error as e:
            raise ValueError(f"invalid pattern regex {source!r}: {e}") from None
    return source


def _regex_module():
    try:
        import regex
    except ImportError:
        raise ImportError("patterns other than 'gpt2' and 'gpt4' run through the `regex` module: "
                          "pip install regex (or fasttok[regex])") from None
    return regex


def pattern_name(source):
    """The name of a pattern source if it is one of PATTERNS, else the source itself."""
    for name, src in PATTERNS.items():
        if src == source:
            return name
    return source


_compiled = {}


def compile_pattern(source):
    if source not in _compiled:
        _compiled[source] = _regex_module().compile(source)
    return _compiled[source]


def splitter(source):
    """A function text -> pieces for a pattern source (see `split`)."""
    if source is None:
        return lambda text: [text] if text else []
    if source in _SCANNED:
        return functools.partial(_pretok.split, pattern=pattern_name(source))
    # concurrent=True lets the regex module release the GIL, so encode_batch threads overlap.
    return functools.partial(compile_pattern(source).findall, concurrent=True)


def split(text, pattern):
    """Cut `text` into pre-tokens; with pattern None the whole text is one piece.

    >>> split("Hello world's end", "gpt2")
    ['Hello', ' world', "'s", ' end']
    """
    source = pattern_source(pattern)
    if source is None:
        return [text] if text else []
    if source in _SCANNED:
        return _pretok.split(text, pattern_name(source))  # the core scanner: identical pieces, no regex
    return compile_pattern(source).findall(text)


def _safe_cut(data, named):
    r"""The last offset in `data` where a block may end, or -1.

    A lone newline between two printable ASCII characters is safe: no named or whitespace-style
    pattern lets a newline lead into a non-space, and a one-character whitespace run is the same
    piece whether or not text follows it (a longer run is not: `\s+(?!\S)` leaves its last character
    to the next piece only when a non-space follows). For the named patterns, a space between two
    ASCII letters is also safe, which keeps files without newlines in bounded blocks.
    """
    i = len(data) - 1
    while True:
        i = data.rfind(b"\n", 1, i)
        if i < 1:
            break
        if 0x21 <= data[i + 1] <= 0x7E and 0x21 <= data[i - 1] <= 0x7E:
            return i + 1
    last = -1
    if named:
        for m in _LETTER_SPACE_LETTER.finditer(data):
            last = m.start() + 1
    return last


_LETTER_SPACE_LETTER = _re_std.compile(rb"[A-Za-z] (?=[A-Za-z])")


def read_blocks(path, *, cut, block_size=BLOCK_SIZE):
    """Yield the text of a UTF-8 file in blocks of about `block_size` bytes.

    cut(data) gives the last offset where a block may end (see safe_cut), or -1 for none yet; then
    as much again as is pending is read, which keeps the rescans of a long stretch linear in total.
    Invalid UTF-8 raises CorpusError naming the file and the byte offset.
    """
    path = os.fspath(path)
    pending = b""
    offset = 0  # file offset of pending[0]
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path!r}: {e.strerror}") from None
    with f:
        while True:
            chunk = f.read(max(block_size, len(pending)))
            data = pending + chunk
            if not chunk:
                if data:
                    yield _decode(data, path, offset)
                return
            k = cut(data)
            if k <= 0:
                pending = data
                continue
            yield _decode(data[:k], path, offset)
            pending = data[k:]
            offset += k


def safe_cut(source):
    """The block-cut rule for a pattern source: where no pre-token can straddle the cut."""
    return functools.partial(_safe_cut, named=source in PATTERNS.values())


def corpus_items(corpus):
    """The items of a corpus, checked: a str or a path is one item; str items are text, paths files."""
    if isinstance(corpus, (str, os.PathLike)):
        corpus = [corpus]
    elif isinstance(corpus, (bytes, bytearray)):
        raise TypeError("corpus must be str text or file paths, not bytes: decode it first")
    try:
        items = iter(corpus)
    except TypeError:
        raise TypeError(f"corpus must be a str, a path or an iterable of them, not {type(corpus).__name__}") from None
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"corpus items must be str or os.PathLike, not {type(item).__name__}")
        yield item


def _decode(data, path, offset):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: invalid UTF-8 at byte offset {offset + e.start} "
                          f"(byte 0x{data[e.start]:02x})") from None
