"""Models scored straight from counts, with NLTK's semantics: `NgramCounter` and `MLE`, `Lidstone`,
`Laplace`, `StupidBackoff`, `WittenBellInterpolated`, `AbsoluteDiscountingInterpolated`,
`KneserNeyInterpolated` (user discount).

These are for NLTK's users: the same constructor arguments, `fit(text, vocabulary_text)` on the output of
`padded_everygram_pipeline`, `score` / `logscore` (log2) / `entropy` / `perplexity` over n-gram tuples,
and the same numbers as `nltk.lm` (tests/lm/test_ngram_nltk.py compares them live to 1e-12). They hold
counts in dictionaries and compute each score by NLTK's recursion, so they are as slow as NLTK's; for
speed, ARPA files and KenLM's conventions use `train_ngram` / `NgramModel` (log10, backoff tables).

Differences from NLTK's defaults worth knowing (they are NLTK's, kept on purpose):
- the pads are counted: a bigram MLE gives `<s>` a unigram probability;
- `MLE` and `Lidstone` do not truncate a context longer than order - 1: they look it up at that longer
  order, find nothing and give 0 (MLE) or 1/|V| (Lidstone); the interpolated models and `StupidBackoff`
  keep its last order - 1 words;
- `Lidstone` is add-gamma at the order of the context it is given (a one-word context in a trigram model
  uses bigram counts), with |V| = len(vocab), which counts `<s>`, `</s>` and `<UNK>`.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

from .vocabulary import Vocabulary


class Continuations(Counter):
    """The words seen after one context and their counts (NLTK's FreqDist, read as a Counter)."""

    def N(self) -> int:  # noqa: N802 (NLTK's name)
        """Total count."""
        return sum(self.values())

    def freq(self, word) -> float:
        n = self.N()
        return self[word] / n if n else 0

    def n1_plus(self) -> int:
        """How many words were seen after the context at least once (N1+, the T of Witten-Bell)."""
        return sum(1 for c in self.values() if c > 0)

    def n2(self) -> int:
        """How many words were seen exactly twice after the context."""
        return sum(1 for c in self.values() if c == 2)

    def n3_plus(self) -> int:
        """How many words were seen three times or more after the context."""
        return sum(1 for c in self.values() if c >= 3)


_EMPTY = Continuations()


class ContextCounts(dict):
    """context tuple -> its `Continuations`, for one order; an unseen context reads as empty (not stored)."""

    def __missing__(self, context) -> Continuations:
        return _EMPTY


class NgramCounter:
    """Counts of n-grams of every order, in NLTK's shape:

    counts[1] or counts.unigrams: word -> count; counts["a"]: one unigram count;
    counts[2][("a",)]["b"] and counts[["a"]]["b"]: the count of the bigram (a, b);
    counts.N(): the number of n-grams counted, all orders together.

    >>> c = NgramCounter([[("a",), ("b",), ("a", "b")]])
    >>> c["a"], c[["a"]]["b"], c[2][("a",)]["b"], c.N()
    (1, 1, 1, 3)
    """

    def __init__(self, ngram_text: Iterable[Iterable[tuple]] | None = None):
        self.unigrams = Continuations()
        self._orders: dict = {1: self.unigrams}
        if ngram_text:
            self.update(ngram_text)

    def update(self, ngram_text: Iterable[Iterable[tuple]]) -> None:
        """Count the n-grams of each sentence (an iterable of tuples, any length)."""
        for sentence in ngram_text:
            for ngram in sentence:
                if not isinstance(ngram, tuple):
                    raise TypeError(f"an n-gram must be a tuple, got {type(ngram).__name__}: {ngram!r}")
                if len(ngram) == 1:
                    self.unigrams[ngram[0]] += 1
                    continue
                order = self._orders.setdefault(len(ngram), ContextCounts())
                context = ngram[:-1]
                if context not in order:
                    order[context] = Continuations()
                order[context][ngram[-1]] += 1

    def __getitem__(self, item):
        if isinstance(item, int) and not isinstance(item, bool):
            return self._orders.get(item, ContextCounts()) if item != 1 else self.unigrams
        if isinstance(item, (list, tuple)):
            context = tuple(item)
            return self._orders.get(len(context) + 1, ContextCounts())[context]
        return self.unigrams[item]

    def N(self) -> int:  # noqa: N802 (NLTK's name)
        """How many n-grams were counted, all orders together (NLTK's `NgramCounter.N`; for the number of
        unigram tokens use `counts.unigrams.N()`)."""
        return self.unigrams.N() + sum(c.N() for k, order in self._orders.items() if k > 1
                                       for c in order.values())

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order) -> bool:
        return order in self._orders

    @property
    def order(self) -> int:
        """The longest n-gram counted."""
        return max(self._orders)

    def count_of_counts(self, order: int) -> Counter:
        """{c: how many n-grams of this order were seen exactly c times} (t_c of the KN discounts)."""
        if order == 1:
            return Counter(self.unigrams.values())
        return Counter(c for cont in self[order].values() for c in cont.values())

    def __str__(self) -> str:
        return f"<NgramCounter with {len(self)} ngram orders and {self.N()} ngrams>"

    __repr__ = __str__


