# A binary max-heap of (count, pair) entries on a libcpp vector, shared by the trainers.
#
# Order: larger count first; among equal counts the smaller (left, right) pair first. This is the
# documented tie rule of the BPE trainer, so "pop" alone decides which merge is learned next.
from libcpp.vector cimport vector

from fasttok._types cimport count_t, pair_t


cdef struct HeapEntry:
    count_t count
    pair_t pair


cdef inline bint _first(const HeapEntry& a, const HeapEntry& b) noexcept nogil:
    return a.count > b.count or (a.count == b.count and a.pair < b.pair)


cdef inline void heap_push(vector[HeapEntry]& heap, count_t count, pair_t pair) noexcept nogil:
    cdef HeapEntry entry
    entry.count = count
    entry.pair = pair
    heap.push_back(entry)
    cdef size_t i = heap.size() - 1
    cdef size_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not _first(entry, heap[parent]):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = entry


cdef inline HeapEntry heap_pop(vector[HeapEntry]& heap) noexcept nogil:
    # Caller guarantees the heap is not empty.
    cdef HeapEntry top = heap[0]
    cdef HeapEntry last = heap.back()
    heap.pop_back()
    cdef size_t n = heap.size()
    cdef size_t i = 0
    cdef size_t child
    if n == 0:
        return top
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _first(heap[child + 1], heap[child]):
            child += 1
        if not _first(heap[child], last):
            break
        heap[i] = heap[child]
        i = child
    heap[i] = last
    return top
