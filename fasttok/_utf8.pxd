# UTF-8 text as the sentencepiece kernels (_charsmap, _unigram, _score_bpe) take it: one flat byte array
# holding many texts, text i at [offsets[i], offsets[i + 1]).
from fasttok._types cimport int64_t, uint8_t


cdef inline Py_ssize_t char_length(uint8_t lead) noexcept nogil:
    # sentencepiece's OneCharLen: the UTF-8 length from the lead byte (no validation: the text is
    # normalized, valid UTF-8 by the time a kernel walks it)
    if lead < 0xC0:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


cdef inline Py_ssize_t check_offsets(const int64_t[::1] offsets, Py_ssize_t n_bytes) except -1:
    """The number of texts `offsets` describes; ValueError unless they are in order and within the
    n_bytes of the text, so the nogil loops that follow never read outside it."""
    cdef Py_ssize_t n_texts = offsets.shape[0] - 1, i
    if n_texts < 0:
        raise ValueError("offsets needs at least one entry")
    for i in range(n_texts):
        if not 0 <= offsets[i] <= offsets[i + 1] <= n_bytes:
            raise ValueError("text offsets out of order or beyond the text")
    return n_texts
