# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""sentencepiece's BPE encoder in the core: merge the adjacent pair whose joined piece scores highest.

Mechanism only. Python (fasttok/sentencepiece.py) gives every string that can be a symbol a key: each
piece of sentencepiece's piece table (normal, user-defined, unused) its id, and each single character
that occurs in some piece but is not one a new key above them. It lists every way a piece splits into
two keyed strings, `(left key, right key) -> piece`, with the piece's float32 score, and maps keys back
to ids at the end. The rules are stated in the pure-Python twin, fasttok/_reference/sentencepiece.py
(`bpe_segment`), which the tests compare with this module under hypothesis.

Per text: symbols start as characters (a user-defined symbol, matched longest-first, is one frozen
symbol that never merges); a max-heap of candidate pairs pops the highest score, the leftmost on ties
(`ScoreEntry`: score, then left position); a popped pair is stale when either side changed length, and
as symbols only grow that test is exact. A final piece that is unused is split back into the two
keys that last made it, recursively. O(n log n) in the characters of a text; no GIL.
"""
from cython.operator cimport dereference as deref
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.vector cimport vector

from fasttok._hash cimport EMPTY_KEY, IdSlot, int_init, int_probe, mix64
from fasttok._heap cimport ScoreEntry, heap_pop, heap_push
from fasttok._types cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from fasttok._utf8 cimport char_length, check_offsets

import numpy as np


cdef inline uint64_t char_code(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    # A character's bytes (1 to 4) and length packed in one integer key.
    cdef uint64_t code = <uint64_t>n << 32
    cdef Py_ssize_t k
    for k in range(n):
        code |= <uint64_t>p[k] << (8 * k)
    return code


cdef struct Symbol:
    int64_t start      # byte offset in the text
    int32_t size       # bytes; 0 once merged into its left neighbour
    int32_t key        # the string's key, or -1: a character in no piece
    int32_t prev, next # neighbours, -1 at the ends
    bint frozen


cdef class ScoreMerger:
    cdef vector[IdSlot] chars          # char_code -> key
    cdef int chars_shift
    cdef vector[IdSlot] pairs          # (left key << 32 | right key) -> joined key
    cdef int pairs_shift
    cdef vector[float] score           # per key (piece keys only)
    cdef vector[int32_t] key_size      # bytes of each key's string
    cdef vector[bint] unused
    cdef int32_t ascii_key[128]        # char_code lookups for ASCII, without probing
    cdef unordered_map[string, int32_t] symbols   # user-defined symbol -> key
    cdef bint first_byte[256]
    cdef Py_ssize_t max_symbol

    def __init__(self, const uint8_t[::1] char_bytes, const int64_t[::1] char_offsets,
                 const int32_t[::1] char_keys, const int32_t[::1] left, const int32_t[::1] right,
                 const int32_t[::1] joined, const float[::1] scores, const int32_t[::1] key_sizes,
                 const uint8_t[::1] unused, symbols):
        """Characters i: char_bytes[char_offsets[i]:char_offsets[i+1]] has key char_keys[i]. Pairs j:
        (left[j], right[j]) -> joined[j]. Per key k: scores[k], key_sizes[k], unused[k].
        symbols: [(user-defined symbol bytes, key)]."""
        cdef Py_ssize_t i, n_keys = scores.shape[0]
        cdef IdSlot empty
        cdef uint64_t code
        cdef size_t slot
        if key_sizes.shape[0] != n_keys or unused.shape[0] != n_keys \
                or left.shape[0] != right.shape[0] or left.shape[0] != joined.shape[0] \
                or char_offsets.shape[0] != char_keys.shape[0] + 1:
            raise ValueError("inconsistent table sizes")
        for i in range(left.shape[0]):
            if not (0 <= left[i] < n_keys and 0 <= right[i] < n_keys and 0 <= joined[i] < n_keys):
                raise ValueError(f"pair {i} refers to a key outside 0..{n_keys - 1}")
        for i in range(char_keys.shape[0]):
            if not (0 <= char_keys[i] < n_keys and 1 <= char_offsets[i + 1] - char_offsets[i] <= 4):
                raise ValueError(f"character {i} is malformed")
        for i in range(256):
            self.first_byte[i] = False
        self.max_symbol = 0
        for s, key in symbols:
            if s and 0 <= key < n_keys:
                self.symbols[s] = key
                self.first_byte[<uint8_t>s[0]] = True
                self.max_symbol = max(self.max_symbol, len(s))
        with nogil:
            empty.key = EMPTY_KEY
            empty.id = -1
            int_init(self.chars, &self.chars_shift, char_keys.shape[0] + 1, 16, empty)
            for i in range(128):
                self.ascii_key[i] = -1
            for i in range(char_keys.shape[0]):
                if char_offsets[i + 1] - char_offsets[i] == 1 and char_bytes[char_offsets[i]] < 128:
                    self.ascii_key[char_bytes[char_offsets[i]]] = char_keys[i]
                code = char_code(&char_bytes[char_offsets[i]], char_offsets[i + 1] - char_offsets[i])
                slot = int_probe(self.chars, self.chars_shift, code, mix64(code))
                self.chars[slot].key = code
                self.chars[slot].id = char_keys[i]
            int_init(self.pairs, &self.pairs_shift, left.shape[0] + 1, 16, empty)
            for i in range(left.shape[0]):
                code = (<uint64_t>left[i] << 32) | <uint32_t>right[i]
                slot = int_probe(self.pairs, self.pairs_shift, code, mix64(code))
                if self.pairs[slot].key == EMPTY_KEY:   # one joined piece per pair: the first listed
                    self.pairs[slot].key = code
                    self.pairs[slot].id = joined[i]
            for i in range(n_keys):
                self.score.push_back(scores[i])
                self.key_size.push_back(key_sizes[i])
                self.unused.push_back(unused[i] != 0)

    cdef int32_t joined_key(self, int32_t a, int32_t b) noexcept nogil:
        if a < 0 or b < 0:
            return -1
        cdef uint64_t code = (<uint64_t>a << 32) | <uint32_t>b
        return self.pairs[int_probe(self.pairs, self.pairs_shift, code, mix64(code))].id

    cdef Py_ssize_t match_symbol(self, const uint8_t* p, Py_ssize_t n, int32_t* key) noexcept nogil:
        # The longest user-defined symbol at p (its length, and its key), or 0.
        cdef Py_ssize_t k
        cdef unordered_map[string, int32_t].iterator it
        if not self.first_byte[p[0]]:
            return 0
        k = self.max_symbol if self.max_symbol < n else n
        while k > 0:
            it = self.symbols.find(string(<const char*>p, k))
            if it != self.symbols.end():
                key[0] = deref(it).second
                return k
            k -= 1
        return 0

    cdef void push(self, vector[Symbol]& sym, vector[ScoreEntry]& heap,
                   unordered_map[int32_t, uint64_t]& made_from, int32_t a, int32_t b) noexcept nogil:
        # MaybeAddNewSymbolPair: a candidate when both exist, neither is frozen, and the joined
        # string is a piece.
        cdef ScoreEntry e
        cdef int32_t j
        if a < 0 or b < 0 or sym[a].frozen or sym[b].frozen:
            return
        j = self.joined_key(sym[a].key, sym[b].key)
        if j < 0:
            return
        e.score = self.score[j]
        e.count = 0
        e.left = a
        e.right = b
        e.pair = j
        e.stamp = sym[a].size + sym[b].size
        heap_push(heap, e)
        if self.unused[j]:
            made_from[j] = (<uint64_t>sym[a].key << 32) | <uint32_t>sym[b].key

    cdef void segment(self, const uint8_t* text, Py_ssize_t n, vector[int64_t]& out_start,
                      vector[int32_t]& out_key, vector[Symbol]& sym, vector[ScoreEntry]& heap,
                      unordered_map[int32_t, uint64_t]& made_from, vector[int32_t]& stack) noexcept nogil:
        # sym, heap, made_from and stack are scratch space owned by the caller (reused across texts).
        cdef Symbol s
        cdef ScoreEntry top
        cdef Py_ssize_t pos = 0, length
        cdef int32_t k, key, a, b
        cdef int64_t at
        cdef uint64_t code
        sym.clear()
        heap.clear()
        made_from.clear()
        while pos < n:                         # 1. characters and frozen user-defined symbols
            key = -1
            length = self.match_symbol(text + pos, n - pos, &key) if self.max_symbol else 0
            s.frozen = length > 0
            if not length:
                length = char_length(text[pos])
                if length > n - pos:
                    length = n - pos
                if text[pos] < 128:
                    key = self.ascii_key[text[pos]]
                else:
                    code = char_code(text + pos, length)
                    key = self.chars[int_probe(self.chars, self.chars_shift, code, mix64(code))].id
            s.start = pos
            s.size = length
            s.key = key
            s.prev = <int32_t>sym.size() - 1
            s.next = <int32_t>sym.size() + 1
            sym.push_back(s)
            pos += length
        if sym.empty():
            return
        sym.back().next = -1
        for k in range(1, sym.size()):         # 2. every adjacent pair
            self.push(sym, heap, made_from, k - 1, k)
        while not heap.empty():                # 3. merge, best first
            top = heap_pop(heap)
            a = top.left
            b = top.right
            if sym[a].size == 0 or sym[b].size == 0 or sym[a].size + sym[b].size != top.stamp:
                continue
            sym[a].size += sym[b].size
            sym[a].key = top.pair
            sym[b].size = 0
            sym[a].next = sym[b].next
            if sym[b].next >= 0:
                sym[sym[b].next].prev = a
            self.push(sym, heap, made_from, sym[a].prev, a)
            self.push(sym, heap, made_from, a, sym[a].next)
        k = 0                                   # 4. emit, splitting unused pieces back
        while k >= 0:
            at = sym[k].start
            stack.push_back(sym[k].key)
            while not stack.empty():
                key = stack.back()
                stack.pop_back()
                if key >= 0 and self.unused[key] and made_from.count(key):
                    code = made_from[key]
                    stack.push_back(<int32_t><uint32_t>code)        # right, popped second
                    stack.push_back(<int32_t>(code >> 32))          # left, popped first
                    continue
                out_start.push_back(at)
                out_key.push_back(key)
                at += self.key_size[key] if key >= 0 else sym[k].size
            k = sym[k].next

    def encode(self, const uint8_t[::1] text, const int64_t[::1] offsets):
        """Segment texts text[offsets[i]:offsets[i+1]]. Returns (keys, starts, ends): token t has key
        keys[t] (-1: a character in no piece) and starts at byte starts[t] of its text; text i owns
        tokens ends[i]:ends[i+1]. Releases the GIL."""
        cdef Py_ssize_t n_texts = offsets.shape[0] - 1, i
        cdef vector[int64_t] starts
        cdef vector[int32_t] keys
        cdef vector[Symbol] sym
        cdef vector[ScoreEntry] heap
        cdef unordered_map[int32_t, uint64_t] made_from
        cdef vector[int32_t] stack
        check_offsets(offsets, text.shape[0])
        ends_arr = np.zeros(n_texts + 1, dtype=np.int64)
        cdef int64_t[::1] ends = ends_arr
        with nogil:
            for i in range(n_texts):
                self.segment(&text[0] + offsets[i] if text.shape[0] else NULL, offsets[i + 1] - offsets[i],
                             starts, keys, sym, heap, made_from, stack)
                ends[i + 1] = keys.size()
        keys_arr = np.empty(keys.size(), dtype=np.int32)
        starts_arr = np.empty(starts.size(), dtype=np.int64)
        cdef int32_t[::1] kv = keys_arr
        cdef int64_t[::1] sv = starts_arr
        for i in range(<Py_ssize_t>keys.size()):
            kv[i] = keys[i]
            sv[i] = starts[i]
        return keys_arr, starts_arr, ends_arr
