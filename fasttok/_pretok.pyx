# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Pre-tokenization in the core: a hand-written scanner for the GPT-2 and GPT-4 (cl100k) split
patterns over UTF-8 bytes, and a word counter keyed by the pieces' bytes.

The scanner gives exactly the pieces of `regex.findall(pattern, text)` for the two published patterns
below (see docs/pretok.md for the one caveat: code points newer than Python's unicodedata). It decodes
code points on the fly, looks their class up in a table built from `unicodedata`, and evaluates the
pattern's alternatives in order at each position, as the regex engine would, without backtracking.

    >>> split("Hello world's  123", "gpt2")
    ['Hello', ' world', "'s", ' ', ' 123']
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.string cimport string
from libcpp.vector cimport vector

from fasttok._hash cimport (WordSlot, bytes_grow, bytes_probe, hash_bytes_head, home, load_head, n_slots,
                            prefetch, table_shift)
from fasttok._signals cimport CHECK_EVERY, interrupted_after, raise_pending
from fasttok._types cimport COUNT_MAX, add_count, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from fasttok.errors import CountOverflowError

import numpy as np

# The published patterns, verbatim. GPT-2: openai/gpt-2 src/encoder.py (tiktoken's r50k_base pattern
# is a possessive rewrite that splits identically). GPT-4: tiktoken_ext/openai_public.py cl100k_base
# (tiktoken 0.14); older tiktoken releases published a variant without `\s++$` that splits trailing
# white space after a newline differently, so only this exact string is accepted.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}
_PATTERN_IDS = {"gpt2": PATTERN_GPT2, "gpt4": PATTERN_GPT4,
                GPT2_PATTERN: PATTERN_GPT2, GPT4_PATTERN: PATTERN_GPT4}
_PATTERN_NAMES = {PATTERN_GPT2: "gpt2", PATTERN_GPT4: "gpt4"}


def pattern_id(pattern):
    """The scanner's id for "gpt2"/"gpt4" or their exact pattern strings; ValueError for any other."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, not {type(pattern).__name__}")
    try:
        return _PATTERN_IDS[pattern]
    except KeyError:
        shown = pattern if len(pattern) <= 40 else pattern[:40] + "..."
        raise ValueError(
            f"the core scanner knows only the patterns 'gpt2' and 'gpt4' (or their exact published "
            f"strings), not {shown!r}") from None


# ---------------------------------------------------------------------------------------------
# Character classes

cdef CharClasses _classes
cdef uint8_t _byte_class[256]
cdef object _class_arrays = None  # owns the memory _classes points into


cdef const CharClasses* char_classes() except NULL:
    global _class_arrays
    cdef const uint16_t[::1] index
    cdef const uint8_t[::1] blocks
    cdef int k
    if _class_arrays is None:
        from fasttok._unicode import load_class_table
        arrays = load_class_table()
        index = arrays[0]
        blocks = arrays[1]
        # Another thread may have built the table while this one ran Python code. Install only the
        # first, and do it without any Python-level allocation between the check and the final
        # assignment (a garbage collection there could run a finalizer and switch threads), so a
        # pointer that some thread already holds never dangles.
        if _class_arrays is None:
            _classes.block_index = &index[0]
            _classes.blocks = &blocks[0]
            for k in range(256):
                _byte_class[k] = blocks[128 * <Py_ssize_t>index[0] + k] if k < 128 else CLS_INVALID
            _classes.byte_class = _byte_class
            _class_arrays = arrays
    return &_classes


def _class_table():
    """The (block_index, blocks) arrays the scanner uses, built on first call (for tests)."""
    char_classes()
    return _class_arrays


# ---------------------------------------------------------------------------------------------
# UTF-8 decoding

cdef struct Char:
    int32_t cp       # code point, -1 at the end or on invalid bytes
    int32_t cls      # CLS_*
    Py_ssize_t end   # offset just after the character


cdef inline Char _char_at(const unsigned char* s, Py_ssize_t n, Py_ssize_t i,
                          const CharClasses* cc) noexcept nogil:
    """Decodes the code point at s[i] strictly (as Python's UTF-8 codec: no overlongs, surrogates
    or values above U+10FFFF) and classifies it."""
    cdef Char c
    cdef uint32_t b0, b1, b2, b3, cp
    c.cp = -1
    c.end = i
    if i >= n:
        c.cls = CLS_END
        return c
    b0 = s[i]
    if b0 < 0x80:
        c.cp = b0
        c.cls = cc.byte_class[b0]
        c.end = i + 1
        return c
    c.cls = CLS_INVALID  # until proven otherwise
    if b0 < 0xC2:  # a continuation byte, or the lead of an overlong 2-byte form
        return c
    if b0 < 0xE0:
        if i + 1 >= n:
            return c
        b1 = s[i + 1]
        if (b1 & 0xC0) != 0x80:
            return c
        cp = ((b0 & 0x1F) << 6) | (b1 & 0x3F)
        c.end = i + 2
    elif b0 < 0xF0:
        if i + 2 >= n:
            return c
        b1 = s[i + 1]
        b2 = s[i + 2]
        if (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80:
            return c
        cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
        if cp < 0x800 or (cp >= 0xD800 and cp < 0xE000):
            return c
        c.end = i + 3
    elif b0 < 0xF5:
        if i + 3 >= n:
            return c
        b1 = s[i + 1]
        b2 = s[i + 2]
        b3 = s[i + 3]
        if (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80 or (b3 & 0xC0) != 0x80:
            return c
        cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
        if cp < 0x10000 or cp > 0x10FFFF:
            return c
        c.end = i + 4
    else:
        return c
    c.cp = <int32_t>cp
    c.cls = cc.blocks[(<Py_ssize_t>cc.block_index[cp >> 7] << 7) | (cp & 127)]
    return c


cdef inline Py_ssize_t _run(const unsigned char* s, Py_ssize_t n, Py_ssize_t p, int cls,
                            const CharClasses* cc) noexcept nogil:
    """End of the run of class-cls characters starting at p (p itself may end it)."""
    cdef Char c
    cdef const uint8_t* byte_class = cc.byte_class
    cdef unsigned char b
    while True:
        # ASCII fast path: most runs are ASCII letters, digits or punctuation (bytes >= 0x80 are
        # CLS_INVALID in byte_class, so they leave this loop for the decoder).
        while p < n:
            b = s[p]
            if b >= 0x80 or byte_class[b] != cls:
                break
            p += 1
        c = _char_at(s, n, p, cc)
        if c.cls != cls:
            if c.cls == CLS_INVALID:
                return -1 - p
            return p
        p = c.end


cdef inline int32_t _ascii_lower(int32_t cp) noexcept nogil:
    if cp >= 0x41 and cp <= 0x5A:
        return cp | 0x20
    return cp


# ---------------------------------------------------------------------------------------------
# The two patterns. Each function is the pattern's alternation, tried in order at pos; every
# "return -1 - offset" is invalid UTF-8 met while looking, which ends the whole scan anyway.

cdef inline Py_ssize_t _next_gpt2(const unsigned char* s, Py_ssize_t n, Py_ssize_t pos,
                           const CharClasses* cc) noexcept nogil:
    # 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    cdef Char c, c1, c2
    cdef int cls
    cdef Py_ssize_t p, last_start
    cdef unsigned char b = s[pos]
    # ASCII fast path for the usual pieces: a run of letters, digits or punctuation (not starting
    # with an apostrophe), or one space and such a run. Bytes >= 0x80 are CLS_INVALID here.
    cls = cc.byte_class[b]
    if cls == CLS_LETTER or cls == CLS_NUMBER or (cls == CLS_OTHER and b != 0x27):
        return _run(s, n, pos + 1, cls, cc)
    if b == 0x20 and pos + 1 < n:
        cls = cc.byte_class[s[pos + 1]]
        if cls <= CLS_NUMBER:
            return _run(s, n, pos + 2, cls, cc)
    c = _char_at(s, n, pos, cc)
    if c.cls == CLS_INVALID:
        return -1 - pos
    if c.cp == 0x27:  # 's 't 're 've 'm 'll 'd, lowercase only
        c1 = _char_at(s, n, c.end, cc)
        if c1.cls == CLS_INVALID:
            return -1 - c.end
        if c1.cp == 0x73 or c1.cp == 0x74 or c1.cp == 0x6D or c1.cp == 0x64:
            return c1.end
        if c1.cp == 0x72 or c1.cp == 0x76 or c1.cp == 0x6C:
            c2 = _char_at(s, n, c1.end, cc)
            if c2.cls == CLS_INVALID:
                return -1 - c1.end
            if c2.cp == (0x6C if c1.cp == 0x6C else 0x65):
                return c2.end
    # ' ?X+' for X = letter, number, other: an optional leading space joins a run of one class.
    cls = c.cls
    p = c.end
    if c.cp == 0x20:
        c1 = _char_at(s, n, p, cc)
        if c1.cls == CLS_INVALID:
            return -1 - p
        if c1.cls <= CLS_NUMBER:
            cls = c1.cls
            p = c1.end
    if cls <= CLS_NUMBER:
        return _run(s, n, p, cls, cc)
    # White space: the whole run if the text ends with it (or it is one character), else all but
    # its last character, which then starts the next piece (' ?X+' or a lone \s).
    last_start = pos
    while True:
        c1 = _char_at(s, n, p, cc)
        if c1.cls != CLS_SPACE and c1.cls != CLS_NEWLINE:
            break
        last_start = p
        p = c1.end
    if c1.cls == CLS_INVALID:
        return -1 - p
    if c1.cls == CLS_END or last_start == pos:
        return p
    return last_start


cdef inline Py_ssize_t _next_gpt4(const unsigned char* s, Py_ssize_t n, Py_ssize_t pos,
                           const CharClasses* cc) noexcept nogil:
    # '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
    # |\s++$|\s*[\r\n]|\s+(?!\S)|\s
    cdef Char c, c1, c2
    cdef int32_t x, y
    cdef Py_ssize_t p, last_start, newline_end
    cdef unsigned char b = s[pos]
    cdef int cls = cc.byte_class[b], next_cls
    # ASCII fast path for the usual pieces: letters; one space or punctuation mark (not an
    # apostrophe) then letters; a punctuation run (then CR/LF); a space then a punctuation run.
    if cls == CLS_LETTER:
        return _run(s, n, pos + 1, CLS_LETTER, cc)
    if ((cls == CLS_OTHER and b != 0x27) or b == 0x20) and pos + 1 < n:
        next_cls = cc.byte_class[s[pos + 1]]
        if next_cls == CLS_LETTER:
            return _run(s, n, pos + 2, CLS_LETTER, cc)
        if (cls == CLS_OTHER and next_cls != CLS_INVALID) or (b == 0x20 and next_cls == CLS_OTHER):
            p = _run(s, n, pos + 1 if cls == CLS_OTHER else pos + 2, CLS_OTHER, cc)
            return p if p < 0 else _run(s, n, p, CLS_NEWLINE, cc)
    c = _char_at(s, n, pos, cc)
    c1 = c
    if c.cls == CLS_INVALID:
        return -1 - pos
    if c.cp == 0x27:
        c1 = _char_at(s, n, c.end, cc)
        if c1.cls == CLS_INVALID:
            return -1 - c.end
        x = _ascii_lower(c1.cp)
        # (?i:s) also matches U+017F LATIN SMALL LETTER LONG S (simple case folding); no other
        # non-ASCII code point folds to any of s d m t l v e r (checked against regex in the tests).
        if x == 0x73 or x == 0x64 or x == 0x6D or x == 0x74 or x == 0x17F:
            return c1.end
        if x == 0x6C or x == 0x76 or x == 0x72:
            c2 = _char_at(s, n, c1.end, cc)
            if c2.cls == CLS_INVALID:
                return -1 - c1.end
            y = _ascii_lower(c2.cp)
            if y == (0x6C if x == 0x6C else 0x65):
                return c2.end
    # [^\r\n\p{L}\p{N}]?+\p{L}++ : letters, optionally led by one other or non-newline space char.
    # The ?+ is possessive: when the lead char is taken and no letter follows, the alternative fails.
    if c.cls == CLS_LETTER:
        return _run(s, n, c.end, CLS_LETTER, cc)
    if c.cls == CLS_OTHER or c.cls == CLS_SPACE:
        c1 = _char_at(s, n, c.end, cc)
        if c1.cls == CLS_INVALID:
            return -1 - c.end
        if c1.cls == CLS_LETTER:
            return _run(s, n, c1.end, CLS_LETTER, cc)
    # \p{N}{1,3}+
    if c.cls == CLS_NUMBER:
        p = c.end
        c1 = _char_at(s, n, p, cc)
        if c1.cls == CLS_NUMBER:
            p = c1.end
            c1 = _char_at(s, n, p, cc)
            if c1.cls == CLS_NUMBER:
                return c1.end
        if c1.cls == CLS_INVALID:
            return -1 - p
        return p
    # ' ?[^\s\p{L}\p{N}]++[\r\n]*+' : an other-run, optionally led by a space, then any CR/LF run.
    # (c1 was set above when c is a space.)
    p = -1
    if c.cls == CLS_OTHER:
        p = c.end
    elif c.cp == 0x20 and c1.cls == CLS_OTHER:
        p = c1.end
    if p >= 0:
        p = _run(s, n, p, CLS_OTHER, cc)
        if p < 0:
            return p
        return _run(s, n, p, CLS_NEWLINE, cc)
    # White space (c is CLS_SPACE or CLS_NEWLINE). \s++$ : the whole run if the text ends with it;
    # \s*[\r\n] : up to the run's last CR/LF; \s+(?!\S) : all but the run's last character; \s : one.
    last_start = pos
    newline_end = c.end if c.cls == CLS_NEWLINE else -1
    p = c.end
    while True:
        c1 = _char_at(s, n, p, cc)
        if c1.cls != CLS_SPACE and c1.cls != CLS_NEWLINE:
            break
        if c1.cls == CLS_NEWLINE:
            newline_end = c1.end
        last_start = p
        p = c1.end
    if c1.cls == CLS_INVALID:
        return -1 - p
    if c1.cls == CLS_END:
        return p
    if newline_end >= 0:
        return newline_end
    if last_start > pos:
        return last_start
    return p


cdef Py_ssize_t next_piece(const unsigned char* data, Py_ssize_t n, Py_ssize_t pos, int pattern,
                           const CharClasses* classes) noexcept nogil:
    if pattern == PATTERN_GPT2:
        return _next_gpt2(data, n, pos, classes)
    return _next_gpt4(data, n, pos, classes)


cdef Py_ssize_t scan_utf8(const unsigned char* data, Py_ssize_t n, int pattern,
                          const CharClasses* classes, vector[int64_t]& ends) noexcept nogil:
    cdef Py_ssize_t pos = 0, end
    if pattern == PATTERN_GPT2:
        while pos < n:
            end = _next_gpt2(data, n, pos, classes)
            if end < 0:
                return end
            ends.push_back(end)
            pos = end
    else:
        while pos < n:
            end = _next_gpt4(data, n, pos, classes)
            if end < 0:
                return end
            ends.push_back(end)
            pos = end
    return n


# ---------------------------------------------------------------------------------------------
# Streaming. A piece depends on at most the two code points after it (the contractions look two
# ahead: "'l" + "l"), and on whether the white-space run it belongs to reaches the end of the text;
# when that run does, the piece is the whole rest of the text, i.e. the last piece. So, in a prefix
# of a longer text, a piece followed by at least two complete code points is final.

cdef inline Py_ssize_t _complete_prefix(const unsigned char* s, Py_ssize_t n) noexcept nogil:
    """n minus a trailing UTF-8 sequence that the chunk boundary cut short."""
    cdef Py_ssize_t i = n
    cdef Py_ssize_t need
    cdef unsigned char b
    while i > 0 and n - i < 4:
        i -= 1
        b = s[i]
        if (b & 0xC0) != 0x80:
            if b < 0x80:
                return n
            need = 2 if b < 0xE0 else (3 if b < 0xF0 else 4)
            return i if n - i < need else n
    return n


cdef inline Py_ssize_t _stable_limit(const unsigned char* s, Py_ssize_t n) noexcept nogil:
    """Start of the second-to-last code point of s[0:n] (0 if there are fewer than two)."""
    cdef Py_ssize_t i = n
    cdef int k
    for k in range(2):
        if i == 0:
            return 0
        i -= 1
        while i > 0 and n - i < 4 * (k + 1) and (s[i] & 0xC0) == 0x80:
            i -= 1
    return i


cdef Py_ssize_t scan_utf8_partial(const unsigned char* data, Py_ssize_t n, int pattern,
                                  const CharClasses* classes, vector[int64_t]& ends) noexcept nogil:
    cdef Py_ssize_t n_complete = _complete_prefix(data, n)
    cdef Py_ssize_t limit = _stable_limit(data, n_complete)
    cdef Py_ssize_t pos = 0, end
    while pos < limit:
        end = next_piece(data, n_complete, pos, pattern, classes)
        if end < 0:
            return end
        if end > limit:
            break
        ends.push_back(end)
        pos = end
    return pos


# ---------------------------------------------------------------------------------------------
# Python-facing wrappers

def _invalid_utf8(data, Py_ssize_t offset):
    """The UnicodeDecodeError (a ValueError) for invalid UTF-8 starting at offset."""
    raw = bytes(data)
    reason = "invalid UTF-8"
    try:
        raw[offset:offset + 4].decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start == 0:
            reason = f"{err.reason} (invalid UTF-8 at byte offset {offset})"
    return UnicodeDecodeError("utf-8", raw, offset, offset + 1, reason)


cdef vector[int64_t] _scan_or_raise(data, const unsigned char[::1] view, int pattern, bint final,
                                    Py_ssize_t* consumed) except *:
    cdef const CharClasses* cc = char_classes()
    cdef vector[int64_t] ends
    cdef Py_ssize_t n = view.shape[0], r = 0
    if n > 0:
        with nogil:
            if final:
                r = scan_utf8(&view[0], n, pattern, cc, ends)
            else:
                r = scan_utf8_partial(&view[0], n, pattern, cc, ends)
    if r < 0:
        raise _invalid_utf8(data, -1 - r)
    consumed[0] = r
    return ends


def split_bytes(data, pattern):
    """Split UTF-8 bytes into the pieces of `regex.findall(pattern, data.decode())`, as bytes.

    pattern is "gpt2" or "gpt4". Invalid UTF-8 raises UnicodeDecodeError (a ValueError) whose
    .start is the byte offset of the first invalid sequence.

    >>> split_bytes(b"I'LL go", "gpt4")
    [b'I', b"'LL", b' go']
    """
    cdef int pid = pattern_id(pattern)
    cdef const unsigned char[::1] view = data
    cdef Py_ssize_t consumed = 0, start = 0, k
    cdef vector[int64_t] ends = _scan_or_raise(data, view, pid, True, &consumed)
    cdef list pieces = []
    for k in range(<Py_ssize_t>ends.size()):
        pieces.append(PyBytes_FromStringAndSize(<const char*>&view[start], ends[k] - start))
        start = ends[k]
    return pieces


def split(str text, pattern):
    """Split text into the pieces of `regex.findall(pattern, text)`; pattern is "gpt2" or "gpt4".

    >>> split("Hello world's  123", "gpt2")
    ['Hello', ' world', "'s", ' ', ' 123']
    """
    cdef int pid = pattern_id(pattern)
    data = text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    cdef const unsigned char[::1] view = data
    cdef Py_ssize_t consumed = 0, start = 0, k
    cdef vector[int64_t] ends = _scan_or_raise(data, view, pid, True, &consumed)
    cdef list pieces = []
    for k in range(<Py_ssize_t>ends.size()):
        pieces.append(PyUnicode_DecodeUTF8(<const char*>&view[start], ends[k] - start, NULL))
        start = ends[k]
    return pieces


def _py_scan_utf8(data, pattern, *, final=True):
    """Drive scan_utf8 (final) or scan_utf8_partial from Python: returns (ends, consumed)."""
    cdef const unsigned char[::1] view = data
    cdef Py_ssize_t consumed = 0
    cdef vector[int64_t] ends = _scan_or_raise(data, view, pattern_id(pattern), final, &consumed)
    return [e for e in ends], consumed


def _py_n_pieces(data, pattern):
    """Number of pieces in UTF-8 data: the scanner alone, for benchmarks."""
    cdef const unsigned char[::1] view = data
    cdef const CharClasses* cc = char_classes()
    cdef int pid = pattern_id(pattern)
    cdef Py_ssize_t n = view.shape[0], pos = 0, n_pieces = 0
    with nogil:
        while pos < n:
            pos = next_piece(&view[0], n, pos, pid, cc)
            if pos < 0:
                break
            n_pieces += 1
    if pos < 0:
        raise _invalid_utf8(data, -1 - pos)
    return n_pieces


# ---------------------------------------------------------------------------------------------
# Word counting

def _word_counter_from_items(pattern, words, counts):
    """Unpickle a WordCounter."""
    counter = WordCounter(pattern)
    counter.add_counts(words, counts)
    return counter


cdef class WordCounter:
    """Counts the pre-tokens (pieces) of text under "gpt2" or "gpt4", keyed by their UTF-8 bytes.

    Counts are 64-bit; the table is an open-addressing hash table in C++ memory, and add_text /
    add_bytes scan and count with the GIL released. One counter must not be fed from two threads at
    once (that raises RuntimeError); give each thread its own and merge() them.

    >>> counter = WordCounter("gpt2")
    >>> counter.add_text("the cat the hat")
    >>> counter.items()
    ([b' cat', b' hat', b' the', b'the'], array([1, 1, 1, 1]))
    """

    def __cinit__(self, pattern):
        self.pattern_id = pattern_id(pattern)
        char_classes()  # count_utf8 reads the table without the GIL
        self.slot_shift = table_shift(0, 64)
        self.slots.resize(n_slots(self.slot_shift))  # value-initialised: every count is 0, i.e. free
        self.n_words = 0
        self.busy = False
        self.too_long = False
        self.overflow = False
        self.stopped = False

    @property
    def pattern(self):
        """The pattern name, "gpt2" or "gpt4"."""
        return _PATTERN_NAMES[self.pattern_id]

    cdef void count_piece(self, const unsigned char* piece, Py_ssize_t length, int64_t count,
                          Py_ssize_t readable) noexcept nogil:
        cdef uint64_t head = load_head(piece, length, readable)
        self._insert(piece, length, count, head, hash_bytes_head(head, piece, length))

    cdef void _insert(self, const unsigned char* piece, Py_ssize_t length, int64_t count,
                      uint64_t head, uint64_t hash) noexcept nogil:
        # The hit path is small so the compiler can inline it; a new word goes to _add_new.
        cdef size_t i = bytes_probe(self.slots, self.slot_shift, self.arena.data(), piece, length, head, hash)
        cdef WordSlot* slot = &self.slots[i]
        if slot.count != 0:
            if not add_count(&slot.count, count):
                self.overflow = True
            return
        self._add_new(slot, piece, length, count, head, hash)

    cdef void _add_new(self, WordSlot* slot, const unsigned char* piece, Py_ssize_t length, int64_t count,
                       uint64_t head, uint64_t hash) noexcept nogil:
        cdef size_t offset = self.arena.size()
        if (length >> 32) != 0:
            self.too_long = True
            return
        self.arena.insert(self.arena.end(), piece, piece + length)  # no zero-fill, unlike resize
        slot.head = head
        slot.count = count
        slot.offset = offset
        slot.hash_high = <uint32_t>(hash >> 32)
        slot.length = <uint32_t>length
        self.n_words += 1
        if 2 * <size_t>self.n_words > self.slots.size():
            self._grow()

    cdef void _grow(self) noexcept nogil:
        bytes_grow(self.slots, &self.slot_shift)

    cdef Py_ssize_t count_utf8(self, const unsigned char* data, Py_ssize_t n, bint final) noexcept nogil:
        # On a signal (see fasttok/_signals.pxd) stops early with self.stopped set.
        cdef Py_ssize_t stop = n, pos = 0, end, readable = n, budget = CHECK_EVERY
        cdef const CharClasses* cc = &_classes
        cdef const unsigned char* previous = NULL
        cdef Py_ssize_t previous_length = 0
        cdef uint64_t head, hash, previous_head = 0, previous_hash = 0
        if not final:
            n = _complete_prefix(data, n)
            stop = _stable_limit(data, n)
        # Software pipelining: hash a piece and prefetch its slot, scan the next piece while the
        # slot's cache line arrives, and only then look the first one up. Table lookups were half
        # of the counting time, mostly waiting on memory; the shared probe (bytes_probe) takes the hash
        # from its caller for exactly this reason. Two copies of the loop so each inlines
        # its pattern's scanner.
        if self.pattern_id == PATTERN_GPT2:
            while pos < stop:
                end = _next_gpt2(data, n, pos, cc)
                if end < 0 or end > stop:
                    break
                head = load_head(data + pos, end - pos, readable - pos)
                hash = hash_bytes_head(head, data + pos, end - pos)
                prefetch(self.slots.data() + home(hash, self.slot_shift))
                if previous != NULL:
                    self._insert(previous, previous_length, 1, previous_head, previous_hash)
                previous = data + pos
                previous_length = end - pos
                previous_head = head
                previous_hash = hash
                pos = end
                if interrupted_after(&budget, previous_length):
                    self.stopped = True
                    break
        else:
            while pos < stop:
                end = _next_gpt4(data, n, pos, cc)
                if end < 0 or end > stop:
                    break
                head = load_head(data + pos, end - pos, readable - pos)
                hash = hash_bytes_head(head, data + pos, end - pos)
                prefetch(self.slots.data() + home(hash, self.slot_shift))
                if previous != NULL:
                    self._insert(previous, previous_length, 1, previous_head, previous_hash)
                previous = data + pos
                previous_length = end - pos
                previous_head = head
                previous_hash = hash
                pos = end
                if interrupted_after(&budget, previous_length):
                    self.stopped = True
                    break
        if previous != NULL:
            self._insert(previous, previous_length, 1, previous_head, previous_hash)
        if pos < stop and end < 0:
            return end
        return pos

    cdef int _check_idle(self) except -1:
        if self.busy:
            raise RuntimeError("this WordCounter is being updated by another thread")
        return 0

    def add_bytes(self, data, *, final=True):
        """Count the pieces of UTF-8 bytes (bytes, bytearray, memoryview, uint8 array).

        With final=False, data is a prefix of a longer text: only the pieces that cannot change
        whatever follows are counted, and the return value is where the rest starts (prepend
        data[returned:] to the next chunk; end with final=True). With final=True returns len(data).
        Invalid UTF-8 raises UnicodeDecodeError (a ValueError) whose .start is the byte offset.
        """
        cdef const unsigned char[::1] view = data
        if view.shape[0] == 0:
            self._check_idle()
            return 0
        return self._count_buffer(&view[0], view.shape[0], final, data)

    def add_text(self, str text):
        """Count the pieces of text (encoded once to UTF-8; an ASCII str is scanned in place)."""
        cdef const char* utf8
        cdef Py_ssize_t n
        if text.isascii():  # O(1): CPython keeps ASCII text as its own UTF-8, no copy needed
            utf8 = PyUnicode_AsUTF8AndSize(text, &n)
            if n > 0:
                self._count_buffer(<const unsigned char*>utf8, n, True, text)
        else:
            self.add_bytes(text.encode("utf-8"))

    cdef Py_ssize_t _count_buffer(self, const unsigned char* data, Py_ssize_t n, bint final,
                                  owner) except? -1:
        # owner keeps data alive and names it in the error.
        cdef Py_ssize_t r
        self._check_idle()
        self.busy = True
        try:
            with nogil:
                r = self.count_utf8(data, n, final)
        finally:
            self.busy = False
        if self.stopped:
            self.stopped = False
            raise_pending()
        self._raise_flagged()
        if r < 0:
            raise _invalid_utf8(owner, -1 - r)
        return r

    cdef int _raise_flagged(self) except -1:
        if self.too_long:
            self.too_long = False
            raise ValueError("a pre-token of 4 GiB or more cannot be counted (it was skipped)")
        if self.overflow:
            self.overflow = False
            raise CountOverflowError("a word count would exceed 2**63 - 1 (counts are 64-bit); it was left "
                                     "at its last value")
        return 0

    def add_counts(self, words, counts):
        """Add count[i] (> 0) to words[i] (bytes) for every i, e.g. to rebuild a saved table."""
        cdef const int64_t[::1] values = np.ascontiguousarray(counts, dtype=np.int64)
        cdef const unsigned char[::1] word
        cdef Py_ssize_t i
        self._check_idle()
        if len(words) != values.shape[0]:
            raise ValueError(f"{len(words)} words but {values.shape[0]} counts")
        for i in range(values.shape[0]):
            if values[i] <= 0:
                raise ValueError(f"count {values[i]} of word {words[i]!r} is not positive")
            if not isinstance(words[i], bytes) or len(words[i]) == 0:
                raise TypeError(f"words must be non-empty bytes, got {words[i]!r}")
            word = words[i]
            self.count_piece(&word[0], word.shape[0], values[i], word.shape[0])
        self._raise_flagged()

    def merge(self, WordCounter other not None):
        """Add every count of other (made with the same pattern) to this counter."""
        cdef size_t k
        cdef vector[WordSlot] other_slots
        self._check_idle()
        other._check_idle()
        if other.pattern_id != self.pattern_id:
            raise ValueError(
                f"cannot merge word counts made with pattern {other.pattern!r} into counts made "
                f"with {self.pattern!r}")
        if other is self:
            for k in range(self.slots.size()):
                if self.slots[k].count > COUNT_MAX // 2:
                    raise CountOverflowError("a word count would exceed 2**63 - 1 when doubled (counts are 64-bit)")
            for k in range(self.slots.size()):
                self.slots[k].count *= 2
            return
        # Size the table for the union first. Inserting another table's slots in its (hash) order
        # into a smaller table piles them into clusters and makes linear probing quadratic.
        while 2 * <size_t>(self.n_words + other.n_words) > self.slots.size():
            self._grow()
        for k in range(other.slots.size()):
            if other.slots[k].count != 0:
                self.count_piece(other.arena.data() + other.slots[k].offset,
                                 other.slots[k].length, other.slots[k].count, other.slots[k].length)
        self._raise_flagged()

    def __len__(self):
        """Number of distinct pieces."""
        return self.n_words

    def total(self):
        """Sum of all counts (the number of pieces seen)."""
        cdef int64_t total = 0
        cdef size_t k
        for k in range(self.slots.size()):
            if not add_count(&total, self.slots[k].count):  # above 2**63 - 1: exact as a Python int
                return sum(self.slots[k].count for k in range(self.slots.size()))
        return total

    def items(self):
        """(words, counts): distinct pieces as bytes sorted bytewise, and their int64 counts."""
        cdef vector[pair[string, int64_t]] entries
        cdef size_t k
        cdef Py_ssize_t i
        self._check_idle()
        entries.reserve(self.n_words)
        for k in range(self.slots.size()):
            if self.slots[k].count != 0:
                entries.push_back(pair[string, int64_t](
                    string(<const char*>self.arena.data() + self.slots[k].offset,
                           <size_t>self.slots[k].length),
                    self.slots[k].count))
        # std::string compares like memcmp, i.e. like Python bytes.
        sort(entries.begin(), entries.end())
        counts = np.empty(entries.size(), dtype=np.int64)  # (n_words,)
        cdef int64_t[::1] out = counts
        words = []
        for i in range(<Py_ssize_t>entries.size()):
            words.append(PyBytes_FromStringAndSize(entries[i].first.data(), entries[i].first.size()))
            out[i] = entries[i].second
        return words, counts

    def __reduce__(self):
        words, counts = self.items()
        return (_word_counter_from_items, (self.pattern, words, counts))

    def __repr__(self):
        return f"WordCounter({self.pattern!r}, n_words={self.n_words})"