def log_base2(score: float) -> float:
    """log2, -inf for 0 (NLTK's `log_base2`)."""
    return -math.inf if score == 0.0 else math.log(score, 2)


class LanguageModel:
    """What every counted model shares: fit, score (probability), logscore (log2), entropy, perplexity."""

    def __init__(self, order: int, vocabulary: Vocabulary | None = None, counter: NgramCounter | None = None):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.vocab = Vocabulary() if vocabulary is None else vocabulary
        self.counts = NgramCounter() if counter is None else counter

    def fit(self, text: Iterable[Iterable[tuple]], vocabulary_text: Iterable | None = None) -> None:
        """Count the n-grams of `text` (e.g. the first output of `padded_everygram_pipeline`), words out
        of the vocabulary counted as its `unk_label`. The vocabulary is built from `vocabulary_text` unless
        it already holds words (a fixed vocabulary)."""
        if not self.vocab:
            if vocabulary_text is None:
                raise ValueError("cannot fit without a vocabulary or the text to build one from")
            self.vocab.update(vocabulary_text)
        self.counts.update(self.vocab.lookup(sentence) for sentence in text)

    def score(self, word, context=None) -> float:
        """p(word | context), words out of the vocabulary taken as its `unk_label`."""
        return self.unmasked_score(self.vocab.lookup(word), self.vocab.lookup(context) if context else None)

    def unmasked_score(self, word, context=None) -> float:
        raise NotImplementedError

    def logscore(self, word, context=None) -> float:
        """log2 p(word | context)."""
        return log_base2(self.score(word, context))

    def context_counts(self, context) -> Continuations:
        return self.counts[len(context) + 1][context] if context else self.counts.unigrams

    def entropy(self, text_ngrams: Iterable[tuple]) -> float:
        """Cross-entropy in bits: minus the mean log2 score of each n-gram's last word given the others."""
        scores = [self.logscore(ngram[-1], ngram[:-1]) for ngram in text_ngrams]
        return -1 * math.fsum(scores) / len(scores)

    def perplexity(self, text_ngrams: Iterable[tuple]) -> float:
        """2 ** entropy."""
        return pow(2.0, self.entropy(text_ngrams))

    def _truncate(self, context):
        if context:
            max_ctx = self.order - 1
            context = () if max_ctx <= 0 else context[-max_ctx:]
        return context


class MLE(LanguageModel):
    """Relative frequency c(context word) / c(context .), 0 when the context was never seen."""

    def unmasked_score(self, word, context=None) -> float:
        return self.context_counts(context).freq(word)


