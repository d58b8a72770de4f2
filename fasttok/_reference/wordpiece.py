"""Slow, obviously-correct WordPiece: the test oracle for fasttok/_wordpiece.pyx, and the textbook.

The trainer recounts every pair and re-scores every candidate at each step (brute-force argmax);
the encoder is HF's loop: try the longest substring first, shrink by one character.
Both follow the same rules as the core, stated once here:

* a word starts as units [(False, c1), (True, c2), ..., (True, cn)] (True: continuation unit);
* merges apply left to right without overlap; count(a b) is the number of merges that makes, so a
  run of k equal units counts k // 2 for (x, x);
* vocabulary ids: initial base units by code point, continuation base units by code point, then new
  units in the order they are first made (a merge that makes an existing unit adds no id);
* a candidate has count >= max(min_frequency, 1) and a result of at most max_token_length characters;
* best candidate: highest score, then highest count, then smallest (left id, right id).
"""
import math

__all__ = ["gain", "score_pair", "word_pairs", "merge_word", "learn_merges", "encode_word"]


def gain(c: float, d: float) -> float:
    """F(c) - F(c - d) with F(x) = x log x; the same float expression as wp_gain in the core."""
    if d == 0.0:
        return 0.0
    if c == d:
        return c * math.log(c)
    return d * math.log(c) - (c - d) * math.log1p(-d / c)


def score_pair(score: str, m: int, ca: int, cb: int, ct: int, n: int, same: bool) -> float:
    """Score of merging a pair with count m, unit counts ca, cb, result count ct, total units n."""
    m, ca, cb, ct, n = float(m), float(ca), float(cb), float(ct), float(n)
    if score == "pmi":
        return m / (ca * cb)
    if same:
        return gain(n, m) + gain(ct + m, m) - gain(ca, 2.0 * m)
    return gain(n, m) + gain(ct + m, m) - gain(ca, m) - gain(cb, m)


def word_pairs(units):
    """{(left, right): count} of one word, counting a run of k equal units as k // 2."""
    counts = {}
    i = 0
    while i + 1 < len(units):
        if units[i] != units[i + 1]:
            key = (units[i], units[i + 1])
            counts[key] = counts.get(key, 0) + 1
            i += 1
        else:
            j = i
            while j < len(units) and units[j] == units[i]:
                j += 1
            key = (units[i], units[i])
            counts[key] = counts.get(key, 0) + (j - i) // 2
            i = j - 1
    return counts


def merge_word(units, a, b, t):
    """Replace each non-overlapping occurrence of the pair (a, b), left to right, by t.

    >>> merge_word([1, 1, 1], 1, 1, 9)
    [9, 1]
    """
    out, i = [], 0
    while i < len(units):
        if i + 1 < len(units) and units[i] == a and units[i + 1] == b:
            out.append(t)
            i += 2
        else:
            out.append(units[i])
            i += 1
    return out


def learn_merges(word_counts: dict, *, n_new: int, score: str = "pmi", min_frequency: int = 1,
                    max_token_length: int | None = None):
    """Learn up to `n_new` new units. Returns (vocab, merges): vocab is a list of
    (text, is_continuation) in id order; merges a list of (left id, right id, result id)."""
    vocab = sorted({(False, w[0]) for w in word_counts}) + sorted({(True, c) for w in word_counts for c in w[1:]})
    vocab = [(text, cont) for cont, text in vocab]
    ids = {unit: i for i, unit in enumerate(vocab)}
    words = [([ids[(w[0], False)]] + [ids[(c, True)] for c in w[1:]], count)
             for w, count in word_counts.items()]
    merges = []
    added = 0
    while added < n_new:
        unit_count = {}
        pair_count = {}
        for units, count in words:
            for u in units:
                unit_count[u] = unit_count.get(u, 0) + count
            for key, k in word_pairs(units).items():
                pair_count[key] = pair_count.get(key, 0) + k * count
        n = sum(unit_count.values())
        best, best_key = None, None
        for (a, b), m in pair_count.items():
            text = vocab[a][0] + vocab[b][0]
            if m < max(min_frequency, 1) or (max_token_length is not None and len(text) > max_token_length):
                continue
            ct = unit_count.get(ids.get((text, vocab[a][1]), -1), 0)
            s = score_pair(score, m, unit_count[a], unit_count[b], ct, n, a == b)
            key = (s, m, -a, -b)
            if best_key is None or key > best_key:
                best, best_key = (a, b, text, vocab[a][1]), key
        if best is None:
            break
        a, b, text, cont = best
        if (text, cont) not in ids:
            ids[(text, cont)] = len(vocab)
            vocab.append((text, cont))
            added += 1
        t = ids[(text, cont)]
        merges.append((a, b, t))
        words = [(merge_word(units, a, b, t), count) for units, count in words]
    return vocab, merges


def encode_word(word: str, vocab: dict, *, unk_id: int, continuing_subword_prefix: str = "##",
                max_chars: int | None = 100) -> list[int]:
    """Greedy longest-match-first: HF's WordPiece loop, quadratic and obviously right."""
    if max_chars is not None and len(word) > max_chars:
        return [unk_id]
    out, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else continuing_subword_prefix + word[start:end]
            if piece in vocab:
                out.append(vocab[piece])
                break
            end -= 1
        else:
            return [unk_id]
        start = end
    return out
