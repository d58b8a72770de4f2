# The integer and float types the whole core uses: one place, one spelling. The fixed-width names are
# re-exported so a module cimports its types from here alone.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

ctypedef int32_t token_t   # a token id (BPE) or a vocabulary/unit id (WordPiece)
ctypedef int64_t count_t   # an occurrence count: always 64-bit
ctypedef int64_t pos_t     # an index into a flat symbol array
ctypedef uint64_t pair_t   # (left << 32) | right: ordering pair_t values orders (left, right) pairs


cdef inline pair_t make_pair(token_t left, token_t right) noexcept nogil:
    return (<pair_t>(<uint64_t>left) << 32) | <pair_t>(<uint64_t>right)


cdef inline token_t pair_left(pair_t key) noexcept nogil:
    return <token_t>(key >> 32)


cdef inline token_t pair_right(pair_t key) noexcept nogil:
    return <token_t>(key & 0xFFFFFFFFu)
