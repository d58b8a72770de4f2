"""Slow, obviously-correct Unigram Viterbi: the test oracle for fasttok/_unigram.pyx, and the textbook.

Sentencepiece's optimised Viterbi (`unigram::Model::EncodeOptimized`), restated over UTF-8 bytes:

* best[0] = 0; for each character start s (ascending), for each piece text[s:e] in the vocabulary
  (ascending e), the candidate best[s] + score(piece) replaces best[e] when best[e] is unset or the
  candidate is strictly greater; so among equal totals the earliest start (the longest last piece) wins;
* if no piece covers exactly the character at s, the unknown candidate best[s] + unk_score goes to
  the end of that character, under the same rule;
* every score and total is a float32, and each sum is rounded to float32 before it is compared. (The
  C++ source types the piece candidate as double, but the released sentencepiece 0.2.3 behaves as
  float32 throughout: on 23,000 lines of text (three models) float32 everywhere agreed with it on
  every line, while summing in double disagreed on 11 to 101 lines per model, all near-ties.)

`pieces` maps piece bytes to (id, score), the score a float32 (a user-defined piece's is
`length * max_score - 0.1`, rounded). Unused pieces are simply absent.

>>> viterbi(b"ab", {b"a": (3, -1.0), b"b": (4, -1.0), b"ab": (5, -1.5)}, unk_id=0, unk_score=-20.0)
[(0, 2, 5)]

Training (the twin of fasttok/_unigram_train.pyx and the pruning step of fasttok/unigram_train.py), by
enumerating every segmentation of every word, so only for tiny words:

* `segmentations(word, scores, unk_score)`: each way to cut `word` (a str) into pieces of `scores`
  ({piece: log score}); a character with no one-character piece becomes the unknown piece None;
* `expected_counts`: the exact E-step, sum over words of count x P(segmentation) x occurrences;
* `pruning_losses`: sentencepiece's loss of each piece from the best segmentations.

>>> counts, _ = expected_counts({"ab": 2}, {"a": -1.0, "b": -1.0, "ab": -2.0}, unk_score=-20.0)
>>> {p: round(c, 9) for p, c in sorted(counts.items())}
{'a': 1.0, 'ab': 1.0, 'b': 1.0}
"""
import functools
import math
import struct

import numpy as np

from fasttok.unigram_train import digamma, final_pieces, required_characters, seed_pieces

__all__ = ["viterbi", "f32", "char_length", "segmentations", "expected_counts", "best_segmentation",
           "pruning_losses", "train"]


