# The one hashing and open-addressing mechanism of the core. Every hash table in _bpe, _pretok and
# _wordpiece is built from the pieces below; only the slot layouts (what a slot carries besides its
# key) differ, and those are declared here too, so the probe and grow loops exist once, as fused
# functions that Cython specialises per layout at compile time (no indirection at run time).
#
# The rules every table follows:
#   * 2 ** (64 - shift) slots, a power of two, at most half full; linear probing; no deletions;
#     grown by doubling (shift -= 1), which re-places every key from its stored hash or key. The
#     probes assume slots.size() == n_slots(shift): size a table only with these functions.
#   * A key's home slot is the TOP bits of its 64-bit hash: home(h, shift) = h >> shift. The byte
#     hash is multiplicative (Fibonacci hashing): its top bits depend on every input bit and a word of
#     up to 8 bytes costs one multiply, but its low bits are poor, so the top bits are the ones to
#     use. Integer keys go through mix64, whose every bit is good, so one indexing rule serves both.
#   * Probe functions take the hash from the caller: the hot loops compute it early (WordCounter
#     hashes a piece, prefetches its home slot and scans the next piece before probing).
#
#     from fasttok._hash cimport IdSlot, EMPTY_KEY, int_init, int_claim, int_probe, mix64
#     cdef vector[IdSlot] slots
#     cdef int shift
#     cdef size_t n_used = 0
#     cdef IdSlot empty
#     empty.key = EMPTY_KEY; empty.id = -1
#     int_init(slots, &shift, 100, 16, empty)                       # room for 100 keys
#     i = int_claim(slots, &shift, &n_used, key, empty)             # key's slot, made if new
#     i = int_probe(slots, shift, key, mix64(key))                  # lookup: free slot if absent
from libc.string cimport memcmp, memcpy
from libcpp.vector cimport vector

from fasttok._types cimport count_t, int32_t, int64_t, token_t, uint32_t, uint64_t

cdef extern from *:
    """
    #define FASTTOK_EMPTY_KEY (~(uint64_t)0)
    #define FASTTOK_LITTLE_ENDIAN (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    #define fasttok_prefetch(p) __builtin_prefetch(p)
    """
    # The free-slot key of the integer tables: never a key (pair ids and trie nodes stay below 2**31).
    const uint64_t EMPTY_KEY "FASTTOK_EMPTY_KEY"
    # A compile-time constant, so load_head's endianness branch costs nothing.
    const bint LITTLE_ENDIAN "FASTTOK_LITTLE_ENDIAN"
    # A hint only: starts loading the cache line of p without waiting for it.
    void prefetch "fasttok_prefetch"(const void* p) noexcept nogil


# ---------------------------------------------------------------------------------------------
# Hashing

cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    # The murmur3 finalizer, a bijection: every input bit reaches every output bit, so an integer
    # key's top bits make a good home slot whatever the key's structure (pairs are two 32-bit ids).
    x ^= x >> 33
    x *= 0xFF51AFD7ED558CCDULL
    x ^= x >> 33
    x *= 0xC4CEB9FE1A85EC53ULL
    x ^= x >> 33
    return x


cdef inline uint64_t load_head(const unsigned char* p, Py_ssize_t n, Py_ssize_t readable) noexcept nogil:
    # The first min(n, 8) bytes of p, memcpy'd into a zeroed uint64. readable: bytes that may be read
    # from p (>= n); 8 or more lets a short key cost one 8-byte load and a mask instead of a
    # variable-length memcpy (a libc call).
    cdef uint64_t w = 0
    if n >= 8:
        memcpy(&w, p, 8)
    elif readable >= 8:
        memcpy(&w, p, 8)
        if LITTLE_ENDIAN:
            w &= (<uint64_t>1 << (8 * n)) - 1
        else:
            w &= ~((<uint64_t>1 << (64 - 8 * n)) - 1)
    elif n > 0:
        memcpy(&w, p, n)
    return w


