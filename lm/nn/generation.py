"""Sampling from a decoder: ``sample_logits`` (greedy, temperature, top-k) and ``generate``, which runs the
model through a key/value cache so each new token costs one position instead of the whole prefix.

The model is any decoder with ``new_cache()``, ``forward_step(idx, cache)`` (hidden states of new positions
that follow the cached ones) and ``logits_from_hidden(h)``: ``lm.nn.GPT``. ``GPT.generate`` and lm.rlhf's
rollouts both sample through here. ``cached_logits`` is the test oracle's view: the logits of every
position computed one position at a time, to compare with one full forward.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F


def sample_logits(logits: np.ndarray, *, temperature: float, top_k: int | None,
                  rng: np.random.Generator) -> np.ndarray:
    """One id per row of (B, V) logits: greedy at temperature 0, else softmax(logits/T) over the top k."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature  # (B, V); float64 so tiny probabilities sum exactly
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]  # (B, 1)
        z = np.where(z < kth, -np.inf, z)
    p = F.softmax(z)
    u = rng.random((z.shape[0], 1))
    return np.minimum((p.cumsum(axis=-1) < u).sum(axis=-1), z.shape[-1] - 1)


def check_sampling(*, temperature: float, top_k: int | None, n: int = 0) -> None:
    """Raise ValueError unless temperature is finite and >= 0, top_k None or >= 1, and n (tokens to
    sample) >= 0; the command line calls it before loading a model."""
    if not 0 <= temperature < float("inf"):  # NaN fails too
        raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
    if top_k is not None and top_k <= 0:
        raise ValueError(f"top_k must be positive, got {top_k}")
    if n < 0:
        raise ValueError(f"the number of tokens to sample must be >= 0, got {n}")


def cached_logits(model, ids: np.ndarray) -> np.ndarray:
    """Logits of every position fed one position at a time through the cache: (B, T) -> (B, T, V)."""
    cache = model.new_cache()
    with model.evaluating():
        return np.concatenate([model.logits_from_hidden(model.forward_step(ids[:, t:t + 1], cache))
                               for t in range(ids.shape[1])], axis=1)  # (B, T, V)


def generate(model, ids: np.ndarray, n_new: int, *, temperature: float = 1.0, top_k: int | None = None,
             rng: np.random.Generator) -> np.ndarray:
    """Append ``n_new`` sampled tokens to each row of ``ids`` (B, P): returns (B, P + n_new), in eval mode.

    The model sees at most its last ``block_size`` tokens. While the sequence fits, each step feeds only
    the new token through the cache; once the window is full it slides, every position shifts, and the
    window is recomputed from scratch at each step (exactly what a full forward of the window computes).
    """
    check_sampling(temperature=temperature, top_k=top_k, n=n_new)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"generate needs (B, P) prompt ids with P >= 1, got shape {ids.shape}")
    window = model.config.block_size
    out = [ids]
    with model.evaluating():
        cache = model.new_cache()
        h = model.forward_step(ids[:, -window:], cache)[:, -1]  # (B, C) hidden state of the last position
        n_cached = min(ids.shape[1], window)  # positions the cache holds
        for i in range(n_new):
            token = sample_logits(model.logits_from_hidden(h), temperature=temperature, top_k=top_k,
                                  rng=rng)  # (B,)
            out.append(token[:, None])
            if i + 1 == n_new:
                break
            if n_cached < window:
                h = model.forward_step(token[:, None], cache)[:, -1]
                n_cached += 1
            else:  # the window slides: every cached key sits at a stale position
                cache = model.new_cache()
                h = model.forward_step(np.concatenate(out, axis=1)[:, -window:], cache)[:, -1]
    return np.concatenate(out, axis=1)
