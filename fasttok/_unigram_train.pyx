# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Unigram training core: forward-backward expected counts and Viterbi counts over word lattices.

Mechanism only. Python (fasttok/unigram_train.py) builds the lattices once: for every unique word,
the edges (start, end, piece) of every seed piece found in it, in characters, sorted by (start, end).
Pieces are never added after the seed, only removed, so each round passes the same edges with an
`alive` mask instead of rebuilding them. The slow twin is fasttok/_reference/unigram.py (`train` and
its helpers), compared under hypothesis in tests/fasttok/test_unigram_train.py.

The unknown rule is sentencepiece's (`Lattice::PopulateNodes`): at a character start with no piece
of exactly one character in the vocabulary (alive, or the one excluded for a pruning test), an unknown
edge of one character with `unk_score` is added. Its expected count is not reported.

Every sum runs in one fixed order (words in table order, edges in (start, end) order), so the results
do not depend on anything but the inputs. Single-threaded: the GIL is released around the loops.
"""
from libc.math cimport exp, log, log1p, INFINITY
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from cython.operator cimport dereference as deref, preincrement as inc
from libcpp.vector cimport vector

from fasttok._types cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

import numpy as np


cdef inline double log_add(double a, double b) noexcept nogil:
    # log(exp(a) + exp(b)) without overflow; -inf is the empty sum
    if a == -INFINITY:
        return b
    if b == -INFINITY:
        return a
    if a > b:
        return a + log1p(exp(b - a))
    return b + log1p(exp(a - b))


cdef void mark_unknown(const int32_t* starts, const int32_t* ends, const int32_t* pieces, Py_ssize_t n_edges,
                       int32_t n_chars, const uint8_t* alive, int32_t excluded, vector[uint8_t]& unk) noexcept nogil:
    # unk[s] = 1 when no one-character piece (alive or `excluded`) starts at s
    cdef Py_ssize_t k
    cdef int32_t p
    unk.assign(n_chars, 1)
    for k in range(n_edges):
        if ends[k] == starts[k] + 1:
            p = pieces[k]
            if alive[p] or p == excluded:
                unk[starts[k]] = 0


def expected_counts(const int64_t[::1] word_edges, const int32_t[::1] word_chars, const int32_t[::1] edge_start,
                    const int32_t[::1] edge_end, const int32_t[::1] edge_piece, const int64_t[::1] counts,
                    const double[::1] scores, const uint8_t[::1] alive, double unk_score):
    """(expected, log_likelihood): E-step of EM.

    expected[p] = sum over words of count * (marginal probability of each edge of piece p), by
    forward-backward in log space (float64); log_likelihood = sum of count * log Z(word).
    Word w's edges are word_edges[w]:word_edges[w+1]; it has word_chars[w] characters.
    """
    cdef Py_ssize_t n_words = word_chars.shape[0], n_pieces = scores.shape[0]
    if word_edges.shape[0] != n_words + 1 or counts.shape[0] != n_words or alive.shape[0] != n_pieces:
        raise ValueError("the word and piece arrays do not agree")
    expected_arr = np.zeros(n_pieces, dtype=np.float64)      # (n_pieces,)
    cdef double[::1] expected = expected_arr
    cdef double total = 0.0, z, a, x
    cdef vector[double] alpha, beta
    cdef vector[uint8_t] unk
    cdef Py_ssize_t w, k, lo, hi
    cdef int32_t n, s, e, p
    with nogil:
        for w in range(n_words):
            lo, hi, n = word_edges[w], word_edges[w + 1], word_chars[w]
            mark_unknown(&edge_start[lo], &edge_end[lo], &edge_piece[lo], hi - lo, n, &alive[0], -1, unk)
            alpha.assign(n + 1, -INFINITY)
            beta.assign(n + 1, -INFINITY)
            alpha[0] = 0.0
            beta[n] = 0.0
            # forward: edges come by start, and every edge into s starts before s
            k = lo
            for s in range(n):
                a = alpha[s]
                if unk[s]:
                    alpha[s + 1] = log_add(alpha[s + 1], a + unk_score)
                while k < hi and edge_start[k] == s:
                    p = edge_piece[k]
                    if alive[p]:
                        alpha[edge_end[k]] = log_add(alpha[edge_end[k]], a + scores[p])
                    k += 1
            z = alpha[n]
            # backward: the same edges in reverse order
            k = hi - 1
            for s in range(n - 1, -1, -1):
                while k >= lo and edge_start[k] == s:
                    p = edge_piece[k]
                    if alive[p]:
                        beta[s] = log_add(beta[s], scores[p] + beta[edge_end[k]])
                    k -= 1
                if unk[s]:
                    beta[s] = log_add(beta[s], unk_score + beta[s + 1])
            total += counts[w] * z
            for k in range(lo, hi):
                p = edge_piece[k]
                if alive[p]:
                    x = alpha[edge_start[k]] + scores[p] + beta[edge_end[k]] - z
                    expected[p] += counts[w] * exp(x)
    return expected_arr, total


def viterbi_paths(const int64_t[::1] word_edges, const int32_t[::1] word_chars, const int32_t[::1] edge_start,
                  const int32_t[::1] edge_end, const int32_t[::1] edge_piece, const double[::1] scores,
                  const uint8_t[::1] alive, double unk_score, const int32_t[::1] excluded):
    """(path_offsets, path_pieces): the best segmentation of each word, pieces in order (-1: unknown).

    excluded[w] (or -1) is a piece word w may not use, though it still counts as present for the
    unknown rule; a word with no path then gets an empty path. Ties (sentencepiece's rule): starts
    are visited in ascending order and a candidate replaces the best path into its end only when
    strictly better, so among equal totals the path whose last piece starts earliest wins.
    """
    cdef Py_ssize_t n_words = word_chars.shape[0]
    if word_edges.shape[0] != n_words + 1 or excluded.shape[0] != n_words:
        raise ValueError("the word arrays do not agree")
    cdef vector[double] best
    cdef vector[int32_t] back, back_piece
    cdef vector[uint8_t] unk
    cdef vector[int32_t] out, tmp
    offsets_arr = np.zeros(n_words + 1, dtype=np.int64)      # (n_words + 1,)
    cdef int64_t[::1] offsets = offsets_arr
    cdef Py_ssize_t w, k, lo, hi, j
    cdef int32_t n, s, e, p, ex
    cdef double c
    with nogil:
        for w in range(n_words):
            lo, hi, n, ex = word_edges[w], word_edges[w + 1], word_chars[w], excluded[w]
            mark_unknown(&edge_start[lo], &edge_end[lo], &edge_piece[lo], hi - lo, n, &alive[0], ex, unk)
            best.assign(n + 1, -INFINITY)
            back.assign(n + 1, -1)
            back_piece.assign(n + 1, -1)
            best[0] = 0.0
            k = lo
            for s in range(n):
                if best[s] == -INFINITY:    # unreachable start
                    while k < hi and edge_start[k] == s:
                        k += 1
                    continue
                while k < hi and edge_start[k] == s:
                    p = edge_piece[k]
                    e = edge_end[k]
                    if alive[p] and p != ex:
                        c = best[s] + scores[p]
                        if back[e] < 0 or c > best[e]:
                            best[e], back[e], back_piece[e] = c, s, p
                    k += 1
                if unk[s]:
                    c = best[s] + unk_score
                    if back[s + 1] < 0 or c > best[s + 1]:
                        best[s + 1], back[s + 1], back_piece[s + 1] = c, s, -1
            tmp.clear()
            if n == 0 or back[n] >= 0:
                e = n
                while e > 0:
                    tmp.push_back(back_piece[e])
                    e = back[e]
            for j in range(<Py_ssize_t>tmp.size() - 1, -1, -1):
                out.push_back(tmp[j])
            offsets[w + 1] = out.size()
    pieces_arr = np.empty(out.size(), dtype=np.int32)        # (n_path_pieces,)
    cdef int32_t[::1] pieces = pieces_arr
    for j in range(<Py_ssize_t>out.size()):
        pieces[j] = out[j]
    return offsets_arr, pieces_arr


# -- the seed and the lattices: substrings of code-point arrays, keyed by their raw bytes ------------
# A key is the substring's uint32 code points as bytes (native order): equal keys are equal strings,
# and nothing here orders keys (Python sorts the seed by its documented total order).

cdef inline string key_of(const uint32_t* p, Py_ssize_t n) noexcept nogil:
    return string(<const char*>p, n * 4)


def count_substrings(const uint32_t[::1] chars, const int64_t[::1] word_offsets, const int64_t[::1] counts,
                     int max_length):
    """(flat code points, offsets, totals): every substring of 2..max_length characters of the words
    (word w is chars[word_offsets[w]:word_offsets[w+1]]) seen at least twice, weighted by the word
    counts, in no particular order. Memory: one hash entry per distinct substring, at most
    (total characters of the words) x (max_length - 1)."""
    cdef Py_ssize_t n_words = counts.shape[0], w, s, e, lo, hi, total_chars = 0, k
    if word_offsets.shape[0] != n_words + 1:
        raise ValueError("word_offsets and counts do not agree")
    cdef unordered_map[string, int64_t] table
    cdef unordered_map[string, int64_t].iterator it
    cdef string key
    cdef vector[uint32_t] flat
    cdef vector[int64_t] offsets, totals
    with nogil:
        for w in range(n_words):
            lo, hi = word_offsets[w], word_offsets[w + 1]
            for s in range(lo, hi):
                for e in range(s + 2, min(hi, s + max_length) + 1):
                    table[key_of(&chars[s], e - s)] += counts[w]
        offsets.push_back(0)
        it = table.begin()
        while it != table.end():
            if deref(it).second >= 2:
                key = deref(it).first
                for k in range(<Py_ssize_t>key.size() // 4):
                    flat.push_back((<const uint32_t*>key.data())[k])
                offsets.push_back(flat.size())
                totals.push_back(deref(it).second)
            inc(it)
    return (np.asarray(<uint32_t[:flat.size()]>flat.data()).copy() if flat.size() else np.zeros(0, np.uint32),
            np.asarray(<int64_t[:offsets.size()]>offsets.data()).copy(),
            np.asarray(<int64_t[:totals.size()]>totals.data()).copy() if totals.size() else np.zeros(0, np.int64))


def build_lattices(const uint32_t[::1] piece_chars, const int64_t[::1] piece_offsets, const uint32_t[::1] chars,
                   const int64_t[::1] word_offsets, int max_length):
    """(starts, ends, pieces, word_edges): every occurrence of every piece in every word, in word
    order, then by (start, end); positions in characters within the word.

    The pieces go into a trie over code points (edges keyed (node << 21 | code point) in one hash
    table, no allocation per lookup); a walk from each start follows the word until the trie has no
    edge, so a word of n characters costs at most n x max_length probes."""
    cdef Py_ssize_t n_pieces = piece_offsets.shape[0] - 1, n_words = word_offsets.shape[0] - 1
    cdef Py_ssize_t i, k, w, s, e, lo, hi
    cdef unordered_map[uint64_t, int32_t] child
    cdef unordered_map[uint64_t, int32_t].iterator found
    cdef vector[int32_t] piece_at                      # the piece ending at a node, or -1
    cdef vector[int32_t] starts, ends, pieces
    cdef int32_t node
    edges_arr = np.zeros(n_words + 1, dtype=np.int64)   # (n_words + 1,)
    cdef int64_t[::1] edges = edges_arr
    with nogil:
        piece_at.push_back(-1)
        for i in range(n_pieces):
            node = 0
            for k in range(piece_offsets[i], piece_offsets[i + 1]):
                found = child.find((<uint64_t>node << 21) | piece_chars[k])
                if found == child.end():
                    child[(<uint64_t>node << 21) | piece_chars[k]] = piece_at.size()
                    node = piece_at.size()
                    piece_at.push_back(-1)
                else:
                    node = deref(found).second
            piece_at[node] = i
        for w in range(n_words):
            lo, hi = word_offsets[w], word_offsets[w + 1]
            for s in range(lo, hi):
                node = 0
                for e in range(s + 1, min(hi, s + max_length) + 1):
                    found = child.find((<uint64_t>node << 21) | chars[e - 1])
                    if found == child.end():
                        break
                    node = deref(found).second
                    if piece_at[node] >= 0:
                        starts.push_back(s - lo)
                        ends.push_back(e - lo)
                        pieces.push_back(piece_at[node])
            edges[w + 1] = pieces.size()
    cdef Py_ssize_t n = pieces.size()
    out = [np.zeros(n, dtype=np.int32) for _ in range(3)]
    cdef int32_t[::1] a = out[0], b = out[1], c = out[2]
    for i in range(n):
        a[i], b[i], c[i] = starts[i], ends[i], pieces[i]
    return out[0], out[1], out[2], edges_arr
