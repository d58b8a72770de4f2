"""From a corpus and a tokenizer to training batches: causal windows, MLM batches, span-corruption pairs.

The tokenizer is anything with ``encode(text) -> list[int]`` and ``vocab_size`` (``fasttok.load(path)``
gives one). ``special_ids`` gives the special ids the objectives need: the tokenizer's own ``[PAD]`` and
``[MASK]`` when it has them (a WordPiece vocabulary does), else new ids appended *after* its vocabulary,
and T5 sentinels always appended; so any plain tokenizer works, and the model's vocabulary is
``SpecialIds.vocab_size``.

Every batch function is an endless generator driven by an explicit ``rng``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from .functional import IGNORE_INDEX
from .objectives import mask_tokens, span_corrupt


class TokenizerLike(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...


def encode_corpus(text: str, tokenizer: TokenizerLike) -> np.ndarray:
    """Token ids of the whole text as int32, checked against the tokenizer's vocabulary size."""
    if not isinstance(text, str):
        raise TypeError(f"corpus must be str, got {type(text).__name__}")
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    vocab = int(tokenizer.vocab_size)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError(f"tokenizer produced ids outside [0, {vocab})")
    return ids.astype(np.int32)


def split_ids(ids: np.ndarray, *, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: the last ``val_fraction`` of the stream is validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(ids) - int(round(len(ids) * val_fraction))
    return ids[:cut], ids[cut:]


@dataclass(frozen=True)
class SpecialIds:
    """The special ids of a model: pad, mask, T5 sentinels, and the tokenizer's other special tokens
    (``reserved``: [CLS], [SEP], [UNK], ...), which are never masked nor drawn as random replacements."""

    pad: int
    mask: int
    sentinels: tuple[int, ...]
    reserved: tuple[int, ...] = ()
    base_vocab_size: int = 0  # the tokenizer's ids 0 .. base_vocab_size - 1

    @property
    def vocab_size(self) -> int:
        return max(max(self.all) + 1, self.base_vocab_size)

    @property
    def all(self) -> tuple[int, ...]:
        return (self.pad, self.mask) + self.sentinels + self.reserved


def special_ids(base_vocab_size: int, *, n_sentinels: int = 0, tokenizer_specials=None) -> SpecialIds:
    """Special ids for a tokenizer with V ids whose own special tokens are `tokenizer_specials`
    ({token: id}, e.g. ``tok.special_tokens``): its ``[PAD]`` and ``[MASK]`` if it has them, else the
    next ids from V on (pad first); then the sentinels.

    >>> special_ids(100, n_sentinels=2)
    SpecialIds(pad=100, mask=101, sentinels=(102, 103), reserved=(), base_vocab_size=100)
    >>> special_ids(100, tokenizer_specials={"[PAD]": 0, "[CLS]": 2, "[MASK]": 4})
    SpecialIds(pad=0, mask=4, sentinels=(), reserved=(2,), base_vocab_size=100)
    """
    v = int(base_vocab_size)
    own = dict(tokenizer_specials or {})
    if any(not 0 <= i < v for i in own.values()):
        raise ValueError(f"the tokenizer's special ids must lie in [0, {v})")
    pad = own.pop("[PAD]", None)
    mask = own.pop("[MASK]", None)
    fresh = v
    if pad is None:
        pad, fresh = fresh, fresh + 1
    if mask is None:
        mask, fresh = fresh, fresh + 1
    return SpecialIds(pad=pad, mask=mask, sentinels=tuple(range(fresh, fresh + n_sentinels)),
                      reserved=tuple(sorted(set(own.values()) - {pad, mask})), base_vocab_size=v)


def _check_stream(ids: np.ndarray, need: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise TypeError("token stream must be a 1-D integer array")
    if len(ids) < need:
        raise ValueError(f"token stream has {len(ids)} ids; at least {need} are needed for one window")
    return ids


def _windows(ids: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    return ids[starts[:, None] + np.arange(length)[None, :]].astype(np.int64)  # (B, length)


def causal_batches(ids: np.ndarray, *, batch_size: int, block_size: int,
                   rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless (x, y) batches of random windows: x = ids[s : s+T], y = ids[s+1 : s+T+1]; (B, T) each."""
    ids = _check_stream(ids, block_size + 1)
    while True:
        starts = rng.integers(0, len(ids) - block_size, batch_size)
        w = _windows(ids, starts, block_size + 1)
        yield w[:, :-1], w[:, 1:]


def causal_eval_batches(ids: np.ndarray, *, batch_size: int, block_size: int):
    """Non-overlapping windows covering the stream once (the tail that does not fill a window is dropped);
    each token is predicted exactly once, so the mean loss gives the stream's per-token perplexity."""
    ids = _check_stream(ids, block_size + 1)
    starts = np.arange(0, len(ids) - block_size, block_size)
    for i in range(0, len(starts), batch_size):
        w = _windows(ids, starts[i:i + batch_size], block_size + 1)
        yield w[:, :-1], w[:, 1:]


def mlm_batches(ids: np.ndarray, *, batch_size: int, block_size: int, specials: SpecialIds,
                rng: np.random.Generator, mask_prob: float = 0.15):
    """Endless (inputs, labels) MLM batches of random windows, masked as in ``objectives.mask_tokens``."""
    ids = _check_stream(ids, block_size)
    while True:
        starts = rng.integers(0, len(ids) - block_size + 1, batch_size)
        w = _windows(ids, starts, block_size)
        yield mask_tokens(w, mask_id=specials.mask, vocab_size=specials.vocab_size, special_ids=specials.all,
                          mask_prob=mask_prob, rng=rng)


def span_batches(ids: np.ndarray, *, batch_size: int, block_size: int, target_size: int, specials: SpecialIds,
                 rng: np.random.Generator, noise_density: float = 0.15, mean_span_length: float = 3.0):
    """Endless T5 batches ``(enc_ids, enc_mask, dec_ids, targets)``.

    Each window of ``block_size`` tokens is span-corrupted; encoder inputs are right-padded with
    ``specials.pad`` (enc_mask False there). The decoder reads [pad] + targets[:-1] (pad doubles as the
    start token, as in T5) and learns targets; targets are padded with IGNORE_INDEX and truncated to
    ``target_size``.
    """
    ids = _check_stream(ids, block_size)
    if not specials.sentinels:
        raise ValueError("span corruption needs sentinel ids (special_ids(..., n_sentinels=k))")
    while True:
        starts = rng.integers(0, len(ids) - block_size + 1, batch_size)
        pairs = [span_corrupt(w, sentinel_ids=specials.sentinels, noise_density=noise_density,
                              mean_span_length=mean_span_length, rng=rng) for w in _windows(ids, starts, block_size)]
        s = max(len(i) for i, _ in pairs)
        enc = np.full((batch_size, s), specials.pad, dtype=np.int64)
        enc_mask = np.zeros((batch_size, s), dtype=bool)
        dec = np.full((batch_size, target_size), specials.pad, dtype=np.int64)
        tgt = np.full((batch_size, target_size), IGNORE_INDEX, dtype=np.int64)
        for b, (inp, t) in enumerate(pairs):
            enc[b, :len(inp)] = inp
            enc_mask[b, :len(inp)] = True
            t = t[:target_size]
            tgt[b, :len(t)] = t
            dec[b, 1:len(t)] = t[:-1]
        yield enc, enc_mask, dec, tgt
