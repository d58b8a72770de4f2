# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""BPE mechanism on integer arrays: learning merges from a unique-word table, and applying them.

Python (fasttok/train.py, fasttok/tokenizer.py) decides what the symbols are; this module only sees
token ids. Both hot loops run without the GIL.
"""
import numpy as np

from cython.operator cimport dereference as deref, preincrement as inc
from libc.string cimport memcpy
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from fasttok._heap cimport HeapEntry, heap_pop, heap_push
from fasttok._types cimport count_t, make_pair, pair_left, pair_right, pair_t, pos_t, token_t


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

cdef class _MergeLearner:
    """State of one merge-learning run over a unique-word table.

    Each word is a doubly linked list of symbols inside one flat array; a merge rewrites the left
    symbol and unlinks the right one, so a word's head position never changes. Only the words listed
    under the merged pair are visited, and pair counts are updated locally around each occurrence.
    """
    cdef vector[token_t] sym            # (n_symbols,) current symbol at each position
    cdef vector[pos_t] nxt              # (n_symbols,) next live position in the word, or -1
    cdef vector[pos_t] prv              # (n_symbols,) previous live position, or -1
    cdef vector[pos_t] head             # (n_words,) first position of each word
    cdef vector[count_t] weight         # (n_words,) how often the word occurs in the corpus
    cdef vector[int] stamp              # (n_words,) last merge step that visited the word
    cdef unordered_map[pair_t, count_t] pair_count
    cdef unordered_map[pair_t, vector[int]] pair_words   # may hold stale or repeated word ids
    cdef vector[HeapEntry] heap
    cdef vector[pair_t] created          # pairs that gained count during the current merge
    cdef vector[count_t] length         # (n_tokens,) how many base symbols each token spans

    cdef void _add(self, pair_t key, count_t delta, int word) noexcept nogil:
        cdef count_t* c = &self.pair_count[key]
        if c[0] == 0:
            self.created.push_back(key)
        c[0] += delta
        cdef vector[int]* words = &self.pair_words[key]
        if words.empty() or words.back() != word:
            words.push_back(word)

    cdef void _sub(self, pair_t key, count_t delta) noexcept nogil:
        # operator[] yields a reference; `deref(it).second -= d` would update a copy.
        cdef count_t* c = &self.pair_count[key]
        c[0] -= delta

    cdef void _merge_word(self, int word, token_t left, token_t right, token_t new_id) noexcept nogil:
        cdef pos_t p = self.head[word]
        cdef pos_t q, before, after
        cdef count_t w = self.weight[word]
        while p != -1:
            q = self.nxt[p]
            if q == -1:
                break
            if self.sym[p] == left and self.sym[q] == right:
                before = self.prv[p]
                after = self.nxt[q]
                if before != -1:
                    self._sub(make_pair(self.sym[before], left), w)
                    self._add(make_pair(self.sym[before], new_id), w, word)
                if after != -1:
                    self._sub(make_pair(right, self.sym[after]), w)
                    self._add(make_pair(new_id, self.sym[after]), w, word)
                self._sub(make_pair(left, right), w)
                self.sym[p] = new_id
                self.nxt[p] = after
                if after != -1:
                    self.prv[after] = p
                p = after
            else:
                p = q

    cdef int run(self, token_t first_id, int n_merges, count_t min_frequency,
                 count_t max_token_length, token_t* out, object progress) except -1:
        cdef HeapEntry top
        cdef unordered_map[pair_t, count_t].iterator it
        cdef count_t current
        cdef token_t left, right, new_id
        cdef vector[int] words
        cdef size_t i
        cdef int done = 0
        cdef int report_every = max(1, n_merges // 100)
        cdef bint has_progress = progress is not None
        while done < n_merges:
            with nogil:
                while done < n_merges and not self.heap.empty():
                    top = heap_pop(self.heap)
                    it = self.pair_count.find(top.pair)
                    current = deref(it).second if it != self.pair_count.end() else 0
                    if current != top.count:
                        # Counts of existing pairs only fall, so a stale entry is too high: re-file it.
                        if current > 0:
                            heap_push(self.heap, current, top.pair)
                        continue
                    if current < min_frequency:
                        self.heap.clear()
                        break
                    left = pair_left(top.pair)
                    right = pair_right(top.pair)
                    if max_token_length > 0 and self.length[left] + self.length[right] > max_token_length:
                        continue  # lengths never change, so this pair can never be merged
                    new_id = first_id + done
                    out[2 * done] = left
                    out[2 * done + 1] = right
                    self.length.push_back(self.length[left] + self.length[right])
                    words.swap(self.pair_words[top.pair])
                    self.pair_words.erase(top.pair)
                    self.created.clear()
                    for i in range(words.size()):
                        if self.stamp[words[i]] != done:
                            self.stamp[words[i]] = done
                            self._merge_word(words[i], left, right, new_id)
                    words.clear()
                    self.pair_count.erase(top.pair)
                    for i in range(self.created.size()):
                        it = self.pair_count.find(self.created[i])
                        if deref(it).second > 0:
                            heap_push(self.heap, deref(it).second, self.created[i])
                    done += 1
                    if has_progress and done % report_every == 0:
                        break
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
    cdef token_t first_id = <token_t>base_length.shape[0]
    cdef _MergeLearner st = _MergeLearner()
    cdef Py_ssize_t n = symbols.shape[0]
    cdef Py_ssize_t w, p
    cdef pos_t start, end
    cdef object out = np.zeros((max(n_merges, 0), 2), dtype=np.int32)
    cdef token_t[:, ::1] out_view = out
    for p in range(first_id):
        st.length.push_back(base_length[p])
    with nogil:
        st.sym.assign(&symbols[0] if n > 0 else NULL, (&symbols[0] + n) if n > 0 else NULL)
        st.nxt.resize(n)
        st.prv.resize(n)
        st.head.resize(n_words)
        st.weight.resize(n_words)
        st.stamp.assign(n_words, -1)
        for w in range(n_words):
            start = offsets[w]
            end = offsets[w + 1]
            st.head[w] = start if end > start else -1
            st.weight[w] = counts[w]
            for p in range(start, end):
                st.prv[p] = p - 1 if p > start else -1
                st.nxt[p] = p + 1 if p + 1 < end else -1
                if p > start:
                    st._add(make_pair(symbols[p - 1], symbols[p]), counts[w], <int>w)
        for p in range(<Py_ssize_t>st.created.size()):
            heap_push(st.heap, st.pair_count[st.created[p]], st.created[p])
        st.created.clear()
    if n_merges <= 0:
        return out[:0]
    done = st.run(first_id, n_merges, min_frequency, max_token_length, &out_view[0, 0], progress)
    return out[:done]


# ----------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------

# Words up to this many symbols use the plain O(n * merges-applied) scan, which beats a heap on the
# short pieces that make up almost all text; longer ones (think "a" * 1_000_000) use the heap.
DEF SHORT_WORD = 48
DEF CACHE_MAX_SYMBOLS = 64
DEF NO_RANK = 0x7FFFFFFF

cdef struct RankEntry:
    token_t rank
    pos_t pos


cdef inline bint _rank_first(const RankEntry& a, const RankEntry& b) noexcept nogil:
    return a.rank < b.rank or (a.rank == b.rank and a.pos < b.pos)


cdef inline void _rank_push(vector[RankEntry]& heap, token_t rank, pos_t pos) noexcept nogil:
    cdef RankEntry e
    e.rank = rank
    e.pos = pos
    heap.push_back(e)
    cdef size_t i = heap.size() - 1
    cdef size_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not _rank_first(e, heap[parent]):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = e


cdef inline RankEntry _rank_pop(vector[RankEntry]& heap) noexcept nogil:
    cdef RankEntry top = heap[0]
    cdef RankEntry last = heap.back()
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
        if child + 1 < n and _rank_first(heap[child + 1], heap[child]):
            child += 1
        if not _rank_first(heap[child], last):
            break
        heap[i] = heap[child]
        i = child
    heap[i] = last
    return top


cdef class MergeTable:
    """Immutable (left, right) -> (rank, new id) table that applies merges to words of base ids.

    Lower rank merges first; among equal ranks (the same pair twice) the leftmost first, which is
    exactly the order the trainer applied them in.
    """
    cdef unordered_map[pair_t, pair[token_t, token_t]] table
    cdef readonly Py_ssize_t n_merges

    def __init__(self, const token_t[:, ::1] merges):
        """merges: (n_merges, 3) rows of (left, right, new_id) in rank order."""
        cdef Py_ssize_t r
        self.n_merges = merges.shape[0]
        self.table.reserve(merges.shape[0])
        for r in range(merges.shape[0]):
            self.table[make_pair(merges[r, 0], merges[r, 1])] = pair[token_t, token_t](<token_t>r, merges[r, 2])

    cdef inline token_t _rank(self, token_t left, token_t right, token_t* new_id) noexcept nogil:
        cdef unordered_map[pair_t, pair[token_t, token_t]].iterator it = self.table.find(make_pair(left, right))
        if it == self.table.end():
            return NO_RANK
        new_id[0] = deref(it).second.second
        return deref(it).second.first

    cdef void _merge_short(self, vector[token_t]& w) noexcept nogil:
        cdef Py_ssize_t i, best_i
        cdef token_t rank, best, new_id, best_id = 0
        while w.size() > 1:
            best = NO_RANK
            best_i = -1
            for i in range(<Py_ssize_t>w.size() - 1):
                rank = self._rank(w[i], w[i + 1], &new_id)
                if rank < best:
                    best = rank
                    best_i = i
                    best_id = new_id
            if best_i < 0:
                return
            w[best_i] = best_id
            w.erase(w.begin() + best_i + 1)

    cdef void _merge_long(self, vector[token_t]& w) noexcept nogil:
        cdef Py_ssize_t n = w.size()
        cdef vector[pos_t] nxt, prv
        cdef vector[RankEntry] heap
        cdef RankEntry top
        cdef Py_ssize_t i
        cdef pos_t p, q
        cdef token_t rank, new_id = 0
        nxt.resize(n)
        prv.resize(n)
        for i in range(n):
            nxt[i] = i + 1 if i + 1 < n else -1
            prv[i] = i - 1
            if i + 1 < n:
                rank = self._rank(w[i], w[i + 1], &new_id)
                if rank != NO_RANK:
                    _rank_push(heap, rank, i)
        while not heap.empty():
            top = _rank_pop(heap)
            p = top.pos
            if w[p] < 0:
                continue  # p was absorbed into its left neighbour
            q = nxt[p]
            if q == -1:
                continue
            rank = self._rank(w[p], w[q], &new_id)
            if rank != top.rank:
                continue  # this pair changed since the entry was pushed
            w[p] = new_id
            w[q] = -1
            nxt[p] = nxt[q]
            if nxt[q] != -1:
                prv[nxt[q]] = p
                rank = self._rank(w[p], w[nxt[p]], &new_id)
                if rank != NO_RANK:
                    _rank_push(heap, rank, p)
            if prv[p] != -1:
                rank = self._rank(w[prv[p]], w[p], &new_id)
                if rank != NO_RANK:
                    _rank_push(heap, rank, prv[p])
        # compact the survivors in order
        q = 0
        for i in range(n):
            if w[i] >= 0:
                w[q] = w[i]
                q += 1
        w.resize(q)

    cdef void merge_word(self, const token_t* symbols, Py_ssize_t n, vector[token_t]& out) noexcept nogil:
        cdef vector[token_t] w
        w.assign(symbols, symbols + n)
        if n <= SHORT_WORD:
            self._merge_short(w)
        else:
            self._merge_long(w)
        out.insert(out.end(), w.begin(), w.end())

    cdef void encode_words_nogil(self, const token_t* symbols, const pos_t* offsets, Py_ssize_t n_words,
                                 vector[token_t]& out, vector[pos_t]& ends) noexcept nogil:
        # The cache lives for one call: calls on other threads never share mutable state.
        cdef unordered_map[string, vector[token_t]] cache
        cdef unordered_map[string, vector[token_t]].iterator hit
        cdef Py_ssize_t w, n
        cdef size_t before
        cdef string key
        ends.reserve(n_words + 1)
        ends.push_back(0)
        for w in range(n_words):
            n = offsets[w + 1] - offsets[w]
            if n == 1:
                out.push_back(symbols[offsets[w]])
            elif n > CACHE_MAX_SYMBOLS:
                self.merge_word(symbols + offsets[w], n, out)
            else:
                key.assign(<const char*>(symbols + offsets[w]), n * sizeof(token_t))
                hit = cache.find(key)
                if hit != cache.end():
                    out.insert(out.end(), deref(hit).second.begin(), deref(hit).second.end())
                else:
                    before = out.size()
                    self.merge_word(symbols + offsets[w], n, out)
                    cache[key] = vector[token_t](out.begin() + before, out.end())
            ends.push_back(out.size())

    def encode_words(self, const token_t[::1] symbols, const pos_t[::1] offsets):
        """Apply the merges to each word.

        symbols: (n_symbols,) base ids; offsets: (n_words + 1,) word boundaries into symbols
        Returns (ids, ends): ids (n_out,) int32 concatenated; word w's ids are ids[ends[w]:ends[w + 1]].
        """
        cdef vector[token_t] out
        cdef vector[pos_t] ends
        cdef Py_ssize_t n_words = offsets.shape[0] - 1
        if n_words <= 0 or symbols.shape[0] == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(max(n_words, 0) + 1, dtype=np.int64)
        if offsets[0] != 0 or offsets[n_words] != symbols.shape[0]:
            raise ValueError("offsets must run from 0 to len(symbols)")
        with nogil:
            self.encode_words_nogil(&symbols[0], &offsets[0], n_words, out, ends)
        return _to_array(out), _to_array64(ends)


cdef object _to_array(vector[token_t]& v):
    result = np.empty(v.size(), dtype=np.int32)
    cdef token_t[::1] view = result
    if v.size():
        memcpy(&view[0], v.data(), v.size() * sizeof(token_t))
    return result


cdef object _to_array64(vector[pos_t]& v):
    result = np.empty(v.size(), dtype=np.int64)
    cdef pos_t[::1] view = result
    if v.size():
        memcpy(&view[0], v.data(), v.size() * sizeof(pos_t))
    return result
