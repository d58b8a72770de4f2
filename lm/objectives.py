"""Self-supervised objectives: next-token (causal) LM, masked LM (BERT), span corruption (T5).

Each turns token ids into (inputs, labels) arrays; labels hold ``IGNORE_INDEX`` where no loss applies.

>>> import numpy as np
>>> causal_lm_pair(np.array([[5, 6, 7, 8]]))
(array([[5, 6, 7]]), array([[6, 7, 8]]))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .functional import IGNORE_INDEX


def causal_lm_pair(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, T+1) windows -> inputs ids[:, :-1] and next-token targets ids[:, 1:]."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(f"causal_lm_pair needs (batch, time >= 2) ids, got shape {ids.shape}")
    return ids[:, :-1], ids[:, 1:]


def mask_tokens(ids: np.ndarray, *, mask_id: int, vocab_size: int, rng: np.random.Generator,
                special_ids: Sequence[int] = (), mask_prob: float = 0.15, replace_mask: float = 0.8,
                replace_random: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking: choose each non-special token with probability ``mask_prob``; of those, 80% become
    ``mask_id``, 10% a uniformly random non-special token, 10% stay unchanged. Labels are the original
    ids at chosen positions and IGNORE_INDEX everywhere else. Special tokens (padding, [CLS], the mask
    itself, ...) are never chosen and never drawn as random replacements.
    """
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
    if not 0.0 <= mask_prob <= 1.0 or replace_mask < 0 or replace_random < 0 or replace_mask + replace_random > 1:
        raise ValueError("need 0 <= mask_prob <= 1 and replace_mask + replace_random <= 1 (both >= 0)")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id {mask_id} is outside the vocabulary [0, {vocab_size})")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"token id out of range [0, {vocab_size})")
    special = np.unique(np.asarray(list(special_ids) + [mask_id], dtype=np.int64))
    is_special = np.isin(ids, special)
    chosen = (rng.random(ids.shape) < mask_prob) & ~is_special
    labels = np.where(chosen, ids, IGNORE_INDEX)
    u = rng.random(ids.shape)
    to_mask = chosen & (u < replace_mask)
    to_random = chosen & (u >= replace_mask) & (u < replace_mask + replace_random)
    inputs = ids.copy()
    inputs[to_mask] = mask_id
    ordinary = np.setdiff1d(np.arange(vocab_size), special)
    if to_random.any():
        if ordinary.size == 0:
            raise ValueError("no non-special token ids to draw random replacements from")
        inputs[to_random] = ordinary[rng.integers(0, ordinary.size, int(to_random.sum()))]
    return inputs, labels


def _random_composition(total: int, parts: int, *, min_part: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` into ``parts`` integers >= min_part, uniformly over all such splits."""
    free = total - parts * min_part
    # stars and bars: choose the positions of parts-1 bars among free + parts - 1 slots
    bars = np.sort(rng.choice(free + parts - 1, size=parts - 1, replace=False))
    edges = np.concatenate([[-1], bars, [free + parts - 1]])
    return np.diff(edges) - 1 + min_part


def span_noise_mask(length: int, *, noise_density: float = 0.15, mean_span_length: float = 3.0,
                    rng: np.random.Generator) -> np.ndarray:
    """Boolean (length,) mask of the noise spans for span corruption.

    n_noise = round(length · density) (at least 1, at most length − 1) tokens are split into
    n_spans = round(n_noise / mean_span_length) (at least 1) spans. Unlike the reference implementation,
    which always starts with a kept segment and so, for short sequences with a single span, always
    masks the *suffix*, spans here are placed uniformly: the kept tokens are split into n_spans + 1 gaps
    whose first and last may be empty, and every valid arrangement is equally likely.
    """
    if length < 2:
        raise ValueError(f"span corruption needs at least 2 tokens, got {length}")
    if not 0.0 < noise_density < 1.0 or mean_span_length < 1.0:
        raise ValueError("need 0 < noise_density < 1 and mean_span_length >= 1")
    n_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    n_keep = length - n_noise
    n_spans = max(int(round(n_noise / mean_span_length)), 1)
    n_spans = min(n_spans, n_keep + 1)  # spans must be separated by at least one kept token
    noise_lengths = _random_composition(n_noise, n_spans, min_part=1, rng=rng)
    # gaps: [lead, inner_1 .. inner_{n-1}, tail]; inner gaps >= 1, ends >= 0
    inner_extra = _random_composition(n_keep - (n_spans - 1), n_spans + 1, min_part=0, rng=rng)
    gaps = inner_extra + np.r_[0, np.ones(n_spans - 1, dtype=np.int64), 0]
    mask = np.zeros(length, dtype=bool)
    pos = 0
    for i in range(n_spans):
        pos += gaps[i]
        mask[pos:pos + noise_lengths[i]] = True
        pos += noise_lengths[i]
    return mask


def span_corrupt(ids: np.ndarray, *, sentinel_ids: Sequence[int], rng: np.random.Generator,
                 noise_density: float = 0.15, mean_span_length: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """T5 span corruption of a 1-D sequence: each noise span in the input is replaced by the next
    sentinel; the target lists each sentinel followed by the span it hides.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> inp, tgt = span_corrupt(np.arange(10), sentinel_ids=[99, 98], rng=rng)
    >>> list(span_reconstruct(inp, tgt, sentinel_ids=[99, 98])) == list(range(10))
    True
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"span_corrupt takes one sequence (1-D), got shape {ids.shape}")
    sentinels = np.asarray(list(sentinel_ids))
    if np.isin(ids, sentinels).any():
        raise ValueError("the sequence already contains sentinel ids")
    mask = span_noise_mask(len(ids), noise_density=noise_density, mean_span_length=mean_span_length, rng=rng)
    starts = mask & ~np.r_[False, mask[:-1]]  # first token of each noise span
    n_spans = int(starts.sum())
    if n_spans > len(sentinels):
        raise ValueError(f"{n_spans} noise spans need {n_spans} sentinel ids, only {len(sentinels)} given")
    span_no = np.cumsum(starts) - 1  # span index of each noise token
    inputs = np.where(starts, sentinels[np.maximum(span_no, 0)], ids)[~mask | starts]
    # targets: each span's sentinel, then its tokens
    tgt_positions = np.flatnonzero(mask)
    tgt_tokens = ids[tgt_positions]
    out = []
    for k in range(n_spans):
        out.append(sentinels[k])
        out.extend(tgt_tokens[span_no[tgt_positions] == k])
    return inputs, np.asarray(out, dtype=ids.dtype)


def span_reconstruct(inputs: np.ndarray, targets: np.ndarray, *, sentinel_ids: Sequence[int]) -> np.ndarray:
    """Invert ``span_corrupt``: put each sentinel's span back into the input."""
    sentinels = list(sentinel_ids)
    where = {s: i for i, s in enumerate(sentinels)}
    spans: dict[int, list] = {}
    current = None
    for tok in np.asarray(targets).tolist():
        if tok in where:
            current = where[tok]
            spans[current] = []
        elif current is None:
            raise ValueError("targets must start with a sentinel")
        else:
            spans[current].append(tok)
    out = []
    for tok in np.asarray(inputs).tolist():
        out.extend(spans[where[tok]] if tok in where else [tok])
    return np.asarray(out, dtype=np.asarray(inputs).dtype)
