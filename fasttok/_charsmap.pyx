# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""sentencepiece's normalizer in the core: the precompiled character map, whitespace rules, `▁`.

Mechanism only: fasttok/sentencepiece.py reads the NormalizerSpec and hands over the double-array
units, the replacement strings, the user-defined symbols and four flags. The rules, step by step, are
stated in the pure-Python twin `fasttok/_reference/sentencepiece.py` (`normalize`), which the tests
compare with this module under hypothesis. Texts are UTF-8 bytes in and out; the loop runs without
the GIL.

The character map is a Darts-clone double array of uint32 units. For unit u: has_leaf = bit 8,
value = the low 31 bits, label = the low 8 bits plus bit 31 (a leaf's bit 31 is set, so a leaf never
matches a byte), offset = (u >> 10) << ((u & 0x200) >> 6). Every index is checked against the array
and every replacement offset against the blob, so a hostile map cannot read out of bounds.
"""
from libc.string cimport memchr, memcmp
from libcpp.string cimport string
from libcpp.unordered_set cimport unordered_set

from fasttok._types cimport int64_t, uint8_t, uint32_t
from fasttok._utf8 cimport check_offsets

import numpy as np

cdef const char* SPACE_SYMBOL = b"\xe2\x96\x81"   # ▁
cdef const char* REPLACEMENT = b"\xef\xbf\xbd"    # U+FFFD
cdef const char* ASCII_SPACE = b" "
cdef uint32_t LABEL_MASK = 0x800000FFu          # a unit's label: its low byte and the is-leaf bit 31


cdef inline uint32_t unit_offset(uint32_t u) noexcept nogil:
    return (u >> 10) << ((u & 0x200) >> 6)


cdef inline Py_ssize_t utf8_char(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    # The length of the valid UTF-8 character at p (n bytes remain), or 0 when it is not one
    # (sentencepiece's DecodeUTF8: overlong forms, surrogates and code points past U+10FFFF are invalid).
    cdef uint32_t cp
    cdef uint8_t b0 = p[0]
    if b0 < 0x80:
        return 1
    if n >= 2 and (b0 & 0xE0) == 0xC0:
        cp = ((b0 & 0x1F) << 6) | (p[1] & 0x3F)
        if (p[1] & 0xC0) == 0x80 and cp >= 0x80:
            return 2
    elif n >= 3 and (b0 & 0xF0) == 0xE0:
        cp = ((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F)
        if (p[1] & 0xC0) == 0x80 and (p[2] & 0xC0) == 0x80 and cp >= 0x800 and not (0xD800 <= cp < 0xE000):
            return 3
    elif n >= 4 and (b0 & 0xF8) == 0xF0:
        cp = ((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F)
        if ((p[1] & 0xC0) == 0x80 and (p[2] & 0xC0) == 0x80 and (p[3] & 0xC0) == 0x80
                and 0x10000 <= cp <= 0x10FFFF):
            return 4
    return 0


cdef class CharsMapNormalizer:
    """One NormalizerSpec, ready to normalize UTF-8 texts exactly as sentencepiece does."""
    cdef object _units_owner, _blob_owner
    cdef const uint32_t* units
    cdef Py_ssize_t n_units
    cdef const uint8_t* blob
    cdef Py_ssize_t blob_size
    cdef unordered_set[string] symbols
    cdef bint first_byte[256]       # whether some user-defined symbol starts with this byte
    cdef Py_ssize_t max_symbol
    cdef bint add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces, suffix

    def __init__(self, const uint32_t[::1] units, bytes replacements, symbols, *, bint add_dummy_prefix,
                 bint remove_extra_whitespaces, bint escape_whitespaces, bint treat_whitespace_as_suffix):
        """units: the double array (empty: no character map); replacements: the NUL-terminated
        strings the units' values point into; symbols: user-defined symbols (bytes), kept as they are."""
        cdef bytes s
        cdef int k
        self._units_owner = units
        self.units = &units[0] if units.shape[0] else NULL
        self.n_units = units.shape[0]
        self._blob_owner = replacements
        self.blob = <const uint8_t*><const char*>replacements
        self.blob_size = len(replacements)
        for k in range(256):
            self.first_byte[k] = False
        self.max_symbol = 0
        for s in symbols:
            if s:
                self.symbols.insert(s)
                self.first_byte[<uint8_t>s[0]] = True
                self.max_symbol = max(self.max_symbol, len(s))
        self.add_dummy_prefix = add_dummy_prefix
        self.remove_extra_whitespaces = remove_extra_whitespaces
        self.escape_whitespaces = escape_whitespaces
        self.suffix = treat_whitespace_as_suffix

    cdef Py_ssize_t match_symbol(self, const uint8_t* p, Py_ssize_t n) noexcept nogil:
        # The length of the longest user-defined symbol at p, or 0.
        cdef Py_ssize_t k
        if not self.first_byte[p[0]]:
            return 0
        k = self.max_symbol if self.max_symbol < n else n
        while k > 0:
            if self.symbols.count(string(<const char*>p, k)):
                return k
            k -= 1
        return 0

    cdef Py_ssize_t longest_rule(self, const uint8_t* p, Py_ssize_t n, Py_ssize_t* value) noexcept nogil:
        # Darts' commonPrefixSearch, keeping the longest key: its length (0: none) and value.
        cdef size_t node
        cdef uint32_t u
        cdef Py_ssize_t k, best = 0
        if self.n_units == 0:
            return 0
        node = unit_offset(self.units[0])
        for k in range(n):
            node ^= p[k]
            if node >= <size_t>self.n_units:
                break
            u = self.units[node]
            if (u & LABEL_MASK) != p[k]:
                break
            node ^= unit_offset(u)
            if (u >> 8) & 1:
                if node >= <size_t>self.n_units:
                    break
                best = k + 1
                value[0] = self.units[node] & 0x7FFFFFFF
        return best

    cdef Py_ssize_t prefix(self, const uint8_t* p, Py_ssize_t n, const char** out,
                           Py_ssize_t* out_size) noexcept nogil:
        # sentencepiece's NormalizePrefix: what the text at p becomes (out, out_size) and how many
        # bytes that consumes.
        cdef Py_ssize_t length, value = 0
        cdef const void* end
        length = self.match_symbol(p, n) if self.max_symbol else 0
        if length:
            out[0] = <const char*>p
            out_size[0] = length
            return length
        length = self.longest_rule(p, n, &value)
        if length:
            if value >= self.blob_size:
                out_size[0] = 0
            else:
                out[0] = <const char*>self.blob + value
                end = memchr(self.blob + value, 0, self.blob_size - value)
                out_size[0] = (<const uint8_t*>end - self.blob - value) if end != NULL else self.blob_size - value
            return length
        length = utf8_char(p, n)
        if length:
            out[0] = <const char*>p
            out_size[0] = length
            return length
        out[0] = REPLACEMENT
        out_size[0] = 3
        return 1

    cdef void normalize_into(self, const uint8_t* p, Py_ssize_t n, string& out) noexcept nogil:
        cdef Py_ssize_t pos = 0, consumed, size, k
        cdef const char* piece
        cdef bint prev_space
        cdef const char* space = SPACE_SYMBOL if self.escape_whitespaces else ASCII_SPACE
        cdef Py_ssize_t space_size = 3 if self.escape_whitespaces else 1
        out.clear()
        if self.remove_extra_whitespaces:       # 1. leading whitespace
            while pos < n:
                consumed = self.prefix(p + pos, n - pos, &piece, &size)
                if not (size == 1 and piece[0] == b' '):
                    break
                pos += consumed
        if pos == n:
            return
        if not self.suffix and self.add_dummy_prefix:   # 2. the dummy prefix
            out.append(space, space_size)
        prev_space = self.remove_extra_whitespaces
        while pos < n:                          # 3. rule by rule
            consumed = self.prefix(p + pos, n - pos, &piece, &size)
            if prev_space:
                while size > 0 and piece[0] == b' ':
                    piece += 1
                    size -= 1
            if size > 0:
                for k in range(size):
                    if self.escape_whitespaces and piece[k] == b' ':
                        out.append(SPACE_SYMBOL, 3)
                    else:
                        out.push_back(piece[k])
                prev_space = piece[size - 1] == b' '
            pos += consumed
            if not self.remove_extra_whitespaces:
                prev_space = False
        if self.remove_extra_whitespaces:       # 4. trailing whitespace
            while <Py_ssize_t>out.size() >= space_size and \
                    memcmp(out.data() + out.size() - space_size, space, space_size) == 0:
                out.resize(out.size() - space_size)
        if self.suffix and self.add_dummy_prefix:
            out.append(space, space_size)

    def normalize(self, const uint8_t[::1] text):
        """The normalized bytes of one UTF-8 text."""
        cdef string out
        with nogil:
            self.normalize_into(&text[0] if text.shape[0] else NULL, text.shape[0], out)
        return <bytes>out

    def normalize_many(self, const uint8_t[::1] text, const int64_t[::1] offsets):
        """Normalize texts text[offsets[i]:offsets[i+1]]; returns (joined bytes, offsets)."""
        cdef Py_ssize_t n_texts = offsets.shape[0] - 1, i
        cdef string one, out
        check_offsets(offsets, text.shape[0])
        out_offsets = np.zeros(n_texts + 1, dtype=np.int64)
        cdef int64_t[::1] ends = out_offsets
        with nogil:
            for i in range(n_texts):
                self.normalize_into(&text[0] + offsets[i] if text.shape[0] else NULL,
                                    offsets[i + 1] - offsets[i], one)
                out.append(one)
                ends[i + 1] = out.size()
        return <bytes>out, out_offsets
