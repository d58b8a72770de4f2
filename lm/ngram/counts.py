"""N-gram counting over integer ids: sorted tables linked by context and suffix pointers.

Every order k has one table of the k-grams seen in training, sorted by an int64 key

    key = context_index * vocab_size + last_word

where `context_index` is the row of the (k-1)-gram prefix in the order-(k-1) table (for k = 1 the
context is empty and the key is the word id itself). So a key never overflows however long the n-gram
is, all continuations of one context are contiguous, and looking an n-gram up is one `searchsorted`
per order. The same chain of lookups serves counting, scoring and ARPA loading.

Sentences arrive as one flat id array with `<s>` before and `</s>` after each sentence, plus `hist`:
how many tokens of the same sentence precede each position. A k-gram "ends at p" when hist[p] >= k-1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OrderTable:
    """The k-grams of one order. Row i is the k-gram whose key is keys[i]."""

    keys: np.ndarray  # (N_k,) int64 sorted: context_index * vocab_size + last_word
    counts: np.ndarray  # (N_k,) int64 raw counts (windows of length k in the padded text)
    suffix: np.ndarray  # (N_k,) int64 row of the (k-1)-gram without the first word; -1 for k = 1
    first_word: np.ndarray  # (N_k,) int64 id of the first word


@dataclass(frozen=True)
class NgramCounts:
    """Raw counts of every order 1..order, built by `count_ngrams`."""

    vocab_size: int
    tables: tuple[OrderTable, ...]  # tables[k-1] holds the k-grams

    @property
    def order(self) -> int:
        return len(self.tables)


def count_ngrams(ids: np.ndarray, hist: np.ndarray, *, order: int, vocab_size: int, progress=None) -> NgramCounts:
    """Count every window of length 1..order that stays inside one padded sentence; progress(k, order)
    is called as each order is done.

    >>> ids = np.array([1, 3, 4, 2])  # <s> a b </s>
    >>> c = count_ngrams(ids, np.arange(4), order=2, vocab_size=5)
    >>> [int(k) for k in c.tables[1].keys]  # (<s> a), (a b), (b </s>) as context_row * 5 + word
    [8, 19, 22]
    """
    ids = np.asarray(ids, dtype=np.int64)  # (T,)
    hist = np.asarray(hist, dtype=np.int64)  # (T,)
    n_positions = ids.shape[0]
    unigram = OrderTable(
        keys=np.arange(vocab_size, dtype=np.int64),  # (V,) every vocabulary word has a unigram row
        counts=np.bincount(ids, minlength=vocab_size).astype(np.int64),  # (V,)
        suffix=np.full(vocab_size, -1, dtype=np.int64),  # (V,)
        first_word=np.arange(vocab_size, dtype=np.int64),  # (V,)
    )
    tables = [unigram]
    if progress is not None:
        progress(1, order)
    node_prev = ids  # (T,) row of the (k-1)-gram ending at each position, -1 when there is none
    for k in range(2, order + 1):
        ends = np.flatnonzero(hist >= k - 1)  # (M,) positions where a k-gram ends
        key = node_prev[ends - 1] * vocab_size + ids[ends]  # (M,) int64
        keys, first, inverse, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        rep = ends[first]  # (N_k,) one position where each k-gram ends
        node = np.full(n_positions, -1, dtype=np.int64)  # (T,)
        node[ends] = inverse
        tables.append(
            OrderTable(
                keys=keys,
                counts=counts.astype(np.int64),
                suffix=node_prev[rep],  # the (k-1)-gram ending at the same position
                first_word=ids[rep - (k - 1)],
            )
        )
        node_prev = node
        if progress is not None:
            progress(k, order)
    return NgramCounts(vocab_size=vocab_size, tables=tuple(tables))


def lookup_rows(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Rows of `query` keys in the sorted `keys`, -1 where absent.

    >>> lookup_rows(np.array([2, 5, 9]), np.array([5, 6, 9, 10]))
    array([ 1, -1,  2, -1])
    """
    rows = np.searchsorted(keys, query)  # (M,)
    if keys.shape[0] == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    clipped = np.minimum(rows, keys.shape[0] - 1)  # (M,)
    return np.where(keys[clipped] == query, clipped, -1).astype(np.int64)