def f32(x: float) -> float:
    """x rounded to the nearest float32 (ties to even), as C's float conversion does."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def char_length(lead: int) -> int:
    """Bytes of the UTF-8 character starting with byte `lead`, from its top four bits (OneCharLen)."""
    return (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4)[lead >> 4]


def viterbi(text: bytes, pieces: dict, *, unk_id: int, unk_score: float) -> list:
    """The best segmentation of `text` as (start, end, id) triples in order; scores are float32."""
    n = len(text)
    longest = max(map(len, pieces), default=0)
    best = [0.0] * (n + 1)          # float32 values
    start_of = [-1] * (n + 1)       # -1: no path ends here yet
    id_of = [-1] * (n + 1)
    s = 0
    while s < n:
        here = best[s]
        width = min(char_length(text[s]), n - s)
        single = False
        for e in range(s + 1, min(n, s + longest) + 1):
            entry = pieces.get(text[s:e])
            if entry is None:
                continue
            piece_id, score = entry
            candidate = f32(score + here)
            if start_of[e] == -1 or candidate > best[e]:
                best[e], start_of[e], id_of[e] = candidate, s, piece_id
            if e - s == width:
                single = True
        if not single:
            e = s + width
            candidate = f32(unk_score + here)
            if start_of[e] == -1 or candidate > best[e]:
                best[e], start_of[e], id_of[e] = candidate, s, unk_id
        s += width
    out = []
    e = n
    while e > 0:
        out.append((start_of[e], e, id_of[e]))
        e = start_of[e]
    out.reverse()
    return out


# -- training ------------------------------------------------------------------------------------

def segmentations(word, scores, unk_score, excluded=None, _start=0, _total=0.0):
    """[(pieces, starts, total score)] for every segmentation of `word`, totals summed left to right
    as the core sums them; `excluded` may not be used but still counts as present for the unknown
    rule (a character with no one-character piece is unknown: None)."""
    if _start == len(word):
        return [((), (), _total)]
    out = []
    for end in range(_start + 1, len(word) + 1):
        head = word[_start:end]
        if head in scores and head != excluded:
            piece, score = head, scores[head]
        elif end == _start + 1 and head not in scores:
            piece, score = None, unk_score
        else:
            continue
        out += [((piece,) + rest, (_start,) + starts, total)
                for rest, starts, total in segmentations(word, scores, unk_score, excluded, end, _total + score)]
    return out


def expected_counts(words, scores, unk_score):
    """({piece: expected count}, sum of count x log Z): the exact E-step over {word: count}."""
    expected = dict.fromkeys(scores, 0.0)
    log_likelihood = 0.0
    for word, count in words.items():
        options = segmentations(word, scores, unk_score)
        z = math.log(sum(math.exp(total) for _, _, total in options))
        log_likelihood += count * z
        for pieces, _, total in options:
            weight = count * math.exp(total - z)
            for p in pieces:
                if p is not None:
                    expected[p] += weight
    return expected, log_likelihood


def best_segmentation(word, scores, unk_score, excluded=None):
    """The highest-scoring segmentation (a tuple of pieces), or None when there is none, chosen as the
    core's dynamic programme chooses: of two paths into the same end, the higher total wins; on equal
    totals the one whose last piece starts earlier; when that start is the same, the two paths into
    it are compared by the same rule (only one path into each position survives the programme, so a
    tie far back is settled by the partial totals there, which float rounding can tell apart)."""
    options = segmentations(word, scores, unk_score, excluded)
    if not options:
        return None

    def partials(option):
        pieces, _, _ = option
        out, total = [0.0], 0.0
        for p in pieces:
            total += unk_score if p is None else scores[p]
            out.append(total)
        return out

    def better(a, b):
        """1 when option a beats option b."""
        pa, pb = partials(a), partials(b)
        i, j = len(a[0]), len(b[0])
        while i and j:
            if pa[i] != pb[j]:
                return 1 if pa[i] > pb[j] else -1
            if a[1][i - 1] != b[1][j - 1]:
                return 1 if a[1][i - 1] < b[1][j - 1] else -1
            i, j = i - 1, j - 1
        return 0

    return max(options, key=functools.cmp_to_key(better))[0]


def pruning_losses(words, scores, unk_score):
    """{piece: loss, or None for a piece that must stay}; pieces that may simply go are absent.

    freq[p] = sum of word counts over the best segmentations' uses of p. A piece whose own best
    segmentation is not itself, or with freq 0, goes. With no second segmentation it stays. Else its
    loss is freq[p] / n_words x (log P(p) - sum over its alternative's pieces q of log P'(q)), P' the
    probabilities after moving freq[p] onto each q."""
    freq = dict.fromkeys(scores, 0.0)
    for word, count in words.items():
        for p in best_segmentation(word, scores, unk_score):
            if p is not None:
                freq[p] += count
    total = sum(freq.values())
    n_words = sum(words.values())
    out = {}
    for p in scores:
        if freq[p] == 0 or len(best_segmentation(p, scores, unk_score)) >= 2:
            continue
        alternative = best_segmentation(p, scores, unk_score, excluded=p)
        if alternative is None:
            out[p] = None
            continue
        logsum_alt = math.log(total + freq[p] * (len(alternative) - 1))
        logprob_alt = sum(math.log((freq[q] if q is not None else 0.0) + freq[p]) - logsum_alt
                          for q in alternative)
        out[p] = freq[p] / n_words * (math.log(freq[p]) - math.log(total) - logprob_alt)
    return out


def train(words, options):
    """[(piece, score)] of the normal pieces, in id order: fasttok.unigram_train's steps 2-6 with this
    module's E-step and pruning losses in place of the core's, on a {word: count} table (tiny words
    only). The policy steps (required characters, seed, digamma, final order) are the trainer's own."""
    required = required_characters(words, options.character_coverage)
    n_normal = options.vocab_size - len(options.meta_pieces)
    seed = [(p, s) for p, s in seed_pieces(words, required, options) if p not in options.user_defined_symbols]
    scores = dict(seed)
    live = set(scores)
    desired = int(options.vocab_size * 1.1)
    while True:
        for _ in range(options.n_em_iterations):
            current = {p: scores[p] for p in scores if p in live}
            expected, _ = expected_counts(words, current, min(current.values()) - 10.0)
            live = {p for p in current if expected[p] >= 0.5}
            log_total = digamma(sum(expected[p] for p in live))
            scores = {p: (digamma(expected[p]) - log_total if p in live else float("-inf")) for p in scores}
        if len(live) <= desired:
            break
        current = {p: scores[p] for p in scores if p in live}
        losses = pruning_losses(words, current, min(current.values()) - 10.0)
        kept = {p for p, loss in losses.items() if loss is None}
        target = max(desired, int(options.shrinking_factor * len(live)))
        for p in sorted((p for p, loss in losses.items() if loss is not None), key=lambda p: (-f32(losses[p]), p)):
            if len(kept) >= target:
                break
            kept.add(p)
        live = kept
    strings = [p for p, _ in seed]
    alive = [1 if p in live else 0 for p in strings]
    return final_pieces(strings, np.array([scores[p] for p in strings]), np.array(alive, dtype=np.uint8),
                        required, n_normal)
