# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Unigram core: sentencepiece's Viterbi segmentation over normalized UTF-8 bytes.

Mechanism only. Python (fasttok/sentencepiece.py) reads the model, normalizes the text, and turns
the (start, id) path into sentencepiece's ids (unknown runs merged, or byte fallback). The slow twin
that states the rules is fasttok/_reference/unigram.py; the two are compared under hypothesis.

The pieces live in a byte trie: the root's 256 children in a plain array, deeper edges in the shared
integer table of fasttok/_hash.pxd, keyed (node << 8 | byte). From each character start the walk
follows the text until the trie has no edge, so a text of n bytes costs O(n * longest piece) probes,
and the only per-call memory is three arrays of n + 1 entries.
"""
from libcpp.vector cimport vector

from fasttok._hash cimport EMPTY_KEY, IdSlot, int_init, int_probe, mix64
from fasttok._types cimport int32_t, int64_t, token_t, uint8_t, uint64_t
from fasttok._utf8 cimport char_length, check_offsets

import numpy as np


cdef class UnigramLattice:
    """A Unigram vocabulary ready for Viterbi: piece bytes -> (id, score), plus the unknown rule.

    Scores are float32, as sentencepiece's are: a piece's score, or for a user-defined piece
    `length * max_score - 0.1` (computed by the caller); `unk_score` is min score - 10.
    """
    cdef vector[IdSlot] slots
    cdef int shift
    cdef int32_t root[256]
    cdef vector[token_t] node_id      # the piece ending at a node, or -1
    cdef vector[float] node_score
    cdef token_t unk_id
    cdef float unk_score
    cdef readonly Py_ssize_t longest

    def __init__(self, const uint8_t[::1] data, const int64_t[::1] offsets, const int32_t[::1] ids,
                 const float[::1] scores, *, int32_t unk_id, float unk_score):
        """Piece i is data[offsets[i]:offsets[i+1]] (non-empty) with id ids[i] and score scores[i]."""
        cdef Py_ssize_t n = ids.shape[0], i
        cdef IdSlot empty
        if offsets.shape[0] != n + 1 or scores.shape[0] != n or (n and offsets[n] > data.shape[0]):
            raise ValueError("offsets, ids and scores do not describe the same pieces")
        for i in range(n):
            if not 0 <= offsets[i] < offsets[i + 1]:
                raise ValueError(f"piece {i} is empty or its offsets are out of order")
        self.unk_id = unk_id
        self.unk_score = unk_score
        self.longest = 0
        with nogil:
            empty.key = EMPTY_KEY
            empty.id = -1   # what a lookup of a missing edge reads
            int_init(self.slots, &self.shift, data.shape[0] + 1, 16, empty)  # never grows
            for i in range(256):
                self.root[i] = -1
            self.node_id.push_back(-1)
            self.node_score.push_back(0.0)
            for i in range(n):
                self._insert(&data[offsets[i]], offsets[i + 1] - offsets[i], ids[i], scores[i])

    cdef void _insert(self, const uint8_t* p, Py_ssize_t n, token_t piece_id, float score) noexcept nogil:
        cdef int32_t node = 0, nxt
        cdef Py_ssize_t k
        cdef uint64_t key
        cdef size_t slot
        for k in range(n):
            nxt = self.child(node, p[k])
            if nxt < 0:
                nxt = self.node_id.size()
                self.node_id.push_back(-1)
                self.node_score.push_back(0.0)
                if node == 0:
                    self.root[p[k]] = nxt
                else:
                    key = (<uint64_t>node << 8) | p[k]
                    slot = int_probe(self.slots, self.shift, key, mix64(key))
                    self.slots[slot].key = key
                    self.slots[slot].id = nxt
            node = nxt
        if self.node_id[node] < 0:   # the first of two equal pieces wins, as in sentencepiece's map
            self.node_id[node] = piece_id
            self.node_score[node] = score
        if n > self.longest:
            self.longest = n

    cdef inline int32_t child(self, int32_t node, uint8_t b) noexcept nogil:
        if node == 0:
            return self.root[b]
        cdef uint64_t key = (<uint64_t>node << 8) | b
        return self.slots[int_probe(self.slots, self.shift, key, mix64(key))].id

    cdef Py_ssize_t _viterbi(self, const uint8_t* text, Py_ssize_t n, float* best, int64_t* start_of,
                             token_t* id_of, int64_t* out_start, token_t* out_id) noexcept nogil:
        # Fills out_start/out_id (room for n entries) from the back and returns how many tokens the
        # path has; they are out_*[n - count : n]. The rules are stated in _reference/unigram.py.
        cdef Py_ssize_t s = 0, e, width, count
        cdef int32_t node
        cdef float here, candidate
        cdef bint single
        for e in range(n + 1):
            best[e] = 0.0
            start_of[e] = -1
            id_of[e] = -1
        while s < n:
            here = best[s]
            width = char_length(text[s])
            if width > n - s:
                width = n - s
            single = False
            node = 0
            e = s
            while e < n:
                node = self.child(node, text[e])
                e += 1
                if node < 0:
                    break
                if self.node_id[node] >= 0:
                    candidate = self.node_score[node] + here   # float32 throughout (see the reference)
                    if start_of[e] == -1 or candidate > best[e]:
                        best[e] = candidate
                        start_of[e] = s
                        id_of[e] = self.node_id[node]
                    if e - s == width:
                        single = True
            if not single:
                e = s + width
                candidate = self.unk_score + here
                if start_of[e] == -1 or candidate > best[e]:
                    best[e] = candidate
                    start_of[e] = s
                    id_of[e] = self.unk_id
            s += width
        count = 0
        e = n
        while e > 0:
            count += 1
            out_start[n - count] = start_of[e]
            out_id[n - count] = id_of[e]
            e = start_of[e]
        return count

    def encode(self, const uint8_t[::1] text, const int64_t[::1] offsets):
        """Viterbi paths of the texts text[offsets[i]:offsets[i+1]]. Returns (ids, starts, ends):
        token k has id ids[k] and starts at byte starts[k] of its text; text i owns tokens
        ends[i]:ends[i+1]. Releases the GIL."""
        cdef Py_ssize_t n_texts = offsets.shape[0] - 1, i, a, b, count, k, total = 0
        check_offsets(offsets, text.shape[0])
        cdef Py_ssize_t n_bytes = offsets[n_texts] - offsets[0] if n_texts else 0
        ids_arr = np.empty(n_bytes, dtype=np.int32)      # at most one token per byte
        starts_arr = np.empty(n_bytes, dtype=np.int64)
        ends_arr = np.zeros(n_texts + 1, dtype=np.int64)
        cdef int32_t[::1] ids = ids_arr
        cdef int64_t[::1] starts = starts_arr
        cdef int64_t[::1] ends = ends_arr
        cdef vector[float] best
        cdef vector[int64_t] start_of, tmp_start
        cdef vector[token_t] id_of, tmp_id
        with nogil:
            for i in range(n_texts):
                a = offsets[i]
                b = offsets[i + 1]
                best.resize(b - a + 1)
                start_of.resize(b - a + 1)
                id_of.resize(b - a + 1)
                tmp_start.resize(b - a + 1)
                tmp_id.resize(b - a + 1)
                count = self._viterbi(&text[a], b - a, best.data(), start_of.data(), id_of.data(),
                                      tmp_start.data(), tmp_id.data())
                for k in range(count):
                    starts[total + k] = tmp_start[b - a - count + k]
                    ids[total + k] = tmp_id[b - a - count + k]
                total += count
                ends[i + 1] = total
        return ids_arr[:total], starts_arr[:total], ends_arr


def _py_viterbi(UnigramLattice lattice not None, bytes text):
    """Test hook: the path of one text as (start, end, id) triples, like the reference's viterbi."""
    ids, starts, _ = lattice.encode(np.frombuffer(text, dtype=np.uint8),
                                    np.array([0, len(text)], dtype=np.int64))
    bounds = starts.tolist() + [len(text)]
    return [(bounds[k], bounds[k + 1], i) for k, i in enumerate(ids.tolist())]