cdef inline uint64_t hash_bytes_head(uint64_t head, const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # The byte-string hash of p[0:n], given its head (load_head). Use its top bits (see above). The
    # length enters first, so keys that differ only by trailing zero bytes differ.
    cdef uint64_t h = (head ^ <uint64_t>n) * 0x9E3779B97F4A7C15ULL
    cdef uint64_t w
    cdef Py_ssize_t k = 8
    while k + 8 <= n:
        memcpy(&w, p + k, 8)
        h = ((h ^ (h >> 29)) ^ w) * 0x9E3779B97F4A7C15ULL
        k += 8
    if k < n:
        memcpy(&w, p + n - 8, 8)  # the last 8 bytes, overlapping the previous word
        h = ((h ^ (h >> 29)) ^ w) * 0x9E3779B97F4A7C15ULL
    return h


cdef inline uint64_t hash_bytes(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    return hash_bytes_head(load_head(p, n, n), p, n)


# ---------------------------------------------------------------------------------------------
# Table geometry

cdef inline int table_shift(size_t expected, size_t min_slots) noexcept nogil:
    # The shift of the smallest table of at least min_slots (a power of two, >= 2) slots that holds
    # expected keys at most half full.
    cdef size_t size = min_slots
    cdef int shift = 64
    while (<size_t>1 << (64 - shift)) < size:
        shift -= 1
    while (<size_t>1 << (64 - shift)) < 2 * expected:
        shift -= 1
    return shift


cdef inline size_t n_slots(int shift) noexcept nogil:
    return <size_t>1 << (64 - shift)


cdef inline size_t home(uint64_t h, int shift) noexcept nogil:
    return <size_t>(h >> shift)


cdef inline size_t slot_mask(int shift) noexcept nogil:
    # n_slots(shift) - 1, from shift alone: one shift instead of a vector's size (a division by the
    # slot size), which the probe loops need only to wrap around.
    return (~<size_t>0) >> shift


cdef inline bint over_half(size_t n_used, size_t size) noexcept nogil:
    return 2 * n_used > size


# ---------------------------------------------------------------------------------------------
# Integer-key tables: a slot is a uint64 key (EMPTY_KEY when free) and a payload.

cdef struct PairSlot:         # the BPE trainer's pair table
    uint64_t key              # a pair_t
    count_t count
    int32_t words             # index into _MergeLearner.word_lists, or -1

cdef struct RankSlot:         # the BPE encoder's merge table: 16 bytes, key and answer in one line
    uint64_t key              # a pair_t
    token_t rank
    token_t new_id

cdef struct IdSlot:           # key -> one int32: WordPiece's trie edges and pair records
    uint64_t key
    int32_t id

ctypedef fused int_slot_t:
    PairSlot
    RankSlot
    IdSlot


cdef inline size_t int_probe(const vector[int_slot_t]& slots, int shift, uint64_t key,
                             uint64_t h) noexcept nogil:
    # The slot holding key, or the free slot where it would go; h = mix64(key).
    cdef const int_slot_t* s = slots.data()
    cdef size_t mask = slot_mask(shift)
    cdef size_t i = home(h, shift)
    while s[i].key != key and s[i].key != EMPTY_KEY:
        i = (i + 1) & mask
    return i


cdef inline void int_init(vector[int_slot_t]& slots, int* shift, size_t expected, size_t min_slots,
                          const int_slot_t& empty) noexcept nogil:
    # Every slot a copy of empty (key EMPTY_KEY; its payload is what a lookup of an absent key reads).
    shift[0] = table_shift(expected, min_slots)
    slots.assign(n_slots(shift[0]), empty)


cdef inline void int_grow(vector[int_slot_t]& slots, int* shift, const int_slot_t& empty) noexcept nogil:
    cdef vector[int_slot_t] old
    cdef size_t k, i, mask
    old.swap(slots)
    shift[0] -= 1
    slots.assign(2 * old.size(), empty)
    mask = slots.size() - 1
    for k in range(old.size()):
        if old[k].key != EMPTY_KEY:
            i = home(mix64(old[k].key), shift[0])
            while slots[i].key != EMPTY_KEY:
                i = (i + 1) & mask
            slots[i] = old[k]


cdef inline size_t int_claim(vector[int_slot_t]& slots, int* shift, size_t* n_used, uint64_t key,
                             const int_slot_t& empty) noexcept nogil:
    # The slot of key, claimed (key written, payload as in empty) if key is new, growing the table
    # first when one more key would make it over half full. Valid until the next claim.
    cdef uint64_t h = mix64(key)
    cdef size_t i = int_probe(slots, shift[0], key, h)
    if slots[i].key == EMPTY_KEY:
        if over_half(n_used[0] + 1, slots.size()):
            int_grow(slots, shift, empty)
            i = int_probe(slots, shift[0], key, h)
        slots[i].key = key
        n_used[0] += 1
    return i


# ---------------------------------------------------------------------------------------------
# Byte-string tables: the key bytes live in an arena (a vector the owner appends to); the slot
# keeps where, and enough of the hash to re-place the key when the table grows. A zeroed slot is
# free in both layouts.

cdef struct WordSlot:         # _pretok.WordCounter, _wordpiece.WordCounter: word -> count
    uint64_t head             # the word's first min(length, 8) bytes (load_head): most words
                              # (pre-tokens are short) compare without touching the arena
    int64_t count             # 0: a free slot
    int64_t offset            # of the word's bytes in the arena
    uint32_t hash_high        # the hash's top half: enough to re-place it while shift >= 32
    uint32_t length           # a word is shorter than 4 GiB (callers refuse longer ones)

cdef struct CacheSlot:        # the encoders' per-call caches: piece -> ids (a values arena)
    uint64_t hash
    uint32_t key_offset       # bytes into the key arena; 32 bits: caches are capped far below 4 GiB
    uint32_t key_length       # 0: a free slot (empty keys are never cached)
    uint32_t value_offset     # ids into the value arena
    uint32_t value_length

ctypedef fused bytes_slot_t:
    WordSlot
    CacheSlot


cdef inline bint slot_free(const bytes_slot_t& s) noexcept nogil:
    if bytes_slot_t is WordSlot:
        return s.count == 0
    else:
        return s.key_length == 0


cdef inline size_t bytes_probe(const vector[bytes_slot_t]& slots, int shift, const unsigned char* arena,
                               const unsigned char* key, Py_ssize_t n, uint64_t head, uint64_t h) noexcept nogil:
    # The slot holding key[0:n], or the free slot where it would go. h = hash_bytes_head(head, key, n);
    # head is read by WordSlot tables only (CacheSlot compares the full hash instead).
    cdef const bytes_slot_t* s = slots.data()
    cdef size_t mask = slot_mask(shift)
    cdef size_t i = home(h, shift)
    while not slot_free(s[i]):
        if bytes_slot_t is WordSlot:
            if (s[i].head == head and s[i].length == n
                    and (n <= 8 or memcmp(arena + s[i].offset + 8, key + 8, n - 8) == 0)):
                return i
        else:
            if (s[i].hash == h and s[i].key_length == n
                    and memcmp(arena + s[i].key_offset, key, n) == 0):
                return i
        i = (i + 1) & mask
    return i


cdef inline void bytes_grow(vector[bytes_slot_t]& slots, int* shift) noexcept nogil:
    # Doubles the table. A WordSlot keeps only the hash's top 32 bits, which place it exactly while
    # the table has at most 2 ** 32 slots (shift >= 32); far beyond any word count that fits in memory.
    cdef vector[bytes_slot_t] old
    cdef size_t k, i, mask
    cdef uint64_t h
    old.swap(slots)
    shift[0] -= 1
    slots.resize(2 * old.size())  # value-initialised: all free
    mask = slots.size() - 1
    for k in range(old.size()):
        if not slot_free(old[k]):
            if bytes_slot_t is WordSlot:
                h = <uint64_t>old[k].hash_high << 32
            else:
                h = old[k].hash
            i = home(h, shift[0])
            while not slot_free(slots[i]):
                i = (i + 1) & mask
            slots[i] = old[k]
