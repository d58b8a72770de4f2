"""T5-style encoder-decoder: a bidirectional encoder, a causal decoder whose blocks also cross-attend to
the encoder output, RMSNorm, no biases, one token embedding shared by encoder input, decoder input
and the (tied) output projection.

Simplification: positions are learned absolute embeddings (one table per side) instead of T5's
bucketed relative position bias.
``forward(enc_ids, dec_ids, targets=None, *, enc_mask=None) -> (logits, loss)``; ``backward(dlogits=None)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import functional as F
from .base import LanguageModel, TransformerConfig, check_ids, tied_logits, tied_logits_backward
from .blocks import Block, n_block_params
from .generation import check_sampling, sample_logits
from .layers import Dropout, Embedding, RMSNorm, _normal
from .module import Parameter, resolve_dtype


@dataclass
class T5Config(TransformerConfig):
    """block_size is the longest encoder input; n_layer counts the blocks on each side."""

    target_size: int = 32         # longest decoder input

    POSITIVE: ClassVar[tuple[str, ...]] = TransformerConfig.POSITIVE + ("target_size",)

    def n_params(self) -> int:
        """What ``T5(self).n_params()`` is, without building it: the shared embedding, two position tables,
        encoder and decoder blocks (RMSNorm, no biases; the decoder's cross-attend), two final norms."""
        c, f = self.d_model, self.ff_width
        encoder = n_block_params(c, f, norm="rms", bias=False)
        decoder = n_block_params(c, f, cross=True, norm="rms", bias=False)
        return (self.vocab_size + self.block_size + self.target_size) * c + self.n_layer * (encoder + decoder) + 2 * c


class T5(LanguageModel):
    def __init__(self, config: T5Config, *, rng: np.random.Generator):
        self.config = c = config
        dt = c.dtype
        d_ff = c.ff_width
        self.shared = Parameter(_normal(rng, (c.vocab_size, c.d_model), 0.02, resolve_dtype(dt)), decay=False)
        self.enc_pos = Embedding(c.block_size, c.d_model, rng=rng, dtype=dt)
        self.dec_pos = Embedding(c.target_size, c.d_model, rng=rng, dtype=dt)
        self.enc_drop = Dropout(c.dropout, rng=rng)
        self.dec_drop = Dropout(c.dropout, rng=rng)
        self.encoder = [Block(c.d_model, c.n_head, d_ff, rng=rng, causal=False, norm="rms", bias=False,
                              dropout=c.dropout, dtype=dt) for _ in range(c.n_layer)]
        self.enc_norm = RMSNorm(c.d_model, dtype=dt)
        self.decoder = [Block(c.d_model, c.n_head, d_ff, rng=rng, causal=True, cross=True, norm="rms", bias=False,
                              dropout=c.dropout, dtype=dt) for _ in range(c.n_layer)]
        self.dec_norm = RMSNorm(c.d_model, dtype=dt)
        self._cache = None

    def encode(self, enc_ids, *, enc_mask=None) -> np.ndarray:
        c = self.config
        enc_ids = check_ids(enc_ids, vocab_size=c.vocab_size, block_size=c.block_size, key_mask=enc_mask)
        x = self.shared.data[enc_ids] + self.enc_pos.forward(np.arange(enc_ids.shape[1]))  # (B, S, C)
        x = self.enc_drop.forward(x)
        for block in self.encoder:
            x = block.forward(x, key_mask=enc_mask)
        return self.enc_norm.forward(x)

    def forward(self, enc_ids, dec_ids, targets=None, *, enc_mask=None):
        """(B, S) encoder ids, (B, T) decoder ids -> (logits (B, T, V), mean cross-entropy or None)."""
        c = self.config
        context = self.encode(enc_ids, enc_mask=enc_mask)  # (B, S, C)
        dec_ids = check_ids(dec_ids, vocab_size=c.vocab_size, block_size=c.target_size)
        if dec_ids.shape[0] != context.shape[0]:
            raise ValueError(f"encoder batch {context.shape[0]} != decoder batch {dec_ids.shape[0]}")
        y = self.shared.data[dec_ids] + self.dec_pos.forward(np.arange(dec_ids.shape[1]))  # (B, T, C)
        y = self.dec_drop.forward(y)
        for block in self.decoder:
            y = block.forward(y, context=context, context_mask=enc_mask)
        h = self.dec_norm.forward(y)  # (B, T, C)
        logits = tied_logits(h, self.shared.data)  # (B, T, V)
        self._cache = (np.asarray(enc_ids), dec_ids, h, context)
        return logits, self.loss(logits, targets)

    def backward(self, dlogits=None) -> None:
        dlogits = self.loss_grad(dlogits)
        enc_ids, dec_ids, h, context = self._cache
        dy = self.dec_norm.backward(tied_logits_backward(dlogits, h, self.shared))
        dcontext = np.zeros_like(context)  # every decoder block reads the same encoder output
        for block in reversed(self.decoder):
            dy, dctx = block.backward(dy)
            dcontext += dctx
        dy = self.dec_drop.backward(dy)
        F.embedding_backward(self.shared.grad, dec_ids, dy)
        self.dec_pos.backward(dy.sum(axis=0))
        dx = self.enc_norm.backward(dcontext)
        for block in reversed(self.encoder):
            dx = block.backward(dx)
        dx = self.enc_drop.backward(dx)
        F.embedding_backward(self.shared.grad, enc_ids, dx)
        self.enc_pos.backward(dx.sum(axis=0))

    def generate(self, enc_ids, n: int, *, start_id: int, rng: np.random.Generator, temperature: float = 1.0,
                 top_k: int | None = None, enc_mask=None) -> np.ndarray:
        """Decode ``n`` tokens after ``start_id`` for each encoder input; returns (B, n)."""
        check_sampling(temperature=temperature, top_k=top_k, n=n)
        enc_ids = np.asarray(enc_ids)
        out = np.full((enc_ids.shape[0], 1), start_id, dtype=np.int64)
        with self.evaluating():
            for _ in range(min(n, self.config.target_size)):
                logits, _ = self.forward(enc_ids, out, enc_mask=enc_mask)
                nxt = sample_logits(logits[:, -1], temperature=temperature, top_k=top_k, rng=rng)
                out = np.concatenate([out, nxt[:, None]], axis=1)
        return out[:, 1:]
