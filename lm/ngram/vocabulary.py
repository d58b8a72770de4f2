"""NLTK's preprocessing for n-gram models: a `Vocabulary` with an unknown cutoff, padding and everygrams.

Two padding conventions, documented side by side in docs/ngram.md:

- NLTK's (`pad_both_ends(sentence, n=order)`, `padded_everygram_pipeline`): order - 1 `<s>` before and
  order - 1 `</s>` after every sentence, and the pads are counted like words (a bigram model's unigram
  `<s>` has a count and a probability);
- KenLM's (`train_ngram`, `NgramModel`): one `<s>` and one `</s>` per sentence whatever the order, `<s>` is
  only ever a context (probability 0) and `</s>` is predicted once.

>>> list(pad_both_ends(["a", "b"], n=3))
['<s>', '<s>', 'a', 'b', '</s>', '</s>']
>>> list(everygrams(["a", "b", "c"], max_len=2))
[('a',), ('a', 'b'), ('b',), ('b', 'c'), ('c',)]
"""
from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Iterable, Sequence

BOS, EOS, UNK = "<s>", "</s>", "<UNK>"  # NLTK's spellings (lm's NgramModel spells the unknown word <unk>)


def pad_both_ends(sentence: Iterable, *, n: int, bos=BOS, eos=EOS) -> list:
    """The sentence with n - 1 `bos` before and n - 1 `eos` after it (NLTK's `pad_both_ends`)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [bos] * (n - 1) + list(sentence) + [eos] * (n - 1)


def everygrams(sequence: Sequence, *, min_len: int = 1, max_len: int | None = None) -> list[tuple]:
    """Every n-gram of length min_len..max_len (default: the whole length), in NLTK's order: by start
    position, then by length."""
    sequence = list(sequence)
    max_len = len(sequence) if max_len is None else max_len
    if min_len < 1 or max_len < min_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    return [tuple(sequence[i:i + k]) for i in range(len(sequence))
            for k in range(min_len, max_len + 1) if i + k <= len(sequence)]


def padded_everygram_pipeline(order: int, text: Iterable[Sequence]):
    """(each sentence's everygrams after `pad_both_ends`, the padded words of all sentences as one stream):
    the two arguments of `fit(text, vocabulary_text)`, as NLTK's function of the same name."""
    text = list(text)
    padded = [pad_both_ends(s, n=order) for s in text]
    return (everygrams(p, max_len=order) for p in padded), chain.from_iterable(padded)


class Vocabulary:
    """Words and their counts; a word is in the vocabulary when counted at least `unk_cutoff` times, and
    `lookup` maps every other word to `unk_label` (NLTK's `Vocabulary`, same semantics).

    Zero-count words are kept: `Vocabulary(counts={"rare": 0}, unk_cutoff=1)` knows the count but "rare"
    is not `in` it. A fixed vocabulary given by the user is `Vocabulary(words)` before fitting: `fit`
    then leaves it alone. `len` counts the words in the vocabulary plus `unk_label` (once anything was
    counted).

    >>> v = Vocabulary(["a", "b", "a", "c"], unk_cutoff=2)
    >>> v.lookup(["a", "b", "zzz"]), len(v), "b" in v
    (('a', '<UNK>', '<UNK>'), 2, False)
    """

    def __init__(self, counts=None, *, unk_cutoff: int = 1, unk_label=UNK):
        if unk_cutoff < 1:
            raise ValueError(f"unk_cutoff must be >= 1, got {unk_cutoff}")
        self.unk_label = unk_label
        self.unk_cutoff = unk_cutoff
        self.counts: Counter = Counter()
        self._len = 0
        if counts is not None:
            self.update(counts)

    @property
    def cutoff(self) -> int:  # NLTK's name
        return self.unk_cutoff

    def update(self, words) -> None:
        """Count more words (an iterable of words, or a mapping word -> count, as `Counter.update`)."""
        self.counts.update(words)
        self._len = sum(1 for _ in self)

    def __getitem__(self, word) -> int:
        return self.unk_cutoff if word == self.unk_label else self.counts[word]

    def __contains__(self, word) -> bool:
        return self[word] >= self.unk_cutoff

    def __iter__(self):
        return chain((w for w in self.counts if w in self), [self.unk_label] if self.counts else [])

    def __len__(self) -> int:
        return self._len

    def __eq__(self, other) -> bool:
        return (isinstance(other, Vocabulary) and (self.unk_label, self.unk_cutoff, self.counts)
                == (other.unk_label, other.unk_cutoff, other.counts))

    def __repr__(self) -> str:
        return f"<Vocabulary with cutoff={self.unk_cutoff} unk_label={self.unk_label!r} and {len(self)} items>"

    def lookup(self, words):
        """One word -> the word or `unk_label`; any other iterable (nested too) -> a tuple of lookups.
        A str is one word, as in NLTK; so is an int (NLTK refuses ints, lm takes int ids)."""
        if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
            return words if words in self else self.unk_label
        return tuple(self.lookup(w) for w in words)
