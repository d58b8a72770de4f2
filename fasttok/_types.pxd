# The integer and float types the whole core uses: one place, one spelling. The fixed-width names are
# re-exported so a module cimports its types from here alone.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

ctypedef int32_t token_t   # a token id (BPE) or a vocabulary/unit id (WordPiece)
ctypedef int64_t count_t   # an occurrence count: always 64-bit
ctypedef int64_t pos_t     # an index into a flat symbol array
ctypedef uint64_t pair_t   # (left << 32) | right: ordering pair_t values orders (left, right) pairs

cdef enum:
    COUNT_MAX = 0x7FFFFFFFFFFFFFFF  # the largest count; a sum above it is an error, never a wrap-around


cdef inline bint add_count(count_t* total, count_t delta) noexcept nogil:
    """total += delta (delta > 0); False, leaving total unchanged, when the sum would exceed COUNT_MAX."""
    if delta > COUNT_MAX - total[0]:
        return False
    total[0] += delta
    return True


cdef inline bint add_product(count_t* total, count_t count, count_t times) noexcept nogil:
    """total += count * times (both >= 0); False, leaving total unchanged, when it would exceed COUNT_MAX."""
    if times != 0 and count > (COUNT_MAX - total[0]) // times:
        return False
    total[0] += count * times
    return True


cdef inline pair_t make_pair(token_t left, token_t right) noexcept nogil:
    return (<pair_t>(<uint64_t>left) << 32) | <pair_t>(<uint64_t>right)


cdef inline token_t pair_left(pair_t key) noexcept nogil:
    return <token_t>(key >> 32)


cdef inline token_t pair_right(pair_t key) noexcept nogil:
    return <token_t>(key & 0xFFFFFFFFu)
