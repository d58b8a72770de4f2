# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Test hooks for the kernels of the shared .pxd files (_hash.pxd, _heap.pxd): each `_py_*` function
drives one kernel from Python so tests/fasttok/test_core_kernels.py can check it against a plain
Python reference. Nothing here is on a hot path; the .pyx modules cimport the kernels themselves.
"""
from libcpp.vector cimport vector

from fasttok._hash cimport (EMPTY_KEY, CacheSlot, IdSlot, WordSlot, bytes_grow,
                            bytes_probe, hash_bytes, hash_bytes_head, home, int_claim, int_init, int_probe,
                            load_head, mix64, n_slots, over_half, table_shift)
from fasttok._heap cimport HeapEntry, ScoreEntry, count_entry, heap_entry_t, heap_make, heap_pop, heap_push
from fasttok._types cimport int32_t, int64_t, uint32_t, uint64_t


def _py_mix64(uint64_t x):
    """mix64(x), the integer mixer every integer-key table hashes with."""
    return mix64(x)


def _py_hash_bytes(const unsigned char[::1] data):
    """hash_bytes(data): the byte-string hash, computed as a table with 8 readable bytes past a short
    key would (load_head's one-load path) and as one without; both must agree."""
    cdef Py_ssize_t n = data.shape[0]
    cdef const unsigned char* p = &data[0] if n else NULL
    cdef vector[unsigned char] padded
    padded.assign(p, p + n)
    padded.resize(n + 8, 0xAB)  # junk past the key: must not leak into the hash
    cdef uint64_t h = hash_bytes(p, n)
    if hash_bytes_head(load_head(padded.data(), n, n + 8), padded.data(), n) != h:
        raise AssertionError("load_head's one-load path changed the hash")
    return h


def _py_table_shift(size_t expected, size_t min_slots):
    """(shift, number of slots) of the smallest table for expected keys with at least min_slots."""
    cdef int shift = table_shift(expected, min_slots)
    return shift, n_slots(shift)


def _py_heap_order(entries, str kind, *, bint make=False, pops_between=()):
    """Push entries into the core heap and pop them all; returns the popped entries in order.

    kind "count": entries are (count, pair) tuples (HeapEntry: the BPE trainer's order).
    kind "score": entries are (score, count, left, right, pair, stamp) (ScoreEntry: WordPiece's).
    make: put all entries in the vector first and heap_make it (the compaction path) instead of
    pushing one by one. pops_between: after entry k (k in it) is pushed, pop one entry right away;
    those pops come first in the result, so interleaved pushes and pops are checked too.
    """
    if kind == "count":
        return _count_heap(entries, make, set(pops_between))
    if kind == "score":
        return _score_heap(entries, make, set(pops_between))
    raise ValueError(f"kind must be 'count' or 'score', not {kind!r}")


cdef list _count_heap(entries, bint make, set pops_between):
    cdef vector[HeapEntry] built
    for count, pair in entries:
        built.push_back(count_entry(count, pair))
    return _drive_heap(built.data(), built.size(), make, pops_between)


cdef list _score_heap(entries, bint make, set pops_between):
    cdef vector[ScoreEntry] built
    cdef ScoreEntry e
    for score, count, left, right, pair, stamp in entries:
        e.score, e.count, e.left, e.right, e.pair, e.stamp = score, count, left, right, pair, stamp
        built.push_back(e)
    return _drive_heap(built.data(), built.size(), make, pops_between)


cdef list _drive_heap(const heap_entry_t* built, size_t n, bint make, set pops_between):
    """Push (or, with make, place and heap_make) n entries, popping after those in pops_between,
    then pop the rest; the popped entries as tuples, in order."""
    cdef vector[heap_entry_t] heap
    cdef size_t k
    out = []
    for k in range(n):
        if make:
            heap.push_back(built[k])
        else:
            heap_push(heap, built[k])
            if k in pops_between:
                out.append(_entry_tuple(heap_pop(heap)))
    if make:
        heap_make(heap)
    while not heap.empty():
        out.append(_entry_tuple(heap_pop(heap)))
    return out


cdef tuple _entry_tuple(heap_entry_t e):
    if heap_entry_t is HeapEntry:
        return (e.count, e.pair)
    else:
        return (e.score, e.count, e.left, e.right, e.pair, e.stamp)


def _py_hash_table_int(keys, values, *, size_t min_slots=16, bint collide=False):
    """Drive the shared integer-key table (IdSlot) as its users do: for each key, int_claim its
    slot and add values[i] to its payload (a new key starts at 0). Returns (contents, stats):
    contents maps every key to its payload as found by a fresh int_probe, for a dict comparison;
    stats has n_slots, n_keys and displaced (keys not in their home slot: collisions happened).

    collide: every key with the same home slot (the hash is 0), probing through one long cluster
    that wraps around the table; growth is then skipped (a table sized for all keys up front),
    since a grown table re-places keys by mix64 and this hash is not mix64.
    """
    cdef vector[IdSlot] slots
    cdef IdSlot empty
    cdef int shift
    cdef size_t n_used = 0, i, k, displaced = 0
    cdef uint64_t key
    empty.key = EMPTY_KEY
    empty.id = 0
    keys = list(keys)
    if collide:
        int_init(slots, &shift, len(keys), min_slots, empty)
    else:
        int_init(slots, &shift, 0, min_slots, empty)
    for k in range(len(keys)):
        key = keys[k]
        if key == EMPTY_KEY:
            raise ValueError("EMPTY_KEY is not a key")
        if collide:
            i = int_probe(slots, shift, key, 0)
            if slots[i].key == EMPTY_KEY:
                slots[i].key = key
                n_used += 1
        else:
            i = int_claim(slots, &shift, &n_used, key, empty)
        slots[i].id += <int32_t>values[k]
    contents = {}
    for key in keys:
        i = int_probe(slots, shift, key, 0 if collide else mix64(key))
        if slots[i].key != key:
            raise AssertionError(f"key {key} lost")
        contents[key] = slots[i].id
    for i in range(slots.size()):
        if slots[i].key != EMPTY_KEY and i != home(0 if collide else mix64(slots[i].key), shift):
            displaced += 1
    if over_half(n_used, slots.size()):
        raise AssertionError("the table is over half full")
    return contents, {"n_slots": slots.size(), "n_keys": n_used, "displaced": displaced}


def _py_hash_table_bytes(keys, counts, *, str layout="word"):
    """Drive the shared byte-string table as its users do, keys (bytes, may repeat) into an arena.

    layout "word" (WordSlot, the word counters): adds counts[i] to keys[i]; returns {key: total}.
    layout "cache" (CacheSlot, the encoders' caches): keeps the first counts[i] seen for each key,
    like a cache filled on misses; returns {key: first value}.
    Also returns stats: n_slots, n_keys, displaced (keys not in their home slot).
    """
    if layout == "word":
        return _word_table(keys, counts)
    if layout == "cache":
        return _cache_table(keys, counts)
    raise ValueError(f"layout must be 'word' or 'cache', not {layout!r}")


cdef tuple _word_table(keys, counts):
    cdef vector[WordSlot] slots
    cdef vector[unsigned char] arena
    cdef int shift = table_shift(0, 16)
    cdef size_t n_used = 0, i, displaced = 0
    cdef const unsigned char[::1] key
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef uint64_t head, h
    cdef WordSlot* slot
    slots.resize(n_slots(shift))
    for k in range(len(keys)):
        key = keys[k]
        n = key.shape[0]
        if n == 0 or counts[k] <= 0:
            raise ValueError("keys must be non-empty and counts positive")
        p = &key[0]
        head = load_head(p, n, n)
        h = hash_bytes_head(head, p, n)
        slot = &slots[bytes_probe(slots, shift, arena.data(), p, n, head, h)]
        if slot.count != 0:
            slot.count += counts[k]
            continue
        slot.head = head
        slot.count = counts[k]
        slot.offset = arena.size()
        slot.hash_high = <uint32_t>(h >> 32)
        slot.length = <uint32_t>n
        arena.insert(arena.end(), p, p + n)
        n_used += 1
        if over_half(n_used, slots.size()):
            bytes_grow(slots, &shift)
    contents = {}
    for i in range(slots.size()):
        if slots[i].count != 0:
            word = bytes(<const unsigned char[:slots[i].length]>(arena.data() + slots[i].offset)) \
                if slots[i].length else b""
            contents[word] = slots[i].count
            if i != home(<uint64_t>slots[i].hash_high << 32, shift):
                displaced += 1
    return contents, {"n_slots": slots.size(), "n_keys": n_used, "displaced": displaced}


cdef tuple _cache_table(keys, counts):
    cdef vector[CacheSlot] slots
    cdef vector[unsigned char] arena
    cdef vector[int64_t] values
    cdef int shift = table_shift(0, 16)
    cdef size_t n_used = 0, i, displaced = 0
    cdef const unsigned char[::1] key
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef uint64_t h
    cdef CacheSlot* slot
    slots.resize(n_slots(shift))
    for k in range(len(keys)):
        key = keys[k]
        n = key.shape[0]
        if n == 0:
            raise ValueError("keys must be non-empty")
        p = &key[0]
        h = hash_bytes(p, n)
        slot = &slots[bytes_probe(slots, shift, arena.data(), p, n, 0, h)]
        if slot.key_length != 0:
            continue  # a hit: the cache keeps what it has
        if over_half(n_used + 1, slots.size()):
            bytes_grow(slots, &shift)
            slot = &slots[bytes_probe(slots, shift, arena.data(), p, n, 0, h)]
        slot.hash = h
        slot.key_offset = <uint32_t>arena.size()
        slot.key_length = <uint32_t>n
        slot.value_offset = <uint32_t>values.size()
        slot.value_length = 1
        arena.insert(arena.end(), p, p + n)
        values.push_back(counts[k])
        n_used += 1
    contents = {}
    for i in range(slots.size()):
        if slots[i].key_length != 0:
            word = bytes(<const unsigned char[:slots[i].key_length]>(arena.data() + slots[i].key_offset))
            contents[word] = values[slots[i].value_offset]
            if i != home(slots[i].hash, shift):
                displaced += 1
    return contents, {"n_slots": slots.size(), "n_keys": n_used, "displaced": displaced}
