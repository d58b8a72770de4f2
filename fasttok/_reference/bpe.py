"""Slow, obviously-correct BPE: the test oracle for the Cython core, and the textbook version.

Everything here recomputes from scratch at every step; nothing is incremental, nothing is clever.
"""
from collections import Counter

from fasttok.pretokenize import pattern_source

__all__ = ["split", "count_pieces", "count_pairs", "merge_word", "learn_merges", "encode_word"]


def split(text, pattern):
    """Pre-tokens of one text: the whole matches of `regex.finditer` itself (not findall, which returns
    a pattern's groups when it has any); pattern None: the whole text is one piece."""
    import regex
    source = pattern_source(pattern)
    return [m.group() for m in regex.finditer(source, text)] if source is not None else ([text] if text else [])


def count_pieces(texts, pattern):
    """{piece: count} over texts, split by `split` (what fasttok.count_words counts)."""
    counts = Counter()
    for text in [texts] if isinstance(texts, str) else texts:
        counts.update(split(text, pattern))
    return counts


def count_pairs(words):
    """Count adjacent pairs over weighted words (overlaps count: "aaa" has the pair (a, a) twice).

    >>> count_pairs({(1, 2, 1, 2): 3})
    Counter({(1, 2): 6, (2, 1): 3})
    """
    pairs = Counter()
    for word, count in words.items():
        for pair in zip(word, word[1:]):
            pairs[pair] += count
    return pairs


def merge_word(word, pair, new_id):
    """Replace each non-overlapping occurrence of `pair`, left to right.

    >>> merge_word((1, 1, 1), (1, 1), 9)
    (9, 1)
    """
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_merges(words, *, n_base, n_merges, min_frequency=1, base_length=None, max_token_length=0):
    """Learn merges the slow way: recount every pair before each merge.

    words: {tuple of base ids: count}; merge k creates id n_base + k.
    Rule: the highest count wins; ties go to the smallest (left, right) pair.
    Returns the list of (left, right) pairs in merge order.
    """
    length = list(base_length) if base_length is not None else [1] * n_base
    words = dict(words)
    merges = []
    while len(merges) < n_merges:
        pairs = count_pairs(words)
        candidates = [
            (-count, pair) for pair, count in pairs.items()
            if count >= min_frequency
            and not (max_token_length and length[pair[0]] + length[pair[1]] > max_token_length)
        ]
        if not candidates:
            break
        _, best = min(candidates)
        new_id = n_base + len(merges)
        merges.append(best)
        length.append(length[best[0]] + length[best[1]])
        merged = Counter()
        for word, count in words.items():
            merged[merge_word(word, best, new_id)] += count
        words = merged
    return merges


def encode_word(word, merges):
    """Encode one word: repeatedly merge the adjacent pair of lowest rank (leftmost on ties).

    merges: {(left, right): (rank, new_id)}.
    """
    word = list(word)
    while len(word) > 1:
        ranked = [(merges[p][0], i) for i, p in enumerate(zip(word, word[1:])) if p in merges]
        if not ranked:
            break
        _, i = min(ranked)
        word[i:i + 2] = [merges[(word[i], word[i + 1])][1]]
    return word
