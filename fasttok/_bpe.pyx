# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""BPE mechanism on integer arrays: learning merges from a unique-word table, and applying them.

Python (fasttok/train.py, fasttok/tokenizer.py) decides what the symbols are; this module only sees
token ids. Both hot loops run without the GIL.
"""
import numpy as np

from fasttok.errors import CountOverflowError

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.string cimport memcpy
from libcpp.vector cimport vector

from fasttok._hash cimport (EMPTY_KEY, CacheSlot, PairSlot, RankSlot, bytes_grow, bytes_probe, hash_bytes,
                            int_claim, int_init, int_probe, mix64, over_half, table_shift, n_slots)
from fasttok._heap cimport HeapEntry, count_entry, heap_pop, heap_push
from fasttok._pretok cimport CharClasses, char_classes, next_piece
from fasttok._signals cimport CHECK_EVERY, interrupted_after, raise_pending
from fasttok._types cimport (add_product, count_t, int32_t, make_pair, pair_left, pair_right, pair_t, pos_t, token_t,
                             uint32_t, uint64_t)


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

cdef extern from "<algorithm>" namespace "std" nogil:
    void _std_sort_i32 "std::sort"(vector[int32_t].iterator, vector[int32_t].iterator)
    vector[int32_t].iterator _std_upper_bound_i32 "std::upper_bound"(vector[int32_t].iterator,
                                                                     vector[int32_t].iterator, int32_t)

DEF LONG_WORD = 64  # longer words list their pairs by position (see _MergeLearner.run)

cdef class _MergeLearner:
    """State of one merge-learning run over a unique-word table.

    Each word is a doubly linked list of symbols inside one flat array; a merge rewrites the left
    symbol and unlinks the right one, so a word's head position never changes. Only the words listed
    under the merged pair are visited, and pair counts are updated locally around each occurrence.
    Pair counts live in one open-addressing table of fasttok/_hash.pxd (PairSlot; no deletions: a
    dead pair keeps count 0).
    """
    cdef vector[token_t] sym            # (n_symbols,) current symbol at each position
    # Links are int32 (learn_merges refuses tables of 2**31 symbols or more): memory is the limit of
    # how large a unique-word table fits, and these two arrays are most of it.
    cdef vector[int32_t] nxt            # (n_symbols,) next live position in the word, or -1
    cdef vector[int32_t] prv            # (n_symbols,) previous live position, or -1
    cdef vector[int32_t] head           # (n_words,) first position of each word
    cdef vector[count_t] weight         # (n_words,) how often the word occurs in the corpus
    cdef vector[int] stamp              # (n_words,) last merge step that visited the word
    cdef vector[PairSlot] slots         # the pair table, a power of two in size, at most half full
    cdef int shift                      # its home slot rule: mix64(pair) >> shift
    cdef size_t n_pairs
    cdef PairSlot empty                 # a free slot: no pair, count 0, no word list
    cdef vector[vector[int]] word_lists # words that may contain a pair (stale or repeated ids allowed)
    cdef vector[HeapEntry] heap
    cdef vector[pair_t] created         # pairs that gained count during the current merge
    cdef vector[count_t] length         # (n_tokens,) how many base symbols each token spans
    # Words longer than LONG_WORD symbols list their pairs by position (-1 - position), not by word id:
    # walking a whole long word for each merge would cost O(length) per merge (see run).
    cdef vector[int32_t] long_start     # first position of each long word, increasing
    cdef vector[int32_t] long_word      # its word id

    cdef void _init_table(self, size_t expected) noexcept nogil:
        self.empty.key = EMPTY_KEY
        self.empty.count = 0
        self.empty.words = -1
        int_init(self.slots, &self.shift, expected, 1024, self.empty)
        self.n_pairs = 0

    cdef inline size_t _find(self, pair_t key) noexcept nogil:
        # The slot holding key, or the free slot where it would go.
        return int_probe(self.slots, self.shift, key, mix64(key))

    cdef PairSlot* _slot(self, pair_t key) noexcept nogil:
        # The slot of key, inserted if new. Valid until the next insertion.
        return &self.slots[int_claim(self.slots, &self.shift, &self.n_pairs, key, self.empty)]

    cdef inline count_t _count(self, pair_t key) noexcept nogil:
        return self.slots[self._find(key)].count   # a free slot has count 0

    cdef void _add(self, pair_t key, count_t delta, int word) noexcept nogil:
        cdef PairSlot* s = self._slot(key)
        if s.count == 0:
            self.created.push_back(key)
        s.count += delta
        if s.words < 0:
            s.words = <int32_t>self.word_lists.size()
            self.word_lists.push_back(vector[int]())
        cdef vector[int]* words = &self.word_lists[s.words]
        if words.empty() or words.back() != word:
            words.push_back(word)

    cdef inline void _sub(self, pair_t key, count_t delta) noexcept nogil:
        self.slots[self._find(key)].count -= delta

    cdef inline int32_t _merge_here(self, int32_t p, int32_t q, token_t left, token_t right, token_t new_id,
                                    count_t w, int word) noexcept nogil:
        # Merge the symbols at p and q (the pair left, right) of a word of weight w, updating the pair
        # counts around them; returns the position after the merged symbol. New pairs are listed under
        # `word`, or under their positions (-1 - position) when word < 0 (a long word, see run).
        cdef int32_t before = self.prv[p], after = self.nxt[q]
        if before != -1:
            self._sub(make_pair(self.sym[before], left), w)
            self._add(make_pair(self.sym[before], new_id), w, word if word >= 0 else -1 - before)
        if after != -1:
            self._sub(make_pair(right, self.sym[after]), w)
            self._add(make_pair(new_id, self.sym[after]), w, word if word >= 0 else -1 - p)
        self._sub(make_pair(left, right), w)
        self.sym[p] = new_id
        self.nxt[p] = after
        if after != -1:
            self.prv[after] = p
        return after

    cdef Py_ssize_t _merge_word(self, int word, token_t left, token_t right, token_t new_id) noexcept nogil:
        # Merge every (left, right) of a word, left to right. Returns how many symbols it visited:
        # the work, for the signal check's budget.
        cdef int32_t p = self.head[word]
        cdef int32_t q
        cdef count_t w = self.weight[word]
        cdef Py_ssize_t visited = 0
        while p != -1:
            visited += 1
            q = self.nxt[p]
            if q == -1:
                break
            if self.sym[p] == left and self.sym[q] == right:
                p = self._merge_here(p, q, left, right, new_id, w, word)
            else:
                p = q
        return visited

    cdef Py_ssize_t _merge_positions(self, vector[int32_t]& positions, token_t left, token_t right,
                                     token_t new_id) noexcept nogil:
        # Long words list their pairs by position: merge at each listed position where (left, right)
        # still stands, in increasing order (= left to right within each word), so a merge costs the
        # occurrences, not the word's length. A symbol merged into its left neighbour is marked -1.
        cdef size_t i
        cdef int32_t p, q, last = -1
        cdef Py_ssize_t k
        _std_sort_i32(positions.begin(), positions.end())
        for i in range(positions.size()):
            p = positions[i]
            if p == last:
                continue
            last = p
            q = self.nxt[p]
            if self.sym[p] != left or q == -1 or self.sym[q] != right:
                continue
            k = _std_upper_bound_i32(self.long_start.begin(), self.long_start.end(), p) - self.long_start.begin() - 1
            self._merge_here(p, q, left, right, new_id, self.weight[self.long_word[k]], -1)
            self.sym[q] = -1
        return positions.size()

    cdef int run(self, token_t first_id, int n_merges, count_t min_frequency,
                 count_t max_token_length, vector[token_t]& out, object progress) except -1:
        cdef HeapEntry top
        cdef count_t current
        cdef token_t left, right, new_id
        cdef vector[int] words
        cdef vector[int32_t] positions
        cdef int32_t list_id
        cdef size_t i
        cdef int done = 0
        cdef int report_every = max(1, n_merges // 100)
        cdef bint has_progress = progress is not None
        cdef bint stopped = False
        cdef Py_ssize_t budget = CHECK_EVERY, work
        while done < n_merges:
            with nogil:
                while done < n_merges and not self.heap.empty():
                    top = heap_pop(self.heap)
                    current = self._count(top.pair)
                    if current != top.count:
                        # Counts of existing pairs only fall, so a stale entry is too high: re-file it.
                        if current > 0:
                            heap_push(self.heap, count_entry(current, top.pair))
                        continue
                    if current < min_frequency:
                        self.heap.clear()
                        break
                    left = pair_left(top.pair)
                    right = pair_right(top.pair)
                    if max_token_length > 0 and self.length[left] + self.length[right] > max_token_length:
                        continue  # lengths never change, so this pair can never be merged
                    new_id = first_id + done
                    out.push_back(left)
                    out.push_back(right)
                    self.length.push_back(self.length[left] + self.length[right])
                    list_id = self.slots[self._find(top.pair)].words
                    words.swap(self.word_lists[list_id])
                    vector[int]().swap(self.word_lists[list_id])  # the pair is gone: free its list
                    self.created.clear()
                    work = 1
                    positions.clear()
                    for i in range(words.size()):
                        if words[i] < 0:
                            positions.push_back(-1 - words[i])
                        elif self.stamp[words[i]] != done:
                            self.stamp[words[i]] = done
                            work += self._merge_word(words[i], left, right, new_id)
                    if not positions.empty():
                        work += self._merge_positions(positions, left, right, new_id)
                    words.clear()
                    for i in range(self.created.size()):
                        current = self._count(self.created[i])
                        if current > 0:
                            heap_push(self.heap, count_entry(current, self.created[i]))
                    done += 1
                    if interrupted_after(&budget, work):
                        stopped = True
                        break
                    if has_progress and done % report_every == 0:
                        break
            if stopped:
                raise_pending()
            if has_progress:
                progress(done, n_merges)
            if self.heap.empty():
                break
        return done


def learn_merges(const token_t[::1] symbols, const pos_t[::1] offsets, const count_t[::1] counts,
                 const count_t[::1] base_length, *, int n_merges, count_t min_frequency=1,
                 count_t max_token_length=0, progress=None):
    """Learn up to `n_merges` merges; return an (n_learned, 2) int32 array of (left, right) ids.

    symbols: (n_symbols,) base ids of all unique words, concatenated
    offsets: (n_words + 1,) word w is symbols[offsets[w]:offsets[w + 1]]
    counts: (n_words,) 64-bit occurrence counts
    base_length: (n_base,) length of each base symbol; merge k creates id n_base + k
    Merge rule: highest pair count first; ties go to the smallest (left, right).
    """
    cdef Py_ssize_t n_words = counts.shape[0]
    if offsets.shape[0] != n_words + 1 or offsets[n_words] != symbols.shape[0]:
        raise ValueError("offsets must have n_words + 1 entries ending at len(symbols)")
    if symbols.shape[0] >= 2**31 - 1:
        raise ValueError(f"the unique-word table has {symbols.shape[0]} symbols; the trainer handles fewer "
                         f"than 2**31 (count words on a sample, or raise min_frequency of the counts)")
    cdef token_t first_id = <token_t>base_length.shape[0]
    cdef _MergeLearner st = _MergeLearner()
    cdef Py_ssize_t n = symbols.shape[0]
    cdef Py_ssize_t w, p
    cdef pos_t start, end
    cdef bint is_long
    cdef count_t n_pairs_total = 0
    # A pair's count is at most the sum over words of count * (length - 1): check that once.
    for w in range(n_words):
        if offsets[w + 1] > offsets[w] and not add_product(&n_pairs_total, counts[w],
                                                           offsets[w + 1] - offsets[w] - 1):
            raise CountOverflowError("the word counts add up to more than 2**63 - 1 pairs; the trainer's "
                                     "64-bit pair counts cannot hold them")
    # Grown as merges are made, not sized by n_merges: an absurd vocab_size on a small corpus costs nothing.
    cdef vector[token_t] merges
    for p in range(first_id):
        st.length.push_back(base_length[p])
    with nogil:
        st.sym.assign(&symbols[0] if n > 0 else NULL, (&symbols[0] + n) if n > 0 else NULL)
        st.nxt.resize(n)
        st.prv.resize(n)
        st.head.resize(n_words)
        st.weight.resize(n_words)
        st.stamp.assign(n_words, -1)
        st._init_table(1 << 15)  # grows by doubling: distinct pairs are far fewer than symbols
        for w in range(n_words):
            start = offsets[w]
            end = offsets[w + 1]
            st.head[w] = start if end > start else -1
            st.weight[w] = counts[w]
            is_long = end - start > LONG_WORD
            if is_long:
                st.long_start.push_back(<int32_t>start)
                st.long_word.push_back(<int32_t>w)
            for p in range(start, end):
                st.prv[p] = p - 1 if p > start else -1
                st.nxt[p] = p + 1 if p + 1 < end else -1
                if p > start:
                    st._add(make_pair(symbols[p - 1], symbols[p]), counts[w], <int>(-p if is_long else w))
        for p in range(<Py_ssize_t>st.created.size()):
            heap_push(st.heap, count_entry(st._count(st.created[p]), st.created[p]))
        st.created.clear()
    if n_merges > 0:
        st.run(first_id, n_merges, min_frequency, max_token_length, merges, progress)
    return _to_array(merges.data(), merges.size()).reshape(-1, 2)


# ----------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------

# Words up to this many symbols merge in a stack buffer with an O(n) scan per merge, which beats a
# heap on the short pieces that make up almost all text; longer ones (think "a" * 1_000_000) use a
# heap over a linked list: O(n log n).
DEF SHORT_WORD = 48
DEF CACHE_MAX_KEY_BYTES = 256       # longer pieces are not cached
DEF CACHE_MAX_ENTRIES = 1 << 20     # the per-call cache stops growing here
DEF NO_RANK = 0x7FFFFFFF
DEF SMALL_INPUT = 1024              # encode_texts: up to this many bytes, no piece cache and no GIL release


cdef class _PieceCache:
    """Piece bytes -> ids: the shared byte-string table of fasttok/_hash.pxd (CacheSlot) over a key
    arena and a value arena. One per encode call, so threads never share one. Its offsets are 32-bit:
    at most CACHE_MAX_ENTRIES keys of at most CACHE_MAX_KEY_BYTES bytes, i.e. 2**28 bytes and ids."""
    cdef vector[CacheSlot] slots
    cdef int shift
    cdef vector[unsigned char] keys
    cdef vector[token_t] values
    cdef size_t n

    def __cinit__(self):
        self.shift = table_shift(0, 1024)
        self.slots.resize(n_slots(self.shift))  # zeroed: all free
        self.n = 0

    cdef inline bint get(self, const unsigned char* key, Py_ssize_t n, uint64_t h,
                         vector[token_t]& out) noexcept nogil:
        cdef const CacheSlot* slot = &self.slots[bytes_probe(self.slots, self.shift, self.keys.data(),
                                                             key, n, 0, h)]
        if slot.key_length == 0:
            return False
        out.insert(out.end(), self.values.begin() + slot.value_offset,
                   self.values.begin() + slot.value_offset + slot.value_length)
        return True

    cdef void put(self, const unsigned char* key, Py_ssize_t n, uint64_t h,
                  const token_t* ids, Py_ssize_t n_ids) noexcept nogil:
        # Only for a key that get() just missed.
        if self.n >= CACHE_MAX_ENTRIES or n == 0:
            return
        if over_half(self.n + 1, self.slots.size()):
            bytes_grow(self.slots, &self.shift)
        cdef CacheSlot* slot = &self.slots[bytes_probe(self.slots, self.shift, self.keys.data(), key, n, 0, h)]
        slot.hash = h
        slot.key_offset = <uint32_t>self.keys.size()
        slot.key_length = <uint32_t>n
        slot.value_offset = <uint32_t>self.values.size()
        slot.value_length = <uint32_t>n_ids
        self.keys.insert(self.keys.end(), key, key + n)
        self.values.insert(self.values.end(), ids, ids + n_ids)
        self.n += 1


cdef class MergeTable:
    """Immutable (left, right) -> (rank, new id) table that applies merges to words of base ids.

    Lower rank merges first; among equal ranks (the same pair twice) the leftmost first, which is
    exactly the order the trainer applied them in. The table is open addressing over flat arrays:
    the lookup is the inner loop of every encode. The table is the shared integer-key table of
    fasttok/_hash.pxd with RankSlot entries: key, rank and new id in one 16-byte slot, so a hit reads
    one cache line.
    """
    cdef vector[RankSlot] slots
    cdef int shift
    cdef readonly Py_ssize_t n_merges

    def __init__(self, const token_t[:, ::1] merges):
        """merges: (n_merges, 3) rows of (left, right, new_id) in rank order."""
        cdef Py_ssize_t r
        cdef size_t i
        cdef pair_t key
        cdef RankSlot empty
        empty.key = EMPTY_KEY
        empty.rank = NO_RANK   # what _rank reads for an absent pair
        empty.new_id = -1
        self.n_merges = merges.shape[0]
        int_init(self.slots, &self.shift, merges.shape[0], 16, empty)
        for r in range(merges.shape[0]):
            if merges[r, 0] < 0 or merges[r, 1] < 0 or merges[r, 2] < 0:
                raise ValueError(f"merge {r} has a negative id")
            key = make_pair(merges[r, 0], merges[r, 1])
            i = int_probe(self.slots, self.shift, key, mix64(key))
            if self.slots[i].key == key:
                continue  # a repeated pair keeps its first (lowest) rank
            self.slots[i].key = key
            self.slots[i].rank = <token_t>r
            self.slots[i].new_id = merges[r, 2]

    cdef inline token_t _rank(self, token_t left, token_t right, token_t* new_id) noexcept nogil:
        # NO_RANK (and new id -1) for a pair that is not a merge: the free slot's payload.
        cdef pair_t key = make_pair(left, right)
        cdef const RankSlot* slot = &self.slots[int_probe(self.slots, self.shift, key, mix64(key))]
        new_id[0] = slot.new_id
        return slot.rank

    cdef Py_ssize_t _merge_short(self, token_t* w, Py_ssize_t n) noexcept nogil:
        # ranks[i], ids[i]: rank and result of the pair (w[i], w[i + 1]); only the two pairs next to
        # a merge change, so each merge costs one scan for the minimum and two lookups.
        cdef token_t ranks[SHORT_WORD]
        cdef token_t ids[SHORT_WORD]
        cdef Py_ssize_t i, best_i
        cdef token_t best
        for i in range(n - 1):
            ranks[i] = self._rank(w[i], w[i + 1], &ids[i])
        while n > 1:
            best = NO_RANK
            best_i = -1
            for i in range(n - 1):
                if ranks[i] < best:
                    best = ranks[i]
                    best_i = i
            if best_i < 0:
                break
            w[best_i] = ids[best_i]
            for i in range(best_i + 1, n - 1):
                w[i] = w[i + 1]
            for i in range(best_i + 1, n - 2):
                ranks[i] = ranks[i + 1]
                ids[i] = ids[i + 1]
            n -= 1
            if best_i > 0:
                ranks[best_i - 1] = self._rank(w[best_i - 1], w[best_i], &ids[best_i - 1])
            if best_i < n - 1:
                ranks[best_i] = self._rank(w[best_i], w[best_i + 1], &ids[best_i])
        return n

    cdef bint _merge_long(self, vector[token_t]& w, Py_ssize_t* budget) noexcept nogil:
        # The trainer's heap, reused: an entry (count=-rank, pair=position) pops the lowest rank
        # first and, among equal ranks, the leftmost position, which is the merge order.
        # True when a signal handler raised (w is then left half merged; see fasttok/_signals.pxd).
        cdef Py_ssize_t n = w.size()
        cdef vector[pos_t] nxt, prv
        cdef vector[HeapEntry] heap
        cdef HeapEntry top
        cdef Py_ssize_t i
        cdef pos_t p, q
        cdef token_t rank, new_id = 0
        nxt.resize(n)
        prv.resize(n)
        for i in range(n):
            if interrupted_after(budget, 1):
                return True
            nxt[i] = i + 1 if i + 1 < n else -1
            prv[i] = i - 1
            if i + 1 < n:
                rank = self._rank(w[i], w[i + 1], &new_id)
                if rank != NO_RANK:
                    heap_push(heap, count_entry(-<count_t>rank, <pair_t>i))
        while not heap.empty():
            if interrupted_after(budget, 1):
                return True
            top = heap_pop(heap)
            p = <pos_t>top.pair
            if w[p] < 0:
                continue  # p was absorbed into its left neighbour
            q = nxt[p]
            if q == -1:
                continue
            rank = self._rank(w[p], w[q], &new_id)
            if rank != -top.count:
                continue  # this pair changed since the entry was pushed
            w[p] = new_id
            w[q] = -1
            nxt[p] = nxt[q]
            if nxt[q] != -1:
                prv[nxt[q]] = p
                rank = self._rank(w[p], w[nxt[p]], &new_id)
                if rank != NO_RANK:
                    heap_push(heap, count_entry(-<count_t>rank, <pair_t>p))
            if prv[p] != -1:
                rank = self._rank(w[prv[p]], w[p], &new_id)
                if rank != NO_RANK:
                    heap_push(heap, count_entry(-<count_t>rank, <pair_t>prv[p]))
        q = 0
        for i in range(n):
            if w[i] >= 0:
                w[q] = w[i]
                q += 1
        w.resize(q)
        return False

    cdef bint merge_word(self, const token_t* symbols, Py_ssize_t n, vector[token_t]& out,
                         Py_ssize_t* budget) noexcept nogil:
        # True when interrupted (a long word checks for signals as it merges).
        cdef token_t buf[SHORT_WORD]
        cdef vector[token_t] w
        cdef Py_ssize_t m
        if n <= SHORT_WORD:
            memcpy(buf, symbols, n * sizeof(token_t))
            m = self._merge_short(buf, n)
            out.insert(out.end(), buf, buf + m)
            return False
        w.assign(symbols, symbols + n)
        if self._merge_long(w, budget):
            return True
        out.insert(out.end(), w.begin(), w.end())
        return False

    cdef bint _encode_piece(self, const unsigned char* key, Py_ssize_t key_bytes, const token_t* symbols,
                            Py_ssize_t n, _PieceCache cache, vector[token_t]& out,
                            Py_ssize_t* budget) noexcept nogil:
        # True when interrupted.
        cdef uint64_t h
        cdef size_t before
        if n == 1:
            out.push_back(symbols[0])
            return False
        if key_bytes > CACHE_MAX_KEY_BYTES:
            return self.merge_word(symbols, n, out, budget)
        if cache is None:
            return self.merge_word(symbols, n, out, budget)
        h = hash_bytes(key, key_bytes)
        if cache.get(key, key_bytes, h, out):
            return False
        before = out.size()
        if self.merge_word(symbols, n, out, budget):
            return True
        cache.put(key, key_bytes, h, out.data() + before, out.size() - before)
        return False

    def encode_words(self, const token_t[::1] symbols, const pos_t[::1] offsets):
        """Apply the merges to each word.

        symbols: (n_symbols,) base ids; offsets: (n_words + 1,) word boundaries into symbols
        Returns (ids, ends): ids (n_out,) int32 concatenated; word w's ids are ids[ends[w]:ends[w + 1]].
        """
        cdef vector[token_t] out
        cdef vector[pos_t] ends
        cdef Py_ssize_t n_words = offsets.shape[0] - 1
        cdef Py_ssize_t w, n, budget = CHECK_EVERY
        cdef bint stopped = False
        cdef _PieceCache cache = _PieceCache() if symbols.shape[0] > SMALL_INPUT else None
        if n_words <= 0 or symbols.shape[0] == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(max(n_words, 0) + 1, dtype=np.int64)
        if offsets[0] != 0 or offsets[n_words] != symbols.shape[0]:
            raise ValueError("offsets must run from 0 to len(symbols)")
        cdef const token_t* base = &symbols[0]
        with nogil:
            ends.reserve(n_words + 1)
            ends.push_back(0)
            for w in range(n_words):
                n = offsets[w + 1] - offsets[w]
                if self._encode_piece(<const unsigned char*>(base + offsets[w]), n * sizeof(token_t),
                                      base + offsets[w], n, cache, out, &budget):
                    stopped = True
                    break
                ends.push_back(out.size())
                if interrupted_after(&budget, n + 1):
                    stopped = True
                    break
        if stopped:
            raise_pending()
        return _to_array(out.data(), out.size()), _to_array(ends.data(), ends.size())

    def encode_text(self, bytes data not None, int pattern, const token_t[::1] byte_ids):
        """encode_texts for one text, without the lists around it: most callers encode one short string
        at a time, so this path allocates nothing but the output vector and the list it returns."""
        cdef vector[token_t] out, word
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data), bad, budget = CHECK_EVERY
        cdef const unsigned char* text = <const unsigned char*>PyBytes_AS_STRING(data)
        cdef const CharClasses* cc = char_classes()
        cdef _PieceCache cache = None
        if byte_ids.shape[0] != 256:
            raise ValueError("byte_ids must have 256 entries")
        out.reserve(n)  # never more ids than bytes
        if n <= SMALL_INPUT:
            # Short input: holding the GIL and skipping the piece cache is cheaper than either.
            bad = self._encode_text(text, n, pattern, &byte_ids[0], cc, None, out, word, &budget)
        else:
            cache = _PieceCache()
            with nogil:
                bad = self._encode_text(text, n, pattern, &byte_ids[0], cc, cache, out, word, &budget)
        _check_encoded(bad)
        return _id_list(out.data(), out.size())

    def encode_texts(self, list texts, int pattern, const token_t[::1] byte_ids):
        """Fused byte-level path: split each text with the core scanner, then merge each piece.

        texts: list of bytes, each a UTF-8 text; pattern: a scanner pattern id; byte_ids: (256,) the
        base id of each byte. Returns one list of ids per text, built here (no numpy arrays to slice).
        """
        cdef Py_ssize_t n_texts = len(texts), t, total = 0, bad = -1
        cdef vector[const unsigned char*] starts
        cdef const CharClasses* cc = char_classes()
        cdef vector[Py_ssize_t] lengths
        cdef vector[token_t] out
        cdef vector[pos_t] ends
        cdef _PieceCache cache = None
        cdef list result
        cdef object data
        if byte_ids.shape[0] != 256:
            raise ValueError("byte_ids must have 256 entries")
        starts.reserve(n_texts)
        lengths.reserve(n_texts)
        for t in range(n_texts):
            data = texts[t]
            if not isinstance(data, bytes):
                raise TypeError(f"texts must be bytes, not {type(data).__name__}")
            starts.push_back(<const unsigned char*>PyBytes_AS_STRING(data))
            lengths.push_back(PyBytes_GET_SIZE(data))
            total += lengths.back()
        if total <= SMALL_INPUT:
            bad = self._encode_utf8(starts.data(), lengths.data(), n_texts, pattern, &byte_ids[0], cc, None, out, ends)
        else:
            cache = _PieceCache()
            with nogil:
                bad = self._encode_utf8(starts.data(), lengths.data(), n_texts, pattern, &byte_ids[0], cc, cache,
                                        out, ends)
        _check_encoded(bad)
        result = PyList_New(n_texts)
        for t in range(n_texts):
            ids = _id_list(out.data() + ends[t], ends[t + 1] - ends[t])
            Py_INCREF(ids)
            PyList_SET_ITEM(result, t, ids)
        return result

    cdef Py_ssize_t _encode_utf8(self, const unsigned char** starts, const Py_ssize_t* lengths, Py_ssize_t n_texts,
                                 int pattern, const token_t* byte_ids, const CharClasses* cc, _PieceCache cache,
                                 vector[token_t]& out, vector[pos_t]& ends) noexcept nogil:
        # _encode_text for each text; ends: (n_texts + 1,) where each text's ids start in out, then the end.
        cdef vector[token_t] word
        cdef Py_ssize_t t, bad, budget = CHECK_EVERY
        ends.reserve(n_texts + 1)
        ends.push_back(0)
        for t in range(n_texts):
            bad = self._encode_text(starts[t], lengths[t], pattern, byte_ids, cc, cache, out, word, &budget)
            if bad != -1:
                return bad
            ends.push_back(out.size())
        return -1

    cdef Py_ssize_t _encode_text(self, const unsigned char* text, Py_ssize_t n, int pattern, const token_t* byte_ids,
                                 const CharClasses* cc, _PieceCache cache, vector[token_t]& out,
                                 vector[token_t]& word, Py_ssize_t* budget) noexcept nogil:
        # Appends the ids of one UTF-8 text to out (word: scratch for a piece's base ids). Returns -1, the
        # byte offset (within the text) of invalid UTF-8, or -2 when interrupted (see fasttok/_signals.pxd).
        # cache may be None: then every piece is merged afresh.
        cdef Py_ssize_t pos = 0, end, k
        while pos < n:
            end = next_piece(text, n, pos, pattern, cc)
            if end < 0:
                return -1 - end
            if end - pos == 1:
                out.push_back(byte_ids[text[pos]])
            else:
                word.resize(end - pos)
                for k in range(end - pos):
                    word[k] = byte_ids[text[pos + k]]
                if self._encode_piece(text + pos, end - pos, word.data(), end - pos, cache, out, budget):
                    return -2
            if interrupted_after(budget, end - pos):
                return -2
            pos = end
        return -1


cdef int _check_encoded(Py_ssize_t bad) except -1:
    """Raise what an _encode_text result of `bad` reports (nothing for -1)."""
    if bad == -2:
        raise_pending()
    if bad >= 0:
        raise ValueError(f"invalid UTF-8 at byte offset {bad}")
    return 0


cdef list _id_list(const token_t* ids, Py_ssize_t n):
    """A Python list of n ids, built directly (no numpy array and no .tolist())."""
    cdef list result = PyList_New(n)
    cdef object item
    cdef Py_ssize_t k
    for k in range(n):
        item = ids[k]
        Py_INCREF(item)
        PyList_SET_ITEM(result, k, item)
    return result


ctypedef fused _array_item:
    token_t
    pos_t


cdef object _to_array(const _array_item* data, size_t n):
    """A numpy copy of n items of a core vector: int32 for token ids, int64 for positions."""
    result = np.empty(n, dtype=np.int32 if _array_item is token_t else np.int64)
    cdef _array_item[::1] view = result
    if n:
        memcpy(&view[0], data, n * sizeof(_array_item))
    return result


# ----------------------------------------------------------------------------------------------
# Test hooks: each drives one kernel from Python.
# ----------------------------------------------------------------------------------------------

def _py_merge_word(MergeTable table not None, const token_t[::1] symbols, *, bint long_path=False):
    """The ids merge_word makes of one word; long_path forces the heap path (_merge_long) that words
    longer than SHORT_WORD take, so a test can check it against the scan path (_merge_short)."""
    cdef vector[token_t] out
    cdef vector[token_t] w
    cdef token_t buf[SHORT_WORD]
    cdef Py_ssize_t n = symbols.shape[0], m, budget = CHECK_EVERY
    if n == 0:
        return []
    if long_path:
        w.assign(&symbols[0], &symbols[0] + n)
        if table._merge_long(w, &budget):
            raise_pending()
        out.swap(w)
    elif n <= SHORT_WORD:
        memcpy(buf, &symbols[0], n * sizeof(token_t))
        m = table._merge_short(buf, n)
        out.assign(buf, buf + m)
    elif table.merge_word(&symbols[0], n, out, &budget):
        raise_pending()
    return [out[m] for m in range(<Py_ssize_t>out.size())]


def _py_piece_cache(list keys, list values):
    """Feed (key bytes, ids) pairs to one _PieceCache as the encoder does (get, and put on a miss);
    returns what get answered for each key afterwards, or None where it was not cached."""
    cdef _PieceCache cache = _PieceCache()
    cdef vector[token_t] out, ids
    cdef const unsigned char[::1] key
    cdef Py_ssize_t i, k
    cdef uint64_t h
    answers = []
    for i in range(len(keys)):
        key = keys[i]
        ids.clear()
        for k in values[i]:
            ids.push_back(k)
        out.clear()
        h = hash_bytes(&key[0], key.shape[0]) if key.shape[0] else hash_bytes(NULL, 0)
        if not cache.get(&key[0] if key.shape[0] else NULL, key.shape[0], h, out):
            cache.put(&key[0] if key.shape[0] else NULL, key.shape[0], h, ids.data(), ids.size())
    for i in range(len(keys)):
        key = keys[i]
        out.clear()
        h = hash_bytes(&key[0], key.shape[0]) if key.shape[0] else hash_bytes(NULL, 0)
        if cache.get(&key[0] if key.shape[0] else NULL, key.shape[0], h, out):
            answers.append([out[k] for k in range(<Py_ssize_t>out.size())])
        else:
            answers.append(None)
    return answers
