# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""WordPiece core: likelihood-scored vocabulary learning and linear-time longest-match encoding.

Mechanism only. Python (fasttok/wordpiece.py) does the policy: the corpus, normalisation of
non-ASCII text, special tokens, file formats. Text enters as UTF-32 code point arrays; ids leave as
int32 arrays. Every loop over text or over the pair table runs without the GIL.

Three parts:
  * `split_words`: BERT's clean-up, CJK spacing and basic pre-tokenizer (split on whitespace,
    isolate punctuation) in one pass over a per-code-point class table.
  * `WordCounter` / `WordPieceTrainer`: unique words with int64 counts, then merges chosen from a
    max-heap of pair scores with version stamps (the derivation and the stale-score proof are at
    `_score`).
  * `WordPieceEncoder`: greedy longest-match-first WordPiece in O(word length) per word, with a
    trie, failure links and failure pops (LinMaxMatch, Song et al. 2021, "Fast WordPiece
    Tokenization"), and a per-call cache of whole words.
"""
cimport cython
from cython.operator cimport dereference as deref
from libc.string cimport memcpy
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair as cpair
from libcpp.vector cimport vector

from fasttok._hash cimport (EMPTY_KEY, CacheSlot, IdSlot, WordSlot, bytes_grow, bytes_probe, hash_bytes,
                            hash_bytes_head, int_claim, int_init, int_probe, load_head, mix64, n_slots,
                            over_half, table_shift)
from fasttok._heap cimport ScoreEntry, heap_make, heap_pop, heap_push
from fasttok._signals cimport CHECK_EVERY, interrupted_after, raise_pending
from fasttok._types cimport (add_count, add_product, int32_t, int64_t, make_pair, pair_left, pair_right, uint8_t,
                             uint32_t, uint64_t)

import numpy as np

from fasttok.errors import CountOverflowError

cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void *buffer, Py_ssize_t size)

cdef extern from *:
    """
    #include <cmath>

    // F(c) - F(c - d) with F(x) = x log x, written without cancellation so it is accurate to a few
    // ulps of its own (not of F(c)) size. The pure-Python reference evaluates this exact expression.
    static inline double wp_gain(double c, double d) {
        if (d == 0.0) return 0.0;
        if (c == d) return c * std::log(c);
        return d * std::log(c) - (c - d) * std::log1p(-d / c);
    }
    """
    double wp_gain(double c, double d) noexcept nogil

cdef enum:
    # character classes: bit flags in the 0x110000-entry table built by fasttok.wordpiece
    WHITESPACE = 1  # ends a word
    ALONE = 2       # punctuation or CJK ideograph: a word of its own
    DROP = 4        # removed by BERT's clean-up (controls, NUL, U+FFFD)
    MARK = 8        # nonspacing mark (Mn): removed when stripping accents
    # a continuation unit's string starts with this code point (outside Unicode): "a" and "##a" differ
    CONT_MARK = 0x110000

cdef enum:
    CACHE_SLOTS = 1 << 16   # word cache slots (at most half are filled; the table never grows)
    CACHE_MAX_WORD = 32     # longer words skip the cache (so its 32-bit offsets cannot overflow)

cdef enum:
    FLAT_POPS = 16  # a trie node's failure pops are stored flat up to this many ids (see WordPieceEncoder._build)

cdef enum:
    SCORE_PMI = 0
    SCORE_LIKELIHOOD = 1

SCORE_MODES = {"pmi": SCORE_PMI, "likelihood": SCORE_LIKELIHOOD}


# ---------------------------------------------------------------------------------------------
# Pre-tokenization
# ---------------------------------------------------------------------------------------------

cdef void split_words(const uint32_t* text, Py_ssize_t n, const uint8_t* classes, bint lower_ascii,
                      bint strip_marks, vector[uint32_t]& buf, vector[int64_t]& spans) noexcept nogil:
    """BERT's clean-up, CJK spacing and pre-tokenizer in one pass, driven by the class table.

    Words go to `spans` as (start, length) pairs, their characters to `buf`. Dropped characters
    (controls; nonspacing marks when `strip_marks`) vanish without splitting a word; whitespace
    ends a word; punctuation and CJK ideographs are words of their own. `lower_ascii` lowercases
    A-Z (Python has already decomposed and lowercased any non-ASCII text).
    """
    cdef Py_ssize_t i
    cdef uint32_t c
    cdef uint8_t cls
    cdef int64_t start = 0
    buf.clear()
    spans.clear()
    for i in range(n):
        c = text[i]
        if lower_ascii and 65 <= c <= 90:
            c += 32
        cls = classes[c]
        if cls == 0:
            buf.push_back(c)
            continue
        if cls & DROP or (strip_marks and cls & MARK):
            continue
        if cls & MARK:  # a kept nonspacing mark is an ordinary character
            buf.push_back(c)
            continue
        if <int64_t>buf.size() > start:
            spans.push_back(start)
            spans.push_back(<int64_t>buf.size() - start)
        if cls & ALONE:
            spans.push_back(<int64_t>buf.size())
            spans.push_back(1)
            buf.push_back(c)
        start = buf.size()
    if <int64_t>buf.size() > start:
        spans.push_back(start)
        spans.push_back(<int64_t>buf.size() - start)


def _py_split_words(const uint32_t[::1] text, const uint8_t[::1] classes, bint lower_ascii, bint strip_marks):
    """Test hook: the words `split_words` finds, as a list of str."""
    cdef vector[uint32_t] buf
    cdef vector[int64_t] spans
    cdef size_t k
    _check_table(text, classes.shape[0])
    split_words(&text[0] if text.shape[0] else NULL, text.shape[0], &classes[0], lower_ascii, strip_marks,
                buf, spans)
    return [PyUnicode_FromKindAndData(4, &buf[spans[k]], spans[k + 1]) for k in range(0, spans.size(), 2)]


cdef int _check_table(const uint32_t[::1] text, Py_ssize_t n_classes) except -1:
    """The class table must cover every code point of the text (a 128-entry table: ASCII only)."""
    cdef Py_ssize_t i
    cdef uint32_t top = 0
    with nogil:
        for i in range(text.shape[0]):
            if text[i] > top:
                top = text[i]
    if text.shape[0] and top >= n_classes:
        raise ValueError(f"code point {top:#x} is beyond the {n_classes}-entry class table")
    return 0


cdef inline string _key(const uint32_t* chars, Py_ssize_t n) noexcept nogil:
    """A code point sequence as a byte string (4 bytes a code point): the hash key of a word or unit."""
    return string(<const char*>chars, n * 4)


cdef str _key_to_str(const string& key, Py_ssize_t skip):
    return PyUnicode_FromKindAndData(4, key.data() + 4 * skip, <Py_ssize_t>(key.size() // 4) - skip)


# ---------------------------------------------------------------------------------------------
# Word counting
# ---------------------------------------------------------------------------------------------

cdef class WordCounter:
    """Unique pre-tokenized words with int64 counts, filled from text chunks or single words.

    The table is the shared byte-string table of fasttok/_hash.pxd (WordSlot): a word's key is its
    code points as little-endian-or-native UTF-32 bytes, kept back to back in `arena`.

    max_word_chars >= 0: longer words are not counted, only tallied in `n_skipped` (a tokenizer whose
    max_input_chars_per_word is that limit encodes them as its unk token, so a trainer has nothing to
    learn from them, and one word of n characters would cost the trainer O(n) per merge)."""
    cdef vector[WordSlot] slots
    cdef int shift
    cdef vector[unsigned char] arena  # every distinct word's code points (4 bytes each)
    cdef size_t n_words
    cdef bint too_long                # a word of 2**30 code points or more was skipped
    cdef bint overflow                # a count would have exceeded 2**63 - 1 (it was left unchanged)
    cdef int64_t max_word_chars       # < 0: no limit
    cdef public int64_t n_skipped     # occurrences of words longer than max_word_chars
    cdef vector[uint32_t] buf
    cdef vector[int64_t] spans

    def __cinit__(self, int64_t max_word_chars=-1):
        self.max_word_chars = max_word_chars
        self.n_skipped = 0
        self.shift = table_shift(0, 1024)
        self.slots.resize(n_slots(self.shift))  # zeroed: every count is 0, i.e. free
        self.n_words = 0
        self.too_long = False
        self.overflow = False

    cdef void count_word(self, const uint32_t* chars, Py_ssize_t n, int64_t count,
                         Py_ssize_t readable) noexcept nogil:
        """Add count (> 0) to the word chars[0:n]; readable: code points readable from chars (>= n)."""
        if self.max_word_chars >= 0 and n > self.max_word_chars:
            self.n_skipped += count
            return
        cdef const unsigned char* key = <const unsigned char*>chars
        cdef Py_ssize_t n_bytes = 4 * n
        cdef uint64_t head = load_head(key, n_bytes, 4 * readable)
        cdef uint64_t h = hash_bytes_head(head, key, n_bytes)
        cdef WordSlot* slot = &self.slots[bytes_probe(self.slots, self.shift, self.arena.data(), key, n_bytes,
                                                      head, h)]
        if slot.count != 0:
            if not add_count(&slot.count, count):
                self.overflow = True
            return
        if (n_bytes >> 32) != 0:
            self.too_long = True
            return
        slot.head = head
        slot.count = count
        slot.offset = self.arena.size()
        slot.hash_high = <uint32_t>(h >> 32)
        slot.length = <uint32_t>n_bytes
        self.arena.insert(self.arena.end(), key, key + n_bytes)
        self.n_words += 1
        if over_half(self.n_words, self.slots.size()):
            bytes_grow(self.slots, &self.shift)

    cdef int _raise_if_too_long(self) except -1:
        if self.too_long:
            self.too_long = False
            raise ValueError("a word of 2**30 code points or more cannot be counted (it was skipped)")
        if self.overflow:
            self.overflow = False
            raise CountOverflowError("a word count would exceed 2**63 - 1 (counts are 64-bit); it was left "
                                     "at its last value")
        return 0

    def add_text(self, const uint32_t[::1] text, const uint8_t[::1] classes, bint lower_ascii, bint strip_marks):
        """Count the words of one text (prepared as for `split_words`)."""
        cdef size_t k
        cdef Py_ssize_t n = text.shape[0], budget = CHECK_EVERY
        cdef bint stopped = False
        if n == 0:
            return
        _check_table(text, classes.shape[0])
        with nogil:
            split_words(&text[0], n, &classes[0], lower_ascii, strip_marks, self.buf, self.spans)
            for k in range(0, self.spans.size(), 2):
                self.count_word(&self.buf[self.spans[k]], self.spans[k + 1], 1,
                                <Py_ssize_t>self.buf.size() - self.spans[k])
                if interrupted_after(&budget, self.spans[k + 1] + 1):
                    stopped = True
                    break
        if stopped:
            raise_pending()
        self._raise_if_too_long()

    def add_word(self, str word, int64_t count):
        """Add `count` occurrences of one word (a non-empty str)."""
        cdef bytes data = word.encode("utf-32-le")
        if not word or count <= 0:
            raise ValueError(f"add_word needs a non-empty word and a positive count, got {word!r}, {count}")
        self.count_word(<const uint32_t*><const char*>data, len(word), count, len(word))
        self._raise_if_too_long()

    def __len__(self):
        return self.n_words

    def items(self):
        """The (word, count) pairs, in no particular order."""
        out = []
        cdef size_t k
        for k in range(self.slots.size()):
            if self.slots[k].count != 0:
                out.append((PyUnicode_FromKindAndData(4, self.arena.data() + self.slots[k].offset,
                                                      self.slots[k].length // 4),
                            self.slots[k].count))
        return out


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

@cython.final
cdef class WordPieceTrainer:
    """Greedy vocabulary learning: repeatedly merge the adjacent unit pair with the best score.

    Units are strings; a word starts as its characters, the first an initial unit ("a"), the rest
    continuation units ("##a"). Merging left unit `a` with continuation unit `b` gives the unit whose
    text is a's text followed by b's, initial iff `a` is. Merges apply left to right without
    overlap, so in a run `x x x` the pair (x, x) is counted once: count(ab) is exactly the number of
    merges the step performs, which the exact likelihood score needs.

    Vocabulary ids (which also break ties): initial base units by code point, then continuation
    base units by code point, then each new unit in the order it is first made.
    """
    # units (strings that are, or could become, vocabulary units)
    cdef vector[string] ustr
    cdef vector[int64_t] ucount
    cdef vector[int32_t] uvid
    cdef vector[int32_t] vocab  # vocabulary id -> unit
    cdef unordered_map[string, int32_t] ustr_id
    cdef vector[vector[int32_t]] unit_pairs  # unit -> pairs that have it on either side
    cdef vector[vector[int32_t]] forming     # unit -> pairs whose merge makes it
    # words
    cdef vector[vector[int32_t]] wunits
    cdef vector[int64_t] wcount
    cdef vector[int32_t] wmark
    # pairs: (left unit, right unit) -> pair record, the shared integer table of fasttok/_hash.pxd
    cdef vector[IdSlot] pair_slots
    cdef int pair_shift
    cdef size_t n_pair_keys
    cdef IdSlot no_pair                      # a free slot: id -1
    cdef vector[int32_t] p_left, p_right, p_result, p_stamp, p_mark
    cdef vector[int64_t] p_count, p_scount
    cdef vector[double] p_score
    cdef vector[uint8_t] p_has, p_len_ok
    cdef vector[vector[int32_t]] p_words
    cdef vector[ScoreEntry] heap
    cdef vector[cpair[uint64_t, int64_t]] scratch  # reused by _word_pairs: no allocation per word
    # settings and state
    cdef int score_mode
    cdef int64_t min_frequency
    cdef int64_t max_token_length
    cdef int64_t n_units_total
    cdef int32_t step
    cdef vector[int32_t] merges  # (left vocab id, right vocab id, result vocab id) per merge
    cdef int64_t n_pops, n_stale, n_refreshed, n_rises, n_pushes, n_compactions
    cdef int64_t n_live  # pairs with a valid heap entry (p_has); the rest of the heap is stale

    def __init__(self, WordCounter counter not None, *, int score_mode, int64_t min_frequency,
                 int64_t max_token_length):
        if score_mode not in (SCORE_PMI, SCORE_LIKELIHOOD):
            raise ValueError(f"unknown score mode {score_mode}")
        self.score_mode = score_mode
        self.min_frequency = max(min_frequency, 1)
        self.max_token_length = max_token_length  # <= 0: no limit
        self.no_pair.key = EMPTY_KEY
        self.no_pair.id = -1
        # Every unit and pair count is at most the corpus's total number of characters: check that once.
        cdef int64_t n_chars = 0
        cdef size_t s
        for s in range(counter.slots.size()):
            if not add_product(&n_chars, counter.slots[s].count, counter.slots[s].length // 4):
                raise CountOverflowError("the word counts add up to more than 2**63 - 1 characters; the "
                                         "trainer's 64-bit unit and pair counts cannot hold them")
        with nogil:
            int_init(self.pair_slots, &self.pair_shift, 0, 1024, self.no_pair)
            self._build(counter)

    cdef int32_t _intern(self, const string& s) noexcept nogil:
        cdef unordered_map[string, int32_t].iterator it = self.ustr_id.find(s)
        if it != self.ustr_id.end():
            return deref(it).second
        cdef int32_t u = self.ustr.size()
        self.ustr_id[s] = u
        self.ustr.push_back(s)
        self.ucount.push_back(0)
        self.uvid.push_back(-1)
        self.unit_pairs.push_back(vector[int32_t]())
        self.forming.push_back(vector[int32_t]())
        return u

    cdef void _build(self, WordCounter counter) noexcept nogil:
        cdef unordered_map[uint32_t, int32_t] initial, cont
        cdef vector[uint32_t] chars
        cdef const uint32_t* w
        cdef Py_ssize_t n, i, k
        cdef size_t s
        cdef int64_t count
        cdef uint32_t mark_and_char[2]
        cdef vector[int32_t] units
        cdef cpair[uint32_t, int32_t] ch
        # base alphabet (the arena keeps whole code points at 4-byte aligned offsets)
        for s in range(counter.slots.size()):
            if counter.slots[s].count == 0:
                continue
            w = <const uint32_t*>(counter.arena.data() + counter.slots[s].offset)
            n = counter.slots[s].length // 4
            initial[w[0]] = 0
            for i in range(1, n):
                cont[w[i]] = 0
        for ch in initial:
            chars.push_back(ch.first)
        _sort_u32(chars)
        for i in range(<Py_ssize_t>chars.size()):
            k = self._intern(_key(&chars[i], 1))
            self.uvid[k] = self.vocab.size()
            self.vocab.push_back(k)
        chars.clear()
        for ch in cont:
            chars.push_back(ch.first)
        _sort_u32(chars)
        mark_and_char[0] = CONT_MARK
        for i in range(<Py_ssize_t>chars.size()):
            mark_and_char[1] = chars[i]
            k = self._intern(_key(mark_and_char, 2))
            self.uvid[k] = self.vocab.size()
            self.vocab.push_back(k)
        # words as unit sequences (their order is irrelevant: ties are broken by vocabulary ids)
        for s in range(counter.slots.size()):
            if counter.slots[s].count == 0:
                continue
            w = <const uint32_t*>(counter.arena.data() + counter.slots[s].offset)
            n = counter.slots[s].length // 4
            count = counter.slots[s].count
            units.clear()
            units.push_back(self._intern(_key(w, 1)))
            for i in range(1, n):
                mark_and_char[1] = w[i]
                units.push_back(self._intern(_key(mark_and_char, 2)))
            for i in range(n):
                self.ucount[units[i]] += count
            self.n_units_total += n * count
            self.wunits.push_back(units)
            self.wcount.push_back(count)
            self.wmark.push_back(-1)
        # pair counts and the pair -> words index
        cdef vector[cpair[uint64_t, int64_t]] local
        cdef int32_t p
        for k in range(<Py_ssize_t>self.wunits.size()):
            _word_pairs(self.wunits[k], local, self.scratch)
            for i in range(<Py_ssize_t>local.size()):
                p = self._pair(local[i].first)
                self.p_count[p] += local[i].second * self.wcount[k]
                self.p_words[p].push_back(k)
        self.step = 0
        for p in range(<int32_t>self.p_left.size()):
            self._rescore(p)

    cdef int32_t _pair(self, uint64_t key) noexcept nogil:
        """The pair record of (left, right) = key, created (and indexed) on first sight."""
        cdef size_t slot = int_claim(self.pair_slots, &self.pair_shift, &self.n_pair_keys, key, self.no_pair)
        if self.pair_slots[slot].id >= 0:
            return self.pair_slots[slot].id
        cdef int32_t left = pair_left(key), right = pair_right(key)
        cdef string merged = self.ustr[left]
        merged.append(self.ustr[right].substr(4))  # drop the right unit's CONT_MARK
        cdef int64_t n_chars = merged.size() // 4 - (1 if (<const uint32_t*>merged.data())[0] == CONT_MARK else 0)
        cdef int32_t result = self._intern(merged)
        cdef int32_t p = self.p_left.size()
        self.pair_slots[slot].id = p  # _intern above touched no pair slot: slot is still key's
        self.p_left.push_back(left)
        self.p_right.push_back(right)
        self.p_result.push_back(result)
        self.p_count.push_back(0)
        self.p_stamp.push_back(0)
        self.p_mark.push_back(-1)
        self.p_scount.push_back(0)
        self.p_score.push_back(0.0)
        self.p_has.push_back(0)
        cdef uint8_t len_ok = 1 if (self.max_token_length <= 0 or n_chars <= self.max_token_length) else 0
        self.p_len_ok.push_back(len_ok)
        self.p_words.push_back(vector[int32_t]())
        self.unit_pairs[left].push_back(p)
        if right != left:
            self.unit_pairs[right].push_back(p)
        self.forming[result].push_back(p)
        return p

    cdef double _score(self, int32_t p) noexcept nogil:
        """The score of merging pair p now.

        pmi:        m / (c_a * c_b), with m = count(ab), c_x the count of unit x.

        likelihood: the exact change in corpus log-likelihood under the unigram MLE model,
                    L = sum_u c_u log(c_u / N) = sum_u F(c_u) - F(N),   F(x) = x log x, N = sum_u c_u.
                    Merging every (non-overlapping) adjacent `a b` into t makes m merges, so
                    c_a -= m, c_b -= m (c_a -= 2m when a == b), c_t += m (t may already exist), N -= m:
                    dL = [F(N) - F(N-m)] + [F(c_t+m) - F(c_t)] - [F(c_a) - F(c_a-m)] - [F(c_b) - F(c_b-m)]
                    Each bracket is wp_gain(c, d) = F(c) - F(c-d), O(1).

        Why lazy refresh on pop is exact (the stale-score proof). A heap entry is refreshed
        explicitly whenever its score may have risen; every other stored score can only be too
        high, never too low:
          * A merge changes c_a, c_b (down), c_t (up), N (down) and the counts of pairs in the words
            it touched. Pairs whose count changed, pairs with a or b on either side, and (likelihood)
            pairs forming t are re-scored and pushed if their key rose.
          * Any other pair's pmi is unchanged, or falls (t on one side: c_t grew).
          * Any other pair's likelihood score moves only through N, c_t of pairs forming a or b
            (down), or c_x = c_t for pairs with t on a side (up). d/dN wp_gain(N, m) = log(N/(N-m)) > 0
            so the N term falls as N falls; d/dc wp_gain(c+m, m) = log((c+m)/c) > 0 so the forming
            term falls as c_t falls; wp_gain(c, m) rises with c so -wp_gain(c_t, m) falls as c_t rises.
        So every stored key is >= its pair's true key. On pop the key is recomputed: if equal, it is
        the true key of a pair whose key is >= every stored key >= every true key, i.e. the exact
        argmax; if lower, the entry is pushed back fresh. `n_rises` counts recomputed keys above the
        stored one, which the proof says never happens (a test checks it stays 0).
        """
        cdef double m = <double>self.p_count[p]
        cdef int32_t a = self.p_left[p], b = self.p_right[p]
        cdef double ca = <double>self.ucount[a], cb = <double>self.ucount[b]
        if self.score_mode == SCORE_PMI:
            return m / (ca * cb)
        cdef double ct = <double>self.ucount[self.p_result[p]]
        cdef double n = <double>self.n_units_total
        if a == b:
            return wp_gain(n, m) + wp_gain(ct + m, m) - wp_gain(ca, 2.0 * m)
        return wp_gain(n, m) + wp_gain(ct + m, m) - wp_gain(ca, m) - wp_gain(cb, m)

    cdef inline bint _eligible(self, int32_t p) noexcept nogil:
        return self.p_count[p] >= self.min_frequency and self.p_len_ok[p]

    cdef void _push(self, int32_t p, double score) noexcept nogil:
        cdef ScoreEntry e
        self.p_stamp[p] += 1
        self.p_score[p] = score
        self.p_scount[p] = self.p_count[p]
        if not self.p_has[p]:
            self.p_has[p] = 1
            self.n_live += 1
        e.score = score
        e.count = self.p_count[p]
        e.left = self.uvid[self.p_left[p]]
        e.right = self.uvid[self.p_right[p]]
        e.pair = p
        e.stamp = self.p_stamp[p]
        heap_push(self.heap, e)
        self.n_pushes += 1
        # Exact pmi re-pushes every pair of a merged unit, so stale entries pile up; once they
        # outnumber live ones 3 to 1, rebuild the heap from live entries (O(pairs), amortised O(1)).
        if self.heap.size() > 4 * <size_t>self.n_live + 4096:
            self._compact()

    cdef void _compact(self) noexcept nogil:
        cdef size_t i, kept = 0
        for i in range(self.heap.size()):
            if self.heap[i].stamp == self.p_stamp[self.heap[i].pair] and self.p_has[self.heap[i].pair]:
                self.heap[kept] = self.heap[i]
                kept += 1
        self.heap.resize(kept)
        heap_make(self.heap)
        self.n_compactions += 1

    cdef void _rescore(self, int32_t p) noexcept nogil:
        """Push a fresh entry if p's key rose above its stored one (a lower key is left lazy)."""
        if not self._eligible(p):
            return
        cdef double s = self._score(p)
        if (not self.p_has[p] or s > self.p_score[p]
                or (s == self.p_score[p] and self.p_count[p] > self.p_scount[p])):
            self._push(p, s)

    cdef int32_t _pop_best(self) noexcept nogil:
        """The pair with the best true key (-1 when no candidate is left)."""
        cdef ScoreEntry e
        cdef double s
        cdef int32_t p
        while not self.heap.empty():
            e = heap_pop(self.heap)
            self.n_pops += 1
            p = e.pair
            if e.stamp != self.p_stamp[p] or not self.p_has[p]:
                self.n_stale += 1
                continue
            if not self._eligible(p):
                self.p_has[p] = 0
                self.n_live -= 1
                continue
            s = self._score(p)
            if s == e.score and self.p_count[p] == e.count:
                self.p_has[p] = 0
                self.n_live -= 1
                return p
            if s > e.score or (s == e.score and self.p_count[p] > e.count):
                self.n_rises += 1
            else:
                self.n_refreshed += 1
            self._push(p, s)
        return -1

    cdef void _apply(self, int32_t p) noexcept nogil:
        cdef int32_t a = self.p_left[p], b = self.p_right[p], t = self.p_result[p]
        cdef int32_t w, q
        cdef int64_t f, k, delta
        cdef size_t j, i, x, y
        cdef vector[cpair[uint64_t, int64_t]] old, new
        cdef vector[int32_t] merged
        cdef vector[int32_t] touched
        cdef vector[int32_t]* units
        self.step += 1
        if self.uvid[t] < 0:
            self.uvid[t] = self.vocab.size()
            self.vocab.push_back(t)
        self.merges.push_back(self.uvid[a])
        self.merges.push_back(self.uvid[b])
        self.merges.push_back(self.uvid[t])
        j = 0
        while j < self.p_words[p].size():
            w = self.p_words[p][j]
            j += 1
            if self.wmark[w] == self.step:
                continue
            self.wmark[w] = self.step
            units = &self.wunits[w]
            # merge left to right without overlap
            merged.clear()
            k = 0
            i = 0
            while i < units.size():
                if i + 1 < units.size() and deref(units)[i] == a and deref(units)[i + 1] == b:
                    merged.push_back(t)
                    k += 1
                    i += 2
                else:
                    merged.push_back(deref(units)[i])
                    i += 1
            if k == 0:
                continue
            f = self.wcount[w]
            _word_pairs(deref(units), old, self.scratch)
            _word_pairs(merged, new, self.scratch)
            units.swap(merged)
            self.ucount[a] -= f * k
            self.ucount[b] -= f * k
            self.ucount[t] += f * k
            self.n_units_total -= f * k
            # both lists are sorted by pair key: walk them together
            x = 0
            y = 0
            while x < old.size() or y < new.size():
                if y == new.size() or (x < old.size() and old[x].first < new[y].first):
                    q = self._pair(old[x].first)
                    delta = -old[x].second
                    x += 1
                elif x == old.size() or new[y].first < old[x].first:
                    q = self._pair(new[y].first)
                    delta = new[y].second
                    self.p_words[q].push_back(w)
                    y += 1
                else:
                    q = self._pair(old[x].first)
                    delta = new[y].second - old[x].second
                    x += 1
                    y += 1
                if delta != 0:
                    self.p_count[q] += delta * f
                    if self.p_mark[q] != self.step:
                        self.p_mark[q] = self.step
                        touched.push_back(q)
        self.p_words[p].clear()
        # re-score every pair whose key may have risen (see _score)
        for j in range(touched.size()):
            self._rescore(touched[j])
        self._rescore_list(a)
        if b != a:
            self._rescore_list(b)
        if self.score_mode == SCORE_LIKELIHOOD:
            for j in range(self.forming[t].size()):
                q = self.forming[t][j]
                if self.p_mark[q] != self.step:
                    self.p_mark[q] = self.step
                    self._rescore(q)

    cdef void _rescore_list(self, int32_t u) noexcept nogil:
        cdef size_t j
        cdef int32_t q
        for j in range(self.unit_pairs[u].size()):
            q = self.unit_pairs[u][j]
            if self.p_mark[q] != self.step:
                self.p_mark[q] = self.step
                self._rescore(q)

    def merge(self, int64_t n_new_tokens):
        """Merge until `n_new_tokens` new units joined the vocabulary; returns how many did (fewer
        only when no pair is left to merge)."""
        cdef int64_t done = 0
        cdef int32_t p
        cdef size_t before
        cdef Py_ssize_t budget = CHECK_EVERY, work
        cdef bint stopped = False
        with nogil:
            while done < n_new_tokens:
                p = self._pop_best()
                if p < 0:
                    break
                work = <Py_ssize_t>self.p_words[p].size() + 1
                before = self.vocab.size()
                self._apply(p)
                done += <int64_t>(self.vocab.size() - before)
                if interrupted_after(&budget, work):
                    stopped = True
                    break
        if stopped:
            raise_pending()
        return done

    def vocab_units(self, size_t start=0):
        """The vocabulary from id `start` on, in id order, as (text, is_continuation) pairs."""
        out = []
        cdef size_t i
        cdef const uint32_t* data
        for i in range(start, self.vocab.size()):
            data = <const uint32_t*>self.ustr[self.vocab[i]].data()
            if data[0] == CONT_MARK:
                out.append((_key_to_str(self.ustr[self.vocab[i]], 1), True))
            else:
                out.append((_key_to_str(self.ustr[self.vocab[i]], 0), False))
        return out

    def merges_made(self):
        """Every merge so far as (left id, right id, result id), vocabulary ids."""
        return [(self.merges[i], self.merges[i + 1], self.merges[i + 2]) for i in range(0, self.merges.size(), 3)]

    def stats(self):
        return {"n_merges": self.step, "n_pops": self.n_pops, "n_stale": self.n_stale,
                "n_refreshed": self.n_refreshed, "n_rises": self.n_rises, "n_pushes": self.n_pushes,
                "n_compactions": self.n_compactions,
                "n_pairs": self.p_left.size(), "n_words": self.wunits.size()}


cdef void _sort_u32(vector[uint32_t]& v) noexcept nogil:
    # insertion sort would do for small alphabets, but alphabets of CJK corpora are large
    _std_sort_u32(v.begin(), v.end())


cdef extern from "<algorithm>" namespace "std" nogil:
    void _std_sort_u32 "std::sort"(vector[uint32_t].iterator, vector[uint32_t].iterator)
    void _std_sort_pairs "std::sort"(vector[cpair[uint64_t, int64_t]].iterator,
                                    vector[cpair[uint64_t, int64_t]].iterator)


cdef void _word_pairs(const vector[int32_t]& u, vector[cpair[uint64_t, int64_t]]& out,
                      vector[cpair[uint64_t, int64_t]]& raw) noexcept nogil:
    """Pair counts of one word, sorted by key, one entry per pair.

    Distinct neighbours count once per adjacency; a maximal run of k equal units counts
    floor(k / 2) for (x, x), the number of merges left-to-right merging performs on it.
    """
    cdef size_t i, j, n = u.size()
    cdef uint64_t key
    out.clear()
    raw.clear()
    if n < 2:
        return
    i = 0
    while i + 1 < n:
        if u[i] != u[i + 1]:
            raw.push_back(cpair[uint64_t, int64_t](make_pair(u[i], u[i + 1]), 1))
            i += 1
        else:
            j = i
            while j < n and u[j] == u[i]:
                j += 1
            raw.push_back(cpair[uint64_t, int64_t](make_pair(u[i], u[i]), (j - i) // 2))
            i = j - 1  # the run's last unit pairs with what follows it
    _std_sort_pairs(raw.begin(), raw.end())
    cdef int64_t total
    i = 0
    while i < raw.size():
        key = raw[i].first
        total = 0
        while i < raw.size() and raw[i].first == key:
            total += raw[i].second
            i += 1
        out.push_back(cpair[uint64_t, int64_t](key, total))


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

@cython.final
cdef class WordPieceEncoder:
    """Greedy longest-match-first WordPiece over a fixed vocabulary, linear in the word length.

    Two tries share one node table: trie A (root 0) holds every token, matched at the start of a
    word; trie B (root 1) holds the continuation tokens with their prefix removed, matched
    everywhere else. Exactly HF's rule: at a non-initial position the candidate is prefix + text.

    For a node v (string s), fail[v] and pops[v] say what greedy matching does when s cannot be
    extended by the next character: it emits the tokens pops[v] (the longest-match tokens of s up to
    the point where the rest of s is itself a trie-B string) and continues at node fail[v] of trie B
    for that rest; fail[v] = -1 means some position matches nothing, so the word is [UNK]. Every
    failure transition emits at least one token and every goto consumes one character, so a word of
    n characters costs O(n + tokens emitted) = O(n) steps (Song et al. 2021, LinMaxMatch).
    """
    # the shared integer table of fasttok/_hash.pxd: (node << 21 | code point) -> child node
    cdef vector[IdSlot] slots
    cdef int shift
    cdef int32_t root_ascii[256]   # children of the two roots for ASCII characters: no probing
    # pops_len[v] ids; up to FLAT_POPS at pops[pops_start[v]:], else the pops of the pop_nodes_len[v]
    # nodes at pop_nodes[pops_start[v]:], concatenated (see _build)
    cdef vector[int32_t] tok, fail, pops_start, pops_len, pops, pop_nodes_len, pop_nodes
    cdef int32_t unk_id
    cdef int64_t max_chars
    cdef readonly bint use_cache

    def __init__(self, const uint32_t[::1] chars, const int64_t[::1] offsets, const int32_t[::1] ids,
                 const uint8_t[::1] trie, *, int32_t unk_id, int64_t max_chars, bint use_cache=True):
        """Token i has code points chars[offsets[i]:offsets[i+1]], id ids[i], and goes into trie
        A (trie[i] == 0) or B (trie[i] == 1, prefix already removed)."""
        cdef Py_ssize_t n_tokens = ids.shape[0], i, j
        cdef IdSlot empty
        self.unk_id = unk_id
        self.max_chars = max_chars  # < 0: no limit
        self.use_cache = use_cache
        with nogil:
            # the table is sized for every character of every token (at most half full): it never grows
            empty.key = EMPTY_KEY
            empty.id = -1  # what child() reads for a missing edge
            int_init(self.slots, &self.shift, chars.shape[0] + 2, 16, empty)
            for i in range(256):
                self.root_ascii[i] = -1
            for i in range(2):
                self._new_node()
            self._build(chars, offsets, ids, trie, n_tokens)

    cdef int32_t _new_node(self) noexcept nogil:
        self.tok.push_back(-1)
        self.fail.push_back(-1)
        self.pops_start.push_back(0)
        self.pops_len.push_back(0)
        self.pop_nodes_len.push_back(0)
        return self.tok.size() - 1

    cdef inline int32_t child(self, int32_t node, uint32_t c) noexcept nogil:
        if node < 2 and c < 128:
            return self.root_ascii[node * 128 + c]
        cdef uint64_t key = (<uint64_t>node << 21) | c
        return self.slots[int_probe(self.slots, self.shift, key, mix64(key))].id

    cdef void _set_child(self, int32_t node, uint32_t c, int32_t v) noexcept nogil:
        # Only for an edge that does not exist yet: the probe ends on a free slot.
        cdef uint64_t key = (<uint64_t>node << 21) | c
        cdef size_t i = int_probe(self.slots, self.shift, key, mix64(key))
        if node < 2 and c < 128:
            self.root_ascii[node * 128 + c] = v
        self.slots[i].key = key
        self.slots[i].id = v

    cdef void _build(self, const uint32_t[::1] chars, const int64_t[::1] offsets, const int32_t[::1] ids,
                     const uint8_t[::1] trie, Py_ssize_t n_tokens) noexcept nogil:
        cdef Py_ssize_t i, j
        cdef int32_t u, v, z
        cdef vector[int32_t] parent, depth, order
        cdef vector[uint32_t] edge
        parent.push_back(-1); parent.push_back(-1)
        depth.push_back(0); depth.push_back(0)
        edge.push_back(0); edge.push_back(0)
        for i in range(n_tokens):
            if offsets[i + 1] == offsets[i]:
                continue
            u = trie[i]
            for j in range(offsets[i], offsets[i + 1]):
                v = self.child(u, chars[j])
                if v < 0:
                    v = self._new_node()
                    self._set_child(u, chars[j], v)
                    parent.push_back(u)
                    depth.push_back(depth[u] + 1)
                    edge.push_back(chars[j])
                u = v
            if self.tok[u] < 0:  # the first id wins for a duplicated token (Python rejects those)
                self.tok[u] = ids[i]
        # nodes by depth (counting sort): a failure link always points to a shallower node
        cdef int32_t n_nodes = self.tok.size(), max_depth = 0
        for v in range(n_nodes):
            if depth[v] > max_depth:
                max_depth = depth[v]
        cdef vector[int32_t] bucket_start
        bucket_start.assign(max_depth + 2, 0)
        for v in range(n_nodes):
            bucket_start[depth[v] + 1] += 1
        for i in range(1, max_depth + 2):
            bucket_start[i] += bucket_start[i - 1]
        order.assign(n_nodes, 0)
        for v in range(n_nodes):
            order[bucket_start[depth[v]]] = v
            bucket_start[depth[v]] += 1
        # Failure pops (the recurrence of Song et al.): pops(v) = pops(parent) ++ pops(z1) ++ ... ++
        # pops(zk), z1 = fail[parent] and each next z = fail[z] while z has no edge for v's character.
        # Copying those lists per node costs O(depth) per node, O(L**2) for one token of length L, so
        # a node's pops are stored by size: up to FLAT_POPS ids flat in `pops`; longer, as the list of
        # nodes (parent, z1, ..., zk) whose pops concatenate to them, in `pop_nodes`; and when k == 0,
        # as its parent's storage, shared. The z steps sum to O(total length) as in Aho-Corasick (each
        # step lowers the failure depth, each character raises it by at most one), so the build is
        # linear in the vocabulary's total length. Every node with a failure link has non-empty pops
        # and every node list has at least two entries, so expanding one costs O(ids emitted).
        cdef vector[int32_t] chain
        cdef int64_t total
        cdef size_t x
        for i in range(n_nodes):
            v = order[i]
            if v < 2:
                continue
            if self.tok[v] >= 0:
                self.pops_start[v] = self.pops.size()
                self.pops_len[v] = 1
                self.pops.push_back(self.tok[v])
                self.fail[v] = 1
                continue
            u = parent[v]
            chain.clear()
            chain.push_back(u)
            total = self.pops_len[u]
            z = self.fail[u]
            while z >= 0 and self.child(z, edge[v]) < 0:
                chain.push_back(z)
                total += self.pops_len[z]
                z = self.fail[z]
            if z < 0:
                continue  # no failure link: failing here means [UNK] (pops_len stays 0)
            self.fail[v] = self.child(z, edge[v])
            self.pops_len[v] = <int32_t>total  # at most the node's depth
            if chain.size() == 1:
                self.pops_start[v] = self.pops_start[u]
                self.pop_nodes_len[v] = self.pop_nodes_len[u]
            elif total <= FLAT_POPS:  # then every part is flat too
                self.pops_start[v] = self.pops.size()
                for x in range(chain.size()):
                    z = chain[x]
                    for j in range(self.pops_len[z]):
                        self.pops.push_back(self.pops[self.pops_start[z] + j])
            else:
                self.pops_start[v] = self.pop_nodes.size()
                self.pop_nodes_len[v] = chain.size()
                self.pop_nodes.insert(self.pop_nodes.end(), chain.begin(), chain.end())

    cdef void _pop_long(self, int32_t u, vector[int32_t]& out) noexcept nogil:
        """Append the pops of a node whose pops are stored as a node list (more than FLAT_POPS ids)."""
        cdef vector[int32_t] stack
        cdef int32_t x, k
        stack.push_back(u)
        while not stack.empty():
            x = stack.back()
            stack.pop_back()
            if self.pops_len[x] <= FLAT_POPS:
                for k in range(self.pops_len[x]):
                    out.push_back(self.pops[self.pops_start[x] + k])
            else:
                for k in range(self.pop_nodes_len[x] - 1, -1, -1):
                    stack.push_back(self.pop_nodes[self.pops_start[x] + k])

    cdef inline int32_t _fail(self, int32_t u, size_t mark, vector[int32_t]& out) noexcept nogil:
        """Follow node u's failure link: append the tokens it pops and return the node it leads to,
        or, when u has no link (the word cannot be spelt), replace the word's ids by [UNK] and return -1."""
        cdef int32_t k
        if self.fail[u] < 0:
            out.resize(mark)
            out.push_back(self.unk_id)
            return -1
        if self.pops_len[u] > FLAT_POPS:
            self._pop_long(u, out)
            return self.fail[u]
        for k in range(self.pops_len[u]):
            out.push_back(self.pops[self.pops_start[u] + k])
        return self.fail[u]

    cdef void encode_word(self, const uint32_t* w, Py_ssize_t n, vector[int32_t]& out) noexcept nogil:
        """Append the ids of one word (n >= 1 characters) to `out`."""
        cdef size_t mark = out.size()
        cdef int32_t u = 0, v
        cdef Py_ssize_t i
        if self.max_chars >= 0 and n > self.max_chars:
            out.push_back(self.unk_id)
            return
        i = 0
        while i < n:
            v = self.child(u, w[i])
            if v >= 0:
                u = v
                i += 1
                continue
            u = self._fail(u, mark, out)
            if u < 0:
                return
        while u != 1:  # the end of the word: pop what the last node still holds
            u = self._fail(u, mark, out)
            if u < 0:
                return

    def encode_word_py(self, str word):
        """Test hook: the ids of one word (no normalisation, no splitting)."""
        cdef vector[int32_t] out
        cdef bytes data = word.encode("utf-32-le")
        if word:
            self.encode_word(<const uint32_t*><const char*>data, len(word), out)
        return [out[i] for i in range(out.size())]

    def encode_texts(self, const uint32_t[::1] text, const int64_t[::1] text_offsets,
                     const uint8_t[::1] lower_ascii, const uint8_t[::1] classes, bint strip_marks,
                     bint as_lists=False):
        """Encode texts text[text_offsets[i]:text_offsets[i+1]] (prepared as for `split_words`, A-Z
        lowercased here when lower_ascii[i]); returns (ids int32, id_offsets int64) with text i's ids at
        ids[id_offsets[i]:id_offsets[i+1]]; with `as_lists`, a list of id lists instead."""
        cdef Py_ssize_t n_texts = text_offsets.shape[0] - 1, t
        cdef vector[int32_t] out
        cdef vector[int64_t] id_offsets
        cdef vector[uint32_t] buf
        cdef vector[int64_t] spans
        cdef size_t k
        cdef const uint32_t* base = &text[0] if text.shape[0] else NULL
        _check_table(text, classes.shape[0])
        # Word cache, local to this call (so threads share nothing): natural text repeats a few
        # thousand words most of the time, and a hit (hash + compare) is cheaper than the trie walk.
        # The shared byte-string table of fasttok/_hash.pxd (CacheSlot), keyed by the word's code
        # points as bytes; it stops taking words once half full. Sized by the call's text (a text of n
        # code points holds at most n words), up to CACHE_SLOTS: zeroing 2**16 slots for one short
        # sentence cost ten times the sentence's encoding.
        cdef vector[CacheSlot] cache
        cdef int cache_shift = table_shift(min(<size_t>text.shape[0], <size_t>(CACHE_SLOTS // 2)), 16)
        cdef size_t cache_capacity = n_slots(cache_shift) // 2
        cdef vector[uint32_t] cache_words
        cdef vector[int32_t] cache_ids
        cdef size_t n_cached = 0
        cdef CacheSlot* slot
        cdef uint64_t h
        cdef const uint32_t* word
        cdef int64_t n, start
        cdef Py_ssize_t budget = CHECK_EVERY
        cdef bint stopped = False
        id_offsets.push_back(0)
        with nogil:
            if self.use_cache:
                cache.resize(n_slots(cache_shift))  # zeroed: all free
            for t in range(n_texts):
                if text_offsets[t + 1] > text_offsets[t]:
                    split_words(base + text_offsets[t], text_offsets[t + 1] - text_offsets[t], &classes[0],
                                lower_ascii[t], strip_marks, buf, spans)
                    for k in range(0, spans.size(), 2):
                        word = &buf[spans[k]]
                        n = spans[k + 1]
                        if interrupted_after(&budget, n + 1):
                            stopped = True
                            break
                        if not self.use_cache or n > CACHE_MAX_WORD:
                            self.encode_word(word, n, out)
                            continue
                        h = hash_bytes(<const unsigned char*>word, 4 * n)
                        slot = &cache[bytes_probe(cache, cache_shift, <const unsigned char*>cache_words.data(),
                                                  <const unsigned char*>word, 4 * n, 0, h)]
                        if slot.key_length != 0:
                            out.insert(out.end(), cache_ids.begin() + slot.value_offset,
                                       cache_ids.begin() + slot.value_offset + slot.value_length)
                            continue
                        start = out.size()
                        self.encode_word(word, n, out)
                        if n_cached < cache_capacity:
                            n_cached += 1
                            slot.hash = h
                            slot.key_offset = <uint32_t>(4 * cache_words.size())
                            slot.key_length = <uint32_t>(4 * n)
                            slot.value_offset = <uint32_t>cache_ids.size()
                            slot.value_length = <uint32_t>(out.size() - start)
                            cache_words.insert(cache_words.end(), word, word + n)
                            cache_ids.insert(cache_ids.end(), out.begin() + start, out.end())
                if stopped:
                    break
                id_offsets.push_back(out.size())
        if stopped:
            raise_pending()
        if as_lists:  # one list of ids per text, built straight from the C++ buffer
            return [[out[k] for k in range(<size_t>id_offsets[t], <size_t>id_offsets[t + 1])]
                    for t in range(n_texts)]
        ids = np.empty(out.size(), dtype=np.int32)  # (n_ids,)
        cdef int32_t[::1] ids_view = ids
        if out.size():
            memcpy(&ids_view[0], out.data(), out.size() * sizeof(int32_t))
        offs = np.asarray(<int64_t[:id_offsets.size()]>id_offsets.data()).copy()  # (n_texts + 1,)
        return ids, offs



# ---------------------------------------------------------------------------------------------
# Test hooks: each drives one kernel from Python.
# ---------------------------------------------------------------------------------------------

def _py_word_pairs(units):
    """The pair counts `_word_pairs` finds in one word (a sequence of unit ids >= 0), as a list of
    ((left, right), count) sorted by pair."""
    cdef vector[int32_t] u
    cdef vector[cpair[uint64_t, int64_t]] out, raw
    cdef size_t i
    for x in units:
        u.push_back(x)
    _word_pairs(u, out, raw)
    return [((pair_left(out[i].first), pair_right(out[i].first)), out[i].second) for i in range(out.size())]


def _py_gain(double c, double d):
    """wp_gain(c, d) = F(c) - F(c - d) with F(x) = x log x, as the likelihood score evaluates it."""
    return wp_gain(c, d)


def _py_encode_word(WordPieceEncoder encoder not None, str word):
    """The ids encode_word gives one word (no normalisation, no splitting): the LinMaxMatch walk."""
    return encoder.encode_word_py(word)
