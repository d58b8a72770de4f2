# The C-level API of the pre-tokenizer: a scanner for the GPT-2 and GPT-4 (cl100k) split patterns
# over UTF-8 bytes, and a word counter keyed by piece bytes. Other core modules cimport this file:
#
#     from fasttok._pretok cimport char_classes, scan_utf8, PATTERN_GPT2
#     cdef const CharClasses* cc = char_classes()      # with the GIL, once: builds the table lazily
#     cdef vector[int64_t] ends
#     with nogil:
#         r = scan_utf8(data, n, PATTERN_GPT2, cc, ends)
#     if r < 0: raise ValueError(f"invalid UTF-8 at byte offset {-1 - r}")
#
# Piece k is data[ends[k-1]:ends[k]] (with ends[-1] taken as 0 for the first piece appended).
# Every function that can meet invalid UTF-8 returns a negative value r for it: the first invalid
# sequence starts at byte offset -1 - r (the same offset as UnicodeDecodeError.start).
cimport cython
from libcpp.vector cimport vector

from fasttok._hash cimport WordSlot
from fasttok._types cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# Character classes (the same numbers as fasttok/_unicode.py).
cdef enum:
    CLS_OTHER = 0
    CLS_LETTER = 1     # \p{L}
    CLS_NUMBER = 2     # \p{N}
    CLS_SPACE = 3      # \s (Unicode White_Space) except CR and LF
    CLS_NEWLINE = 4    # CR or LF
    CLS_END = 5        # past the end of the input
    CLS_INVALID = 6    # not valid UTF-8 here

# Pattern ids.
cdef enum:
    PATTERN_GPT2 = 0
    PATTERN_GPT4 = 1

cdef struct CharClasses:
    const uint16_t* block_index   # code point >> 7 -> block number
    const uint8_t* blocks         # block number * 128 + (code point & 127) -> CLS_*
    const uint8_t* byte_class     # 256 entries: the class of an ASCII byte, CLS_INVALID for >= 0x80

# The class table, built from unicodedata on the first call (needs the GIL); the pointer stays valid
# for the life of the process.
cdef const CharClasses* char_classes() except NULL

# The end of the piece that starts at byte offset pos (0 <= pos < n), treating data[n] as the end of
# the text. Returns end > pos, or -1 - offset when the bytes at offset are not valid UTF-8.
cdef Py_ssize_t next_piece(const unsigned char* data, Py_ssize_t n, Py_ssize_t pos, int pattern,
                           const CharClasses* classes) noexcept nogil

# Splits all of data[0:n] and appends the end offset of every piece to ends (ends is not cleared).
# Returns n, or -1 - offset of the first invalid UTF-8 sequence (some pieces before it may have been
# appended). A std::bad_alloc from the vector terminates the process (noexcept).
cdef Py_ssize_t scan_utf8(const unsigned char* data, Py_ssize_t n, int pattern,
                          const CharClasses* classes, vector[int64_t]& ends) noexcept nogil

# For streaming: data[0:n] is a prefix of a longer text. Appends the ends of the pieces that are the
# same whatever text follows, and returns the offset where the rest starts (prepend data[offset:n]
# to the next chunk), or -1 - offset on invalid UTF-8. A code point cut by the chunk end is not an
# error here. May return 0 (one piece longer than the chunk): read more and call again.
cdef Py_ssize_t scan_utf8_partial(const unsigned char* data, Py_ssize_t n, int pattern,
                                  const CharClasses* classes, vector[int64_t]& ends) noexcept nogil

@cython.final
cdef class WordCounter:
    cdef readonly int pattern_id
    # The shared byte-string table of fasttok/_hash.pxd (word bytes in arena, head in the slot).
    cdef vector[WordSlot] slots      # 2 ** (64 - slot_shift) slots, at most half full
    cdef int slot_shift              # home slot = hash >> slot_shift (the hash's best bits)
    cdef vector[unsigned char] arena # every distinct word's bytes, back to back
    cdef Py_ssize_t n_words
    cdef bint busy                   # a scan is running without the GIL: refuse concurrent use
    cdef bint too_long               # a word of 4 GiB or more was skipped: the caller must raise
    cdef bint overflow               # a count would have exceeded 2**63 - 1 (left unchanged): the caller must raise
    cdef bint stopped                # a signal handler raised during a scan: the caller must raise

    # Adds count (> 0) to the word piece[0:length]. readable: bytes readable from piece (>= length);
    # 8 or more allows one 8-byte load for a short word. A word of 4 GiB or more sets too_long.
    cdef void count_piece(self, const unsigned char* piece, Py_ssize_t length, int64_t count,
                          Py_ssize_t readable) noexcept nogil
    cdef void _insert(self, const unsigned char* piece, Py_ssize_t length, int64_t count,
                      uint64_t head, uint64_t hash) noexcept nogil
    cdef void _add_new(self, WordSlot* slot, const unsigned char* piece, Py_ssize_t length, int64_t count,
                       uint64_t head, uint64_t hash) noexcept nogil
    cdef void _grow(self) noexcept nogil
    cdef int _check_idle(self) except -1
    cdef int _raise_flagged(self) except -1
    cdef Py_ssize_t _count_buffer(self, const unsigned char* data, Py_ssize_t n, bint final,
                                  owner) except? -1
    # Scans and counts data[0:n]. final: returns n, like scan_utf8. Not final: counts only the pieces
    # scan_utf8_partial would append and returns where the rest starts. Either: -1 - offset on
    # invalid UTF-8 (the pieces before it may have been counted).
    cdef Py_ssize_t count_utf8(self, const unsigned char* data, Py_ssize_t n, bint final) noexcept nogil
