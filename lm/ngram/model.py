"""`NgramModel`: an immutable n-gram model in backoff form, and `train_ngram`, which builds one.

All log-probabilities are log10, as in ARPA files and the `kenlm` module.

Scoring follows the ARPA backoff rule: with m the longest n-gram ending at the word that the model
holds, log p(w | history) = logp(that m-gram) + the log backoffs of every longer history suffix the
model holds as a context. It runs vectorised over all positions at once: one `searchsorted` per order.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Iterable, Sequence

import numpy as np

from fasttok._files import atomic_write  # the one atomic writer of both packages

from ..errors import NgramFileError
from ..files import NpzFile, content_hash
from . import estimators
from .arpa import read_arpa, write_arpa
from .counts import count_ngrams, lookup_rows

NPZ_FORMAT = "lm.ngram/2"  # /2: the header records the SHA-256 of the content, and load requires it
OLD_NPZ_FORMATS = ("lm.ngram/1",)  # written before the SHA-256 was recorded: loaded after every other check
EVAL_CHUNK = 20_000  # sentences scored at a time by `evaluate`: bounded memory, and progress on long runs


@dataclass(frozen=True)
class Evaluation:
    """What `NgramModel.evaluate` reports; the token count includes one `</s>` per sentence."""

    n_sentences: int
    n_tokens: int
    n_oov: int
    log10_prob: float  # total over all tokens, OOVs scored as <unk>
    log10_prob_oov: float  # the part of log10_prob that the OOV tokens contribute

    @property
    def perplexity(self) -> float:
        return float(10.0 ** (-self.log10_prob / self.n_tokens)) if self.n_tokens else float("nan")

    @property
    def perplexity_excluding_oov(self) -> float:
        n = self.n_tokens - self.n_oov
        return float(10.0 ** (-(self.log10_prob - self.log10_prob_oov) / n)) if n else float("nan")


def _check_sentence(sentence) -> None:
    if isinstance(sentence, (str, bytes)):
        raise TypeError(
            "a sentence must be a sequence of tokens, not a string; split it first, e.g. text.split()"
        )


def _tokens(sentence) -> list:
    """A sentence as its tokens: a str is split on whitespace (as the `kenlm` module does)."""
    if isinstance(sentence, str):
        return sentence.split()
    if isinstance(sentence, bytes):
        raise TypeError("a sentence must be a str or a sequence of tokens, not bytes")
    return list(sentence)


def _context(context) -> tuple:
    """A context as a tuple of tokens; None means the empty context (the start of a sentence)."""
    if context is None:
        return ()
    _check_sentence(context)
    return tuple(context)


class NgramModel:
    """An n-gram language model: `order`, vocabulary and per-order tables of log10 probabilities
    and backoffs. Build one with `train_ngram`, `NgramModel.from_arpa` or `NgramModel.load`."""

    def __init__(
        self,
        *,
        vocab: Sequence,
        keys: Sequence[np.ndarray],
        logp: Sequence[np.ndarray],
        logb: Sequence[np.ndarray],
        smoothing: str,
        discounts: tuple = (),
        missing_logb: float = 0.0,
        metadata: dict | None = None,
    ):
        # Ids 0, 1, 2 are always <unk>, <s>, </s> (lmplz's order), whatever their spelling.
        if len(vocab) < 3:
            raise ValueError("vocab must start with the <unk>, <s>, </s> tokens")
        order = len(keys)
        if order < 1 or len(logp) != order or len(logb) != order - 1:
            raise ValueError("need one keys/logp array per order and one logb array per order but the last")
        self.order = order
        self.smoothing = smoothing
        self.vocab = tuple(vocab)
        self.unk, self.bos, self.eos = self.vocab[:3]
        self.discounts = tuple(tuple(float(x) for x in d) for d in discounts)
        self._index = {token: i for i, token in enumerate(self.vocab)}
        if len(self._index) != len(self.vocab):
            raise ValueError("vocab has duplicate tokens")
        self._missing_logb = float(missing_logb)
        self._keys = tuple(_frozen(k, np.int64) for k in keys)
        # Each table ends with a sentinel so that row -1 (absent) can be gathered without masking.
        self._logp_ext = tuple(_frozen(np.append(p, 0.0), np.float64) for p in logp)
        self._logb_ext = tuple(_frozen(np.append(b, 0.0), np.float64) for b in logb)
        self._logp = tuple(p[:-1] for p in self._logp_ext)
        self._logb = tuple(b[:-1] for b in self._logb_ext)
        for k in range(order):
            n = self._keys[k].shape[0]
            if self._logp[k].shape != (n,) or (k < order - 1 and self._logb[k].shape != (n,)):
                raise ValueError(f"order {k + 1}: keys, logp and logb lengths differ")
        if self._keys[0].shape[0] != len(self.vocab):
            raise ValueError("the unigram table must hold exactly the vocabulary")
        _check_tables(self._keys, self._logp, self._logb, self._missing_logb)
        self._unigram_prob = _frozen(10.0 ** self._logp[0], np.float64)  # (V,) used by generate
        try:  # kept as JSON text: the model stays immutable and `save` can always write it
            self._metadata = json.dumps(metadata or {}, sort_keys=True)
        except TypeError as exc:
            raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
        self._cache: dict = {}  # derived sampling tables, built on first use
        self._sealed = True

    def __setattr__(self, name, value):
        if getattr(self, "_sealed", False):
            raise AttributeError(f"NgramModel is immutable: cannot set {name!r}")
        object.__setattr__(self, name, value)

    # ----------------------------------------------------------------------------------- basics
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def counts(self) -> tuple[int, ...]:
        """How many n-grams the model holds at each order (an ARPA header's `ngram k=` lines)."""
        return tuple(int(k.shape[0]) for k in self._keys)

    @property
    def metadata(self) -> dict:
        """What made the model (a fresh dict), e.g. the CLI's tokenizer and preprocessing record; saved
        in the .npz header. ARPA files have no place for it: a model read from ARPA has none."""
        return json.loads(self._metadata)

    def __repr__(self) -> str:
        return f"NgramModel(order={self.order}, smoothing={self.smoothing!r}, vocab_size={self.vocab_size})"

    def encode(self, tokens: Iterable) -> np.ndarray:
        """Token ids, `<unk>` (id 0) for unknown tokens."""
        get = self._index.get
        return np.fromiter((get(t, 0) for t in tokens), dtype=np.int64)

    def ngrams(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All k-grams the model holds: (ids (N_k, k), log10 probabilities, log10 backoffs).
        The backoff of a highest-order n-gram is reported as 0."""
        self._check_k(k)
        words = np.empty((self._keys[k - 1].shape[0], k), dtype=np.int64)  # (N_k, k)
        rows = np.arange(words.shape[0])  # (N_k,)
        for j in range(k, 0, -1):
            key = self._keys[j - 1][rows]
            words[:, j - 1] = key % self.vocab_size
            rows = key // self.vocab_size
        logb = self._logb[k - 1] if k < self.order else np.zeros(words.shape[0])
        return words, self._logp[k - 1], logb

    def _check_k(self, k: int) -> None:
        if not 1 <= k <= self.order:
            raise ValueError(f"n-gram length must be in 1..{self.order}, got {k}")

    # ---------------------------------------------------------------------------------- scoring
    def score_ids(self, ids: np.ndarray, hist: np.ndarray) -> np.ndarray:
        """log10 p(ids[p] | the hist[p] ids before it) for every position p, vectorised.

        `ids` is a flat (T,) array of token ids, `hist` says how many preceding positions belong
        to the same sentence (0 at a sentence start). Histories longer than order - 1 are cut.
        """
        return self._score_ids(ids, hist)[0]

    def _score_ids(self, ids: np.ndarray, hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log10 probabilities (T,), length of the longest n-gram the model holds ending at each position (T,))."""
        ids = np.asarray(ids, dtype=np.int64)  # (T,)
        hist = np.asarray(hist, dtype=np.int64)  # (T,)
        if ids.shape != hist.shape or ids.ndim != 1:
            raise ValueError("ids and hist must be 1-d arrays of the same length")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must be in 0..{self.vocab_size - 1}")
        if hist.size and (hist[0] != 0 or (hist < 0).any() or (hist[1:] > hist[:-1] + 1).any()):
            raise ValueError("hist must start at 0 and grow by at most 1 per position")
        n_pos, V = ids.shape[0], self.vocab_size
        if n_pos == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        nodes = [ids]  # nodes[j-1][p]: row of the j-gram ending at p, -1 if the model lacks it
        for j in range(2, self.order + 1):
            prev = nodes[-1]
            node = np.full(n_pos, -1, dtype=np.int64)  # (T,)
            ends = np.flatnonzero(hist >= j - 1)  # (M,)
            ends = ends[prev[ends - 1] >= 0]
            node[ends] = lookup_rows(self._keys[j - 1], prev[ends - 1] * V + ids[ends])
            nodes.append(node)
        # Dense where-updates rather than boolean compaction; a row of -1 reads the sentinel that
        # ends every table (its value does not matter for logp, and is log10 1 = 0 for backoffs).
        logp = self._logp[0][ids]  # (T,) unigram first
        longest = np.ones(n_pos, dtype=np.int64)  # (T,) length of the longest n-gram found
        for j in range(2, self.order + 1):
            found = nodes[j - 1] >= 0  # (T,)
            logp = np.where(found, self._logp_ext[j - 1][nodes[j - 1]], logp)
            longest[found] = j
        ctx = np.empty(n_pos, dtype=np.int64)  # (T,) the j-gram context ending at p - 1
        for j in range(1, self.order):
            ctx[0] = -1
            ctx[1:] = nodes[j - 1][:-1]
            ctx[hist == 0] = -1  # p - 1 belongs to the previous sentence
            backs_off = longest <= j  # (T,) the (j+1)-gram is absent: back off through the j-gram
            logp += np.where(backs_off, self._logb_ext[j - 1][ctx], 0.0)
            if self._missing_logb:
                logp += np.where(backs_off & (ctx < 0) & (hist >= j), self._missing_logb, 0.0)
        return logp, longest

    def score_ngrams(self, ngrams) -> np.ndarray:
        """log10 p(last | the others) for each row of an (N, k) array of ids, k <= order."""
        ngrams = np.asarray(ngrams, dtype=np.int64)
        if ngrams.ndim != 2:
            raise ValueError("ngrams must be a 2-d (N, k) array of token ids")
        n, k = ngrams.shape
        self._check_k(k)
        hist = np.tile(np.arange(k, dtype=np.int64), n)  # (N*k,)
        return self.score_ids(ngrams.reshape(-1), hist).reshape(n, k)[:, -1]

    def logprob(self, word, context: Sequence | None = ()) -> float:
        """log10 p(word | context); the context (None: empty) may start with `<s>` and has at most
        order - 1 tokens. Unknown tokens count as `<unk>`."""
        context = _context(context)
        if len(context) > self.order - 1:
            raise ValueError(
                f"context has {len(context)} tokens but an order-{self.order} model uses at most {self.order - 1}"
            )
        ids = self.encode(context + (word,))
        return float(self.score_ids(ids, np.arange(ids.shape[0]))[-1])

    def _flatten(self, sentences: Iterable[Sequence], *, bos: bool, eos: bool):
        """Sentences -> (ids (T,), hist (T,), scored (T,) mask, sentence index (T,), number of sentences)."""
        sentences = sentences if isinstance(sentences, list) else list(sentences)
        words, lengths = _words_and_lengths(sentences)
        ids = np.fromiter(map(self._index.get, words, repeat(0)), dtype=np.int64, count=len(words))
        ids, hist = pad_sentences(ids, lengths, bos=bos, eos=eos)
        scored = hist > 0 if bos else np.ones(ids.shape[0], dtype=bool)  # <s> is never predicted
        sentence_of = np.repeat(np.arange(lengths.shape[0]), lengths + int(bos) + int(eos))  # (T,)
        return ids, hist, scored, sentence_of, len(sentences)

    def score_sentence(self, sentence: Sequence, *, bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a sentence (a sequence of tokens), like `kenlm.Model.score`."""
        ids, hist, scored, _, _ = self._flatten([sentence], bos=bos, eos=eos)
        return float(self.score_ids(ids, hist)[scored].sum())

    def score(self, sentence, *, bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a sentence, as `kenlm.Model.score`: a str is split on whitespace, a sequence
        is taken as its tokens; `bos`/`eos` add `<s>` / `</s>`."""
        return self.score_sentence(_tokens(sentence), bos=bos, eos=eos)

    def full_scores(self, sentence, *, bos: bool = True, eos: bool = True):
        """One (log10 p, ngram_length, oov) per scored token (`</s>` included with `eos`), as
        `kenlm.Model.full_scores`: ngram_length is the length of the longest n-gram the model holds that ends
        at the token (the rest came from backoffs), oov whether the token is out of the vocabulary."""
        ids, hist, scored, _, _ = self._flatten([_tokens(sentence)], bos=bos, eos=eos)
        logp, longest = self._score_ids(ids, hist)
        for lp, n, i in zip(logp[scored].tolist(), longest[scored].tolist(), ids[scored].tolist()):
            yield lp, n, i == 0

    def score_sentences(self, sentences: Iterable[Sequence], *, bos: bool = True, eos: bool = True) -> np.ndarray:
        """log10 probability of each sentence, vectorised over all of them."""
        ids, hist, scored, sentence_of, n = self._flatten(sentences, bos=bos, eos=eos)
        logp = self.score_ids(ids, hist)  # (T,)
        return np.bincount(sentence_of[scored], weights=logp[scored], minlength=n)

    def evaluate(self, sentences: Iterable[Sequence], *, progress=None) -> Evaluation:
        """Total log10 probability, token and OOV counts over sentences; OOVs are scored as `<unk>`
        (so perplexity stays finite); the `Evaluation` also gives the perplexity without them.
        progress(done, total) is called after every EVAL_CHUNK sentences."""
        sentences = sentences if isinstance(sentences, list) else list(sentences)
        n = len(sentences)
        n_tokens = n_oov = 0
        log10_prob = log10_prob_oov = 0.0
        for start in range(0, n, EVAL_CHUNK):
            ids, hist, scored, _, _ = self._flatten(sentences[start:start + EVAL_CHUNK], bos=True, eos=True)
            logp = self.score_ids(ids, hist)[scored]  # (N,)
            oov = ids[scored] == 0  # (N,)
            n_tokens += int(logp.shape[0])
            n_oov += int(oov.sum())
            log10_prob += float(logp.sum())
            log10_prob_oov += float(logp[oov].sum())
            if progress is not None:
                progress(min(start + EVAL_CHUNK, n), n)
        return Evaluation(n_sentences=n, n_tokens=n_tokens, n_oov=n_oov, log10_prob=log10_prob,
                          log10_prob_oov=log10_prob_oov)

    def perplexity(self, sentences: Iterable[Sequence], *, exclude_oov: bool = False) -> float:
        """Perplexity over sentences, counting one `</s>` per sentence; with `exclude_oov`, OOV tokens
        are left out of both the log-probability and the token count (KenLM's second figure)."""
        ev = self.evaluate(sentences)
        return ev.perplexity_excluding_oov if exclude_oov else ev.perplexity

    # --------------------------------------------------------------------------------- sampling
    def _context_rows(self, context_ids: Sequence[int]) -> list[int]:
        """rows[j-1]: row of the last j context ids in table j; stops after the first absent (-1)."""
        rows: list[int] = []
        for j in range(1, min(len(context_ids), self.order - 1) + 1):
            rows.append(self._lookup(context_ids[-j:]))
            if rows[-1] < 0:
                break
        return rows

    def _lookup(self, ids: Sequence[int]) -> int:
        row = int(ids[0])
        for j in range(2, len(ids) + 1):
            row = int(lookup_rows(self._keys[j - 1], np.array([row * self.vocab_size + ids[j - 1]]))[0])
            if row < 0:
                return -1
        return row

    def next_distribution(self, context: Sequence | None = ()) -> np.ndarray:
        """p(w | context) for every vocabulary id w (None: the empty context), as a (V,) array
        (renormalised for stupid backoff, whose scores do not sum to 1)."""
        context = _context(context)
        ctx = list(self.encode(context))[-(self.order - 1):] if self.order > 1 else []
        return self._distribution(ctx)

    def _distribution(self, ctx: list[int]) -> np.ndarray:
        V = self.vocab_size
        prob = self._unigram_prob.copy()  # (V,)
        rows = self._context_rows(ctx)
        for j, row in enumerate(rows, start=1):
            if row < 0:
                if self._missing_logb:
                    prob *= 10.0 ** self._missing_logb
                break
            prob *= 10.0 ** self._logb[j - 1][row]
            keys = self._keys[j]
            lo, hi = np.searchsorted(keys, [row * V, (row + 1) * V])
            prob[keys[lo:hi] - row * V] = 10.0 ** self._logp[j][lo:hi]
        total = prob.sum()
        if not total > 0:
            raise ValueError("the model gives this context no probability mass")
        return prob / total

    def generate(
        self,
        n: int,
        *,
        context: Sequence | None = (),
        temperature: float = 1.0,
        top_k: int | None = None,
        rng: np.random.Generator,
    ) -> list:
        """Sample n tokens after `context`: empty or None (the default) starts a sentence; otherwise, as for
        `logprob`, it is the middle of a sentence unless it starts with `<s>`. A drawn `</s>` is
        emitted and the next token starts a new sentence. No count is ever rescanned: a step costs O(continuations
        of the context + log V), or O(V) numpy work with a temperature or top-k."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        if n < 0:
            raise ValueError("n must be >= 0")
        if not temperature > 0:
            raise ValueError("temperature must be > 0")
        if top_k is not None and top_k < 1:
            raise ValueError("top_k must be >= 1")
        context = _context(context)
        # as for logprob, a context is the middle of a sentence unless it starts with <s>
        history = [int(i) for i in self.encode(context)] if context else [1]
        # Without temperature or top-k, sample by descending the backoff chain (exact, see _draw);
        # otherwise build the whole (V,) distribution and reshape it.
        exact_chain = temperature == 1.0 and top_k is None and not self._missing_logb
        keep = self.order - 1
        out = []
        for _ in range(n):
            ctx = history[max(0, len(history) - keep):] if keep else []
            word = self._draw(ctx, rng) if exact_chain else None
            if word is None:
                prob = self._distribution(ctx)  # (V,)
                if temperature != 1.0:
                    with np.errstate(divide="ignore"):
                        logits = np.log(prob) / temperature  # (V,)
                    prob = np.exp(logits - logits.max())
                if top_k is not None and top_k < prob.shape[0]:
                    cut = np.partition(prob, -top_k)[-top_k]
                    prob = np.where(prob >= cut, prob, 0.0)
                cdf = np.cumsum(prob)  # (V,)
                word = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
                word = min(word, self.vocab_size - 1)
            out.append(self.vocab[word])
            if word == 2:
                history = [1]  # a new sentence
            elif keep:
                history = history[max(0, len(history) - keep + 1):] + [word]
        return out

    def _sampling_tables(self):
        """Unigram CDF and, per order j >= 2, where each (j-1)-gram's continuations start."""
        if "starts" not in self._cache:
            V = self.vocab_size
            self._cache["unigram_cdf"] = np.cumsum(self._unigram_prob)  # (V,)
            self._cache["starts"] = [None] + [
                np.searchsorted(self._keys[j], np.arange(self._keys[j - 1].shape[0] + 1) * V)  # (N_{j-1}+1,)
                for j in range(1, self.order)
            ]
        return self._cache["unigram_cdf"], self._cache["starts"]

    def _draw(self, ctx: list[int], rng: np.random.Generator, *, max_tries: int = 64):
        """One exact sample of p(. | ctx) in O(continuations + log V), or None to ask for the O(V) way.

        At a held context c: p(w | c) = P(w) for its seen continuations S (total E), and
        b(c) p(w | c') elsewhere, whose mass is 1 - E. So with probability E draw from S by P;
        otherwise draw from p(. | c') (recursively) until the word is not in S (rejection)."""
        cdf, starts = self._sampling_tables()
        rows = [r for r in self._context_rows(ctx) if r >= 0]  # rows[j-1]: the length-j context
        V = self.vocab_size

        def draw(level: int):
            if level == 0:
                return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            row = rows[level - 1]
            lo, hi = starts[level][row], starts[level][row + 1]
            words = self._keys[level][lo:hi] - row * V  # (C,) sorted continuation ids
            cum = np.cumsum(10.0 ** self._logp[level][lo:hi])  # (C,)
            u = rng.random()
            if cum.shape[0] and u < cum[-1]:
                return int(words[min(int(np.searchsorted(cum, u, side="right")), cum.shape[0] - 1)])
            for _ in range(max_tries):
                word = draw(level - 1)
                if word is None:
                    return None
                at = int(np.searchsorted(words, word))
                if at == words.shape[0] or words[at] != word:
                    return word
            return None

        word = draw(len(rows))
        return None if word is None else min(word, V - 1)

    # ------------------------------------------------------------------------------------ files
    def to_arpa(self, path, *, progress=None) -> None:
        """Write an ARPA file (gzip when the name ends in .gz), atomically; progress(k, order) is
        called as each order is written."""
        if self.smoothing == "stupid_backoff":
            raise ValueError(
                "stupid_backoff scores are unnormalised and back off on unseen contexts too, which the "
                "ARPA format cannot express; save it with NgramModel.save instead"
            )
        write_arpa(path, vocab=self.vocab, keys=self._keys, logp=self._logp, logb=self._logb, progress=progress)

    @classmethod
    def from_arpa(cls, path, *, bos: str = "<s>", eos: str = "</s>", unk: str = "<unk>") -> "NgramModel":
        """Read an ARPA file (gzip when the name ends in .gz). Tokens come back as strings."""
        t = read_arpa(path, bos=bos, eos=eos, unk=unk)
        return cls(vocab=t.vocab, keys=t.keys, logp=t.logp, logb=t.logb, smoothing="arpa")

    def save(self, path) -> None:
        """The native compact format: one .npz with the tables and a JSON header, written atomically."""
        header = {
            "format": NPZ_FORMAT,
            "order": self.order,
            "smoothing": self.smoothing,
            "vocab": list(self.vocab),
            "discounts": [list(d) for d in self.discounts],
            "missing_logb": self._missing_logb,
            "metadata": self.metadata,
        }
        arrays = {}
        for k in range(self.order):
            arrays[f"keys{k + 1}"] = self._keys[k]
            arrays[f"logp{k + 1}"] = self._logp[k]
            if k < self.order - 1:
                arrays[f"logb{k + 1}"] = self._logb[k]
        try:
            header["sha256"] = content_hash(header, arrays)
        except TypeError as exc:
            raise TypeError("only str and int tokens can be saved") from exc
        arrays["header"] = np.array(json.dumps(header))

        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> "NgramModel":
        """Read a model written by `save`, trusting nothing in it: a malformed header, a table that is not
        what scoring assumes (`_check_tables`) or content that differs from the hash `save` recorded raises
        NgramFileError naming the file (FileNotFoundError for a missing file). Files written before the
        hash was recorded (OLD_NPZ_FORMATS) are loaded when every other check passes."""
        with NpzFile(path, NgramFileError, kind=f"a readable {NPZ_FORMAT} model") as data:
            if "__meta__" in data:  # a neural checkpoint, a common mix-up
                meta = data.read_json("__meta__")
                family = meta.get("family") if isinstance(meta, dict) and isinstance(meta.get("family"), str) else "?"
                raise NgramFileError(f"{path} holds a {family} checkpoint, not an n-gram model: use `lm {family}`")
            if "header" not in data:
                raise NgramFileError(f"{path}: not a {NPZ_FORMAT} model (no header)")
            header = data.read_json("header")
            fields = _check_header(header, path, n_arrays=len(data.files))
            order = fields["order"]
            names = [f"{t}{k}" for k in range(1, order + 1) for t in ("keys", "logp", "logb")
                     if (t, k) != ("logb", order)]
            for name in names:
                want = "int64" if name.startswith("keys") else "float64"
                if name not in data or data.dtype(name) != np.dtype(want) or len(data.shape(name)) != 1:
                    raise NgramFileError(f"{path}: table {name} is missing or is not a 1-d {want} array")
            arrays = {name: data[name] for name in names}
        if "sha256" in header and header["sha256"] != content_hash(header, arrays):
            raise NgramFileError(f"{path}: its content differs from the SHA-256 recorded when it was saved "
                                 "(the file was modified or damaged)")
        try:
            return cls(keys=[arrays[f"keys{k}"] for k in range(1, order + 1)],
                       logp=[arrays[f"logp{k}"] for k in range(1, order + 1)],
                       logb=[arrays[f"logb{k}"] for k in range(1, order)], **fields["model"])
        except (ValueError, TypeError) as exc:
            raise NgramFileError(f"{path}: not a valid n-gram model: {exc}") from None


def _check_header(header, path, *, n_arrays: int) -> dict:
    """{"order": int, "model": the other keyword arguments of NgramModel} of a .npz header, each field of
    the type and range `save` writes; anything else raises NgramFileError."""
    def fail(what):
        raise NgramFileError(f"{path}: not a readable {NPZ_FORMAT} model: {what}")

    if not isinstance(header, dict):
        fail(f"the header is a JSON {type(header).__name__}, not an object")
    if header.get("format") not in (NPZ_FORMAT, *OLD_NPZ_FORMATS):
        fail(f"format is {header.get('format')!r}")
    if header["format"] == NPZ_FORMAT and "sha256" not in header:
        fail("its header lacks the SHA-256 of its content")
    order, vocab, smoothing = header.get("order"), header.get("vocab"), header.get("smoothing")
    if not _is_int(order) or not 1 <= order <= n_arrays:
        fail(f"order {order!r} is not an integer in 1..{n_arrays}")
    if not isinstance(vocab, list) or not all(isinstance(t, str) or _is_int(t) for t in vocab):
        fail("vocab is not a list of str or int tokens")
    if smoothing not in (*estimators.SMOOTHINGS, "arpa"):
        fail(f"unknown smoothing {smoothing!r}")
    discounts, missing_logb = header.get("discounts", []), header.get("missing_logb", 0.0)
    if not isinstance(discounts, list) or not all(isinstance(d, list) and all(_is_finite(x) for x in d)
                                                  for d in discounts):
        fail("discounts are not lists of finite numbers")
    if not _is_finite(missing_logb):
        fail(f"missing_logb {missing_logb!r} is not a finite number")
    metadata = header.get("metadata")  # absent from files written before it was recorded
    if metadata is not None and not isinstance(metadata, dict):
        fail("metadata is not a JSON object")
    if "sha256" in header and not isinstance(header["sha256"], str):
        fail("sha256 is not a string")
    return {"order": order, "model": dict(vocab=vocab, smoothing=smoothing, discounts=discounts,
                                          missing_logb=missing_logb, metadata=metadata)}


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_finite(x) -> bool:
    return (isinstance(x, float) or _is_int(x)) and math.isfinite(x)


def _check_tables(keys, logp, logb, missing_logb: float) -> None:
    """Raise ValueError unless the tables are what scoring assumes (lengths are checked by the caller):
    unigram keys are the ids 0..V-1; each higher order's keys are strictly increasing (sorted, unique) and
    name a held (k-1)-gram prefix; log10 probabilities are <= 0 (-inf allowed: probability 0), never NaN;
    log10 backoffs are not NaN or +inf; the missing-context backoff is finite and <= 0."""
    V = keys[0].shape[0]
    if not np.array_equal(keys[0], np.arange(V)):
        raise ValueError("the unigram keys must be the ids 0..V-1 in order")
    for k in range(2, len(keys) + 1):
        key = keys[k - 1]
        if key.shape[0] and (key[0] < 0 or key[-1] >= keys[k - 2].shape[0] * V):
            raise ValueError(f"order {k}: a key is out of range (it names no held {k - 1}-gram prefix)")
        if key.shape[0] > 1 and not (key[1:] > key[:-1]).all():
            raise ValueError(f"order {k}: the keys are not sorted and unique")
    for k, p in enumerate(logp, start=1):
        if not (p <= 0).all():  # NaN fails this too
            raise ValueError(f"order {k}: a log10 probability is NaN or positive")
    for k, b in enumerate(logb, start=1):
        if np.isnan(b).any() or np.isposinf(b).any():
            raise ValueError(f"order {k}: a log10 backoff is NaN or +inf")
    if not (math.isfinite(missing_logb) and missing_logb <= 0):
        raise ValueError(f"missing_logb must be finite and <= 0, got {missing_logb}")


def _words_and_lengths(sentences: list) -> tuple[list, np.ndarray]:
    """All tokens in one list, and each sentence's length."""
    for sentence in sentences:
        _check_sentence(sentence)
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))  # (S,)
    return list(chain.from_iterable(sentences)), lengths


def pad_sentences(words: np.ndarray, lengths: np.ndarray, *, bos: bool = True, eos: bool = True):
    """Flat word ids and sentence lengths -> (ids, hist) with <s> (id 1) / </s> (id 2) around each
    sentence; hist[p] counts the positions before p in the same sentence.

    >>> ids, hist = pad_sentences(np.array([7, 8, 9]), np.array([2, 1]))
    >>> ids.tolist(), hist.tolist()
    ([1, 7, 8, 2, 1, 9, 2], [0, 1, 2, 3, 0, 1, 2])
    """
    padded = lengths + int(bos) + int(eos)  # (S,)
    starts = np.cumsum(padded) - padded  # (S,)
    ids = np.empty(int(padded.sum()), dtype=np.int64)  # (T,)
    word_pos = np.arange(words.shape[0]) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + int(bos)
    ids[word_pos] = words
    if bos:
        ids[starts] = 1
    if eos:
        ids[starts + padded - 1] = 2
    hist = np.arange(ids.shape[0], dtype=np.int64) - np.repeat(starts, padded)  # (T,)
    return ids, hist


def _frozen(a, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype).copy()
    a.flags.writeable = False
    return a


def check_train_options(*, order: int = 3, smoothing: str = "mkn", min_count: int = 1, k: float = 1.0,
                        alpha: float = 0.4, discount_fallback: tuple = estimators.DEFAULT_DISCOUNT_FALLBACK,
                        discount: float | None = None) -> None:
    """Raise ValueError unless `train_ngram` can use these options; the command line calls it before reading
    any data. k and alpha are checked whatever the smoothing: a value out of range is a mistake even where
    it is unused. NaN fails every range.

    >>> check_train_options(smoothing="add_k", k=0)
    Traceback (most recent call last):
    ...
    ValueError: k must be finite and > 0, got 0
    """
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if smoothing not in estimators.SMOOTHINGS:
        raise ValueError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(estimators.SMOOTHINGS)}")
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    if not 0 < k < math.inf:
        raise ValueError(f"k must be finite and > 0, got {k!r}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if discount is not None and not 0 < discount <= 1:
        raise ValueError(f"discount must be in (0, 1] (or None: estimated), got {discount!r}")
    if len(discount_fallback) != 3 or not all(0 <= d <= j for j, d in zip((1, 2, 3), discount_fallback)):
        raise ValueError("discount_fallback must be (D1, D2, D3+) with 0 <= Dj <= j")


def train_ngram(
    sentences: Iterable[Sequence],
    *,
    order: int = 3,
    smoothing: str = "mkn",
    min_count: int = 1,
    k: float = 1.0,
    alpha: float = 0.4,
    discount_fallback: tuple = estimators.DEFAULT_DISCOUNT_FALLBACK,
    discount: float | None = None,
    max_vocab_size: int | None = None,
    vocabulary: Iterable | None = None,
    prune: Sequence[int] | None = None,
    bos="<s>",
    eos="</s>",
    unk="<unk>",
    metadata: dict | None = None,
    progress=None,
) -> NgramModel:
    """Train an n-gram model on sentences, each a sequence of tokens (str or int ids).

    `<s>`/`</s>` (or the given `bos`/`eos` tokens) are added around each sentence. Tokens seen fewer
    than `min_count` times become `<unk>`. `smoothing` is one of "mle", "add_k" (uses `k`; Laplace
    when k = 1; add-k at the highest order only, lower orders uniform: NLTK's per-order add-k is
    `lm.ngram.Lidstone`), "absolute" (interpolated absolute discounting), "kn", "mkn" (the default,
    lmplz's estimate), "witten_bell", "stupid_backoff" (uses `alpha`; unnormalised scores).
    `discount` in (0, 1] fixes the discount of "kn" and "absolute" at every order (None: estimated).
    `max_vocab_size` keeps only that many words (besides `<unk>`, `<s>`, `</s>`), the most frequent (ties:
    first seen); `vocabulary` fixes the words (in its order; words never seen are kept with count 0). Every
    other token becomes `<unk>`, as with `min_count`, which `vocabulary` overrides.
    `prune` = thresholds per order, as lmplz --prune (e.g. (0, 1, 1): drop the bigrams and trigrams seen
    once; non-decreasing, the first 0, the last repeated for higher orders): an n-gram whose raw count is
    <= its order's threshold is dropped unless it is the context of a kept longer n-gram, and the backoff
    of every context is recomputed so that its distribution still sums to 1 (lmplz's numbers differ).
    `discount_fallback` = (D1, D2, D3+) replaces the
    Kneser-Ney discounts of an order whose closed form is undefined, as lmplz --discount_fallback.
    `metadata` (JSON) records what made the model, see `NgramModel.metadata`. progress(done, order + 1)
    is called as each order is counted, and once more when the estimate is done.

    >>> m = train_ngram([["je", "suis", "content"], ["je", "suis"]], order=2, smoothing="mle")
    >>> round(10 ** m.logprob("content", ["suis"]), 6)
    0.5
    """
    check_train_options(order=order, smoothing=smoothing, min_count=min_count, k=k, alpha=alpha,
                        discount_fallback=discount_fallback, discount=discount)
    if prune is not None:
        prune = _prune_thresholds(prune, order)
        if smoothing == "stupid_backoff" and any(prune):
            raise ValueError("stupid_backoff cannot be pruned: its scores are not probabilities to renormalise")
    if max_vocab_size is not None and (not isinstance(max_vocab_size, (int, np.integer)) or max_vocab_size < 0):
        raise ValueError(f"max_vocab_size must be an integer >= 0 or None, got {max_vocab_size!r}")
    if len({bos, eos, unk}) != 3:
        raise ValueError("bos, eos and unk must be three different tokens")

    sentences = sentences if isinstance(sentences, list) else list(sentences)
    words, lengths = _words_and_lengths(sentences)
    if not words:
        raise ValueError("training data is empty: no sentence has any token")
    vocab_index = {unk: 0, bos: 1, eos: 2}
    # first-appearance order, as lmplz numbers its vocabulary
    if vocabulary is not None:
        if isinstance(vocabulary, (str, bytes)):
            raise TypeError("vocabulary must be an iterable of tokens, not a string")
        kept = dict.fromkeys(vocabulary)  # the user's order; words never seen keep a count of 0
    elif min_count > 1 or max_vocab_size is not None:
        counted = Counter(words)
        kept = [t for t, c in counted.items() if c >= min_count and t not in vocab_index]
        if max_vocab_size is not None and len(kept) > max_vocab_size:
            rank = sorted(range(len(kept)), key=lambda i: -counted[kept[i]])  # stable: ties by first appearance
            kept = [kept[i] for i in sorted(rank[:max_vocab_size])]
    else:
        kept = dict.fromkeys(words)
    for token in kept:
        if isinstance(token, np.generic):  # numpy ints hash like ints: keep the plain Python value
            token = token.item()
        if token not in vocab_index:
            vocab_index[token] = len(vocab_index)
    word_ids = np.fromiter(map(vocab_index.get, words, repeat(0)), dtype=np.int64, count=len(words))  # (N,)
    if ((word_ids == 1) | (word_ids == 2)).any():
        raise ValueError(f"the tokens {bos!r} and {eos!r} are added per sentence and must not occur inside one")
    ids, hist = pad_sentences(word_ids, lengths)
    vocab = list(vocab_index)
    counted = None if progress is None else (lambda k, _: progress(k, order + 1))
    counts = count_ngrams(ids, hist, order=order, vocab_size=len(vocab), progress=counted)

    if smoothing in ("kn", "mkn"):
        est = estimators.kneser_ney(
            counts, bos_id=1, modified=smoothing == "mkn", discount_fallback=tuple(discount_fallback),
            discount=None if smoothing == "mkn" or discount is None else float(discount),
        )
    elif smoothing == "absolute":
        est = estimators.absolute_discounting(counts, bos_id=1, discount=discount)
    elif smoothing == "witten_bell":
        est = estimators.witten_bell(counts, bos_id=1)
    elif smoothing == "mle":
        est = estimators.mle(counts, bos_id=1)
    elif smoothing == "add_k":
        est = estimators.add_k(counts, bos_id=1, k=float(k))
    else:
        est = estimators.stupid_backoff(counts, bos_id=1, alpha=float(alpha))
    keys, logp, logb = [t.keys for t in counts.tables], [np.minimum(p, 0.0) for p in est.logp], est.logb
    if prune is not None and any(prune):
        keys, logp, logb = _prune(counts, vocab, keys, logp, logb, prune)
    if progress is not None:
        progress(order + 1, order + 1)
    return NgramModel(
        vocab=vocab,
        keys=keys,
        logp=logp,  # a probability rounded above 1 is 1
        logb=logb,
        smoothing=smoothing,
        discounts=est.discounts,
        missing_logb=est.missing_logb,
        metadata=metadata,
    )


def _prune_thresholds(prune, order: int) -> tuple[int, ...]:
    """lmplz --prune thresholds, one per order (the last repeated), checked."""
    prune = [int(t) for t in prune]
    if not prune or prune[0] != 0 or any(t < 0 for t in prune) or any(b < a for a, b in zip(prune, prune[1:])):
        raise ValueError(f"prune thresholds must be non-decreasing integers >= 0 starting with 0 (unigrams are "
                         f"never pruned), got {prune!r}")
    return tuple((prune + [prune[-1]] * order)[:order])


def _prune(counts, vocab, keys, logp, logb, thresholds):
    """Drop the n-grams whose raw count is <= their order's threshold (but keep the contexts of kept longer
    n-grams), then recompute each context's backoff so its distribution sums to 1 again:

        b(c) = (1 - sum of p(w | c) over its kept continuations w) / (1 - sum of p(w | c') over the same w),

    c' being c without its first word, p(. | c') the already-pruned lower-order model."""
    order, V = len(keys), len(vocab)
    # 1. what is kept, from the top order down (a kept n-gram keeps its prefix)
    keep = [None] * order
    keep[0] = np.ones(V, dtype=bool)
    for k in range(order, 1, -1):
        kept = counts.tables[k - 1].counts > thresholds[k - 1]  # (N_k,)
        if k < order:
            kept |= np.bincount(keys[k] // V, weights=keep[k], minlength=kept.shape[0]) > 0
        keep[k - 1] = kept
    # 2. re-key the kept rows (rows renumbered in order, so the keys stay sorted) and recompute backoffs
    new_keys, new_logp, new_logb = [keys[0]], [logp[0]], [b.copy() for b in logb]
    for k in range(2, order + 1):
        rows = np.cumsum(keep[k - 2]) - 1  # (N_{k-1},) new row of each kept (k-1)-gram
        kept = keep[k - 1]
        prefix = keys[k - 1][kept] // V  # (M,) old rows
        new_keys.append(rows[prefix] * V + keys[k - 1][kept] % V)
        new_logp.append(logp[k - 1][kept])
        new_logb[k - 2] = new_logb[k - 2][keep[k - 2]]
        # the lower-order model, final up to order k-1, scores each kept k-gram's suffix
        lower = NgramModel(vocab=vocab, keys=new_keys[:k - 1], logp=new_logp[:k - 1], logb=new_logb[:k - 2],
                           smoothing="pruned")
        words = _words_of(keys[:k], V, k)[kept]  # (M, k)
        p_low = 10.0 ** lower.score_ngrams(words[:, 1:]) if k > 2 else 10.0 ** lower._logp[0][words[:, 1]]
        p_high = 10.0 ** new_logp[-1]  # (M,)
        ctx = rows[prefix]  # (M,) new context rows
        n_ctx = new_keys[k - 2].shape[0]
        num = 1.0 - np.bincount(ctx, weights=p_high, minlength=n_ctx)  # (n_ctx,)
        den = 1.0 - np.bincount(ctx, weights=p_low, minlength=n_ctx)  # (n_ctx,)
        ok = (den > 1e-12) & (num > 0)
        with np.errstate(divide="ignore"):
            new_logb[k - 2] = np.where(ok, np.log10(np.where(ok, num / np.where(ok, den, 1.0), 1.0)),
                                       np.where(num <= 0, -np.inf, new_logb[k - 2]))
    return new_keys, new_logp, new_logb


def _words_of(keys, V: int, k: int) -> np.ndarray:
    """(N_k, k) word ids of every k-gram of keys[k-1]."""
    words = np.empty((keys[k - 1].shape[0], k), dtype=np.int64)
    rows = np.arange(words.shape[0])
    for j in range(k, 0, -1):
        key = keys[j - 1][rows]
        words[:, j - 1] = key % V
        rows = key // V
    return words