class Lidstone(LanguageModel):
    """(c(context word) + gamma) / (c(context .) + gamma |V|), at the order of the given context."""

    def __init__(self, gamma: float, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gamma = gamma

    def unmasked_score(self, word, context=None) -> float:
        counts = self.context_counts(context)
        return (counts[word] + self.gamma) / (counts.N() + len(self.vocab) * self.gamma)


class Laplace(Lidstone):
    """Lidstone with gamma = 1."""

    def __init__(self, *args, **kwargs):
        super().__init__(1, *args, **kwargs)


class StupidBackoff(LanguageModel):
    """Relative frequency, else alpha times the score of the shorter context (not normalised)."""

    def __init__(self, alpha: float = 0.4, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = alpha

    def unmasked_score(self, word, context=None) -> float:
        context = self._truncate(context)
        if not context:
            return self.counts.unigrams.freq(word)
        counts = self.context_counts(context)
        if counts[word] > 0:
            return counts[word] / counts.N()
        return self.alpha * self.unmasked_score(word, context[1:])


class InterpolatedLanguageModel(LanguageModel):
    """p(w | ctx) = alpha(w, ctx) + gamma(ctx) p(w | ctx minus its first word); an unseen context gives
    alpha 0, gamma 1. Subclasses give alpha_gamma and the unigram score."""

    def unmasked_score(self, word, context=None) -> float:
        context = self._truncate(context)
        if not context:
            return self.unigram_score(word)
        if not self.counts[context]:
            alpha, gamma = 0, 1
        else:
            alpha, gamma = self.alpha_gamma(word, context)
        return alpha + gamma * self.unmasked_score(word, context[1:])

    def unigram_score(self, word) -> float:
        return self.counts.unigrams.freq(word)

    def alpha_gamma(self, word, context) -> tuple[float, float]:
        raise NotImplementedError


class WittenBellInterpolated(InterpolatedLanguageModel):
    """gamma = T / (T + c(ctx .)), T = N1+(ctx .); alpha = (1 - gamma) c(ctx w) / c(ctx .)."""

    def alpha_gamma(self, word, context):
        counts = self.counts[context]
        n_plus = counts.n1_plus()
        gamma = n_plus / (n_plus + counts.N())
        return (1.0 - gamma) * counts.freq(word), gamma


class AbsoluteDiscountingInterpolated(InterpolatedLanguageModel):
    """alpha = max(c(ctx w) - D, 0) / c(ctx .); gamma = D N1+(ctx .) / c(ctx .); unigrams by frequency."""

    def __init__(self, order: int, discount: float = 0.75, **kwargs):
        super().__init__(order, **kwargs)
        self.discount = discount

    def alpha_gamma(self, word, context):
        counts = self.counts[context]
        alpha = max(counts[word] - self.discount, 0) / counts.N()
        return alpha, self.discount * counts.n1_plus() / counts.N()


class KneserNeyInterpolated(InterpolatedLanguageModel):
    """NLTK's interpolated Kneser-Ney with one user discount D for every order (default 0.1).

    The highest order discounts raw counts; lower orders discount continuation counts N1+(. ctx w)
    over N1+(. ctx .); unigrams are N1+(. w) / N1+(. .) (no uniform floor: a word never seen after
    anything, like `<s>`, scores 0). For lmplz's estimated discounts use `train_ngram(smoothing="kn")`
    or `"mkn"`; `train_ngram(smoothing="kn", discount=D)` is KenLM-style KN with this fixed D.
    """

    def __init__(self, order: int, discount: float = 0.1, **kwargs):
        if not 0 <= discount <= 1:
            raise ValueError("discount must be in [0, 1] for probabilities to sum to 1")
        super().__init__(order, **kwargs)
        self.discount = discount
        self._index: dict = {}

    def fit(self, text, vocabulary_text=None) -> None:
        super().fit(text, vocabulary_text)
        self._index = {}

    def _continuations(self, context: tuple) -> tuple[Counter, int]:
        """(word -> how many distinct (x, *context) were followed by word, how many (x, *context, w) types)."""
        m = len(context) + 2
        if m not in self._index:
            words: dict = {}
            totals: Counter = Counter()
            for prefix, conts in self.counts[m].items():
                key = prefix[1:]
                seen = words.setdefault(key, Counter())
                for w, c in conts.items():
                    if c > 0:
                        seen[w] += 1
                        totals[key] += 1
            self._index[m] = (words, totals)
        words, totals = self._index[m]
        return words.get(context, Counter()), totals[context]

    def unigram_score(self, word) -> float:
        words, total = self._continuations(())
        return words[word] / total

    def alpha_gamma(self, word, context):
        prefix_counts = self.counts[context]
        if len(context) + 1 == self.order:
            count, total = prefix_counts[word], prefix_counts.N()
        else:
            words, total = self._continuations(context)
            count = words[word]
        alpha = max(count - self.discount, 0.0) / total
        return alpha, self.discount * prefix_counts.n1_plus() / total
