"""A slow, dictionary-based interpolated (modified) Kneser-Ney: the test oracle and the textbook.

It shares no code with the numpy implementation: n-grams are tuples of tokens in `Counter`s, and
p(w | ctx) is computed by the interpolation recursion itself, not read from a backoff table.
"""
from __future__ import annotations

import math
from collections import Counter


class ReferenceKneserNey:
    """Interpolated Kneser-Ney with lmplz's conventions (see lm.ngram.estimators.kneser_ney)."""

    def __init__(self, sentences, *, order: int, modified: bool = True, fallback=(0.5, 1.0, 1.5),
                 discount=None, bos="<s>", eos="</s>", unk="<unk>"):
        self.order, self.bos, self.unk = order, bos, unk
        raw = [Counter() for _ in range(order)]  # raw[k-1][k-gram tuple] = count
        for sentence in sentences:
            padded = [bos, *sentence, eos]
            for k in range(1, order + 1):
                for i in range(len(padded) - k + 1):
                    raw[k - 1][tuple(padded[i : i + k])] += 1
        self.vocab = {unk, bos, eos} | {g[0] for g in raw[0]}

        # adjusted counts: raw at the top order and for n-grams starting with <s>, else the
        # number of distinct words seen to the left.
        self.adjusted = [dict() for _ in range(order)]
        self.adjusted[order - 1] = dict(raw[order - 1])
        for k in range(order - 1, 0, -1):
            left = Counter(g[1:] for g in raw[k])
            self.adjusted[k - 1] = {g: (c if g[0] == bos else left[g]) for g, c in raw[k - 1].items()}
        self.adjusted[0][(bos,)] = 0
        self.adjusted[0].setdefault((unk,), 0)

        self.discounts = []
        for k in range(order):
            values = list(self.adjusted[k].values())
            t = [values.count(j) for j in range(5)]
            d = None
            if modified and t[1] and t[2] and t[3]:
                y = t[1] / (t[1] + 2 * t[2])
                d = [j - (j + 1) * y * t[j + 1] / t[j] for j in (1, 2, 3)]
                if any(not 0 <= d[j - 1] <= j for j in (1, 2, 3)):
                    d = None
            if not modified and t[1] and t[2]:
                d = [t[1] / (t[1] + 2 * t[2])] * 3
            if d is None:
                d = list(fallback) if modified else [fallback[0]] * 3
            if discount is not None:
                d = [discount] * 3
            self.discounts.append(tuple(d))

        # per context: sum of adjusted counts and discounted mass
        self.denominator = [Counter() for _ in range(order)]
        self.mass = [Counter() for _ in range(order)]
        for k in range(order):
            for g, a in self.adjusted[k].items():
                self.denominator[k][g[:-1]] += a
                self.mass[k][g[:-1]] += self._discount(k, a)

    def _discount(self, k: int, a: int) -> float:
        return 0.0 if a == 0 else self.discounts[k][min(a, 3) - 1]

    def prob(self, word, context=()) -> float:
        """p(word | context) by the interpolation recursion; unknown tokens count as <unk>."""
        known = lambda t: t if t in self.vocab else self.unk  # noqa: E731
        word = known(word)
        context = tuple(known(t) for t in context)
        context = context[max(0, len(context) - (self.order - 1)):] if self.order > 1 else ()
        if word == self.bos:
            return 0.0
        return self._prob(word, context)

    def _prob(self, word, context) -> float:
        k = len(context)  # this level predicts (k+1)-grams
        denominator = self.denominator[k][context]
        if denominator == 0:
            # an unseen context (or one never continued) adds nothing: back off with weight 1
            return self._prob(word, context[1:])
        a = self.adjusted[k].get(context + (word,), 0)
        u = (a - self._discount(k, a)) / denominator
        gamma = self.mass[k][context] / denominator
        lower = 1.0 / (len(self.vocab) - 1) if k == 0 else self._prob(word, context[1:])
        return u + gamma * lower

    def logprob(self, word, context=()) -> float:
        p = self.prob(word, context)
        return math.log10(p) if p > 0 else -math.inf


class ReferenceWittenBell:
    """Interpolated Witten-Bell on raw counts (see lm.ngram.estimators.witten_bell), by recursion:
    p(w | ctx) = (c(ctx w) + T(ctx) p(w | ctx')) / (c(ctx .) + T(ctx)), T = distinct continuations."""

    def __init__(self, sentences, *, order: int, bos="<s>", eos="</s>", unk="<unk>"):
        self.order, self.bos, self.unk = order, bos, unk
        self.counts = Counter()  # n-gram tuple (any order) -> raw count
        for sentence in sentences:
            padded = [bos, *sentence, eos]
            for k in range(1, order + 1):
                for i in range(len(padded) - k + 1):
                    self.counts[tuple(padded[i : i + k])] += 1
        self.counts[(bos,)] = 0  # <s> is never predicted
        self.vocab = {unk, bos, eos} | {g[0] for g in self.counts if len(g) == 1}
        self.total, self.types = Counter(), Counter()  # per context
        for g, c in self.counts.items():
            if c > 0:
                self.total[g[:-1]] += c
                self.types[g[:-1]] += 1

    def prob(self, word, context=()) -> float:
        known = lambda t: t if t in self.vocab else self.unk  # noqa: E731
        word, context = known(word), tuple(known(t) for t in context)
        context = context[max(0, len(context) - (self.order - 1)):] if self.order > 1 else ()
        return 0.0 if word == self.bos else self._prob(word, context)

    def _prob(self, word, context) -> float:
        norm = self.total[context] + self.types[context]
        if norm == 0:
            return self._prob(word, context[1:])
        lower = 1.0 / (len(self.vocab) - 1) if not context else self._prob(word, context[1:])
        return (self.counts.get(context + (word,), 0) + self.types[context] * lower) / norm

    def logprob(self, word, context=()) -> float:
        p = self.prob(word, context)
        return math.log10(p) if p > 0 else -math.inf


class ReferenceAbsoluteDiscounting(ReferenceWittenBell):
    """Interpolated absolute discounting on raw counts (see lm.ngram.estimators.absolute_discounting), by
    recursion: p(w | ctx) = (max(c(ctx w) - D, 0) + sum_x min(c(ctx x), D) p(w | ctx')) / c(ctx .)."""

    def __init__(self, sentences, *, order: int, discount: float, **kwargs):
        super().__init__(sentences, order=order, **kwargs)
        self.discount = discount
        self.given = Counter()
        for g, c in self.counts.items():
            if c > 0:
                self.given[g[:-1]] += min(c, discount)

    def _prob(self, word, context) -> float:
        total = self.total[context]
        if total == 0:
            return self._prob(word, context[1:])
        lower = 1.0 / (len(self.vocab) - 1) if not context else self._prob(word, context[1:])
        c = self.counts.get(context + (word,), 0)
        return (max(c - self.discount, 0.0) + self.given[context] * lower) / total
