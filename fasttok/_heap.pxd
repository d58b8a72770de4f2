# The core's one binary max-heap, on a libcpp vector, generic over its entry type: a fused type, so
# Cython emits one specialised copy of each function per entry type and the comparison inlines.
#
# Entry types and their order (the documented tie rules; "pop" alone decides what is learned next):
#   HeapEntry  (BPE)        larger count first; among equal counts the smaller (left, right) pair.
#   ScoreEntry (WordPiece)  higher score, then higher count, then the smaller (left id, right id).
# Entries that tie on every compared field are interchangeable for the callers (the same pair
# twice; a stale one is recognised and dropped), so the order among them is not part of the rule.
from libcpp.vector cimport vector

from fasttok._types cimport count_t, int32_t, pair_t, token_t


cdef struct HeapEntry:
    count_t count
    pair_t pair


cdef struct ScoreEntry:
    double score
    count_t count
    token_t left       # vocabulary ids: they break ties
    token_t right
    int32_t pair       # the pair record this entry is for
    int32_t stamp      # the record's version when pushed: an older one marks the entry stale

ctypedef fused heap_entry_t:
    HeapEntry
    ScoreEntry


cdef inline HeapEntry count_entry(count_t count, pair_t pair) noexcept nogil:
    cdef HeapEntry entry
    entry.count = count
    entry.pair = pair
    return entry


cdef inline bint heap_before(const heap_entry_t& a, const heap_entry_t& b) noexcept nogil:
    # True when a pops before b.
    if heap_entry_t is HeapEntry:
        return a.count > b.count or (a.count == b.count and a.pair < b.pair)
    else:
        if a.score != b.score:
            return a.score > b.score
        if a.count != b.count:
            return a.count > b.count
        if a.left != b.left:
            return a.left < b.left
        return a.right < b.right


cdef inline void _sift_down(vector[heap_entry_t]& heap, size_t i, heap_entry_t entry) noexcept nogil:
    # Places entry at hole i or below, moving the better children up.
    cdef size_t n = heap.size()
    cdef size_t child
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap_before(heap[child + 1], heap[child]):
            child += 1
        if not heap_before(heap[child], entry):
            break
        heap[i] = heap[child]
        i = child
    heap[i] = entry


cdef inline void heap_push(vector[heap_entry_t]& heap, heap_entry_t entry) noexcept nogil:
    heap.push_back(entry)
    cdef size_t i = heap.size() - 1
    cdef size_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not heap_before(entry, heap[parent]):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = entry


cdef inline heap_entry_t heap_pop(vector[heap_entry_t]& heap) noexcept nogil:
    # Caller guarantees the heap is not empty.
    cdef heap_entry_t top = heap[0]
    cdef heap_entry_t last = heap.back()
    heap.pop_back()
    if heap.size() > 0:
        _sift_down(heap, 0, last)
    return top


cdef inline void heap_make(vector[heap_entry_t]& heap) noexcept nogil:
    # Heap order for arbitrary contents in O(n) (Floyd): sift down every inner node, last first.
    cdef size_t i = heap.size() // 2
    while i > 0:
        i -= 1
        _sift_down(heap, i, heap[i])
