"""T5-style encoder-decoder: a bidirectional encoder, a causal decoder whose blocks also cross-attend to
the encoder output, RMSNorm, no biases, one token embedding shared by encoder input, decoder input
and the (tied) output projection.

Simplification: positions are learned absolute embeddings (one table per side) instead of T5's
bucketed relative position bias.
``forward(enc_ids, dec_ids, targets=None, *, enc_mask=None) -> (logits, loss)``; ``backward(dlogits=None)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .blocks import Block
from .gpt import check_ids
from .layers import Dropout, Embedding, RMSNorm, _normal
from .module import Module, Parameter, check_config, resolve_dtype


@dataclass
class T5Config:
    vocab_size: int = 512         # including sentinels and padding
    block_size: int = 64          # longest encoder input
    target_size: int = 32         # longest decoder input
    n_layer: int = 2              # blocks on each side
    n_head: int = 4               # attention heads
    d_model: int = 128            # residual width
    d_ff: int | None = None       # MLP width; None means 4 * d_model
    dropout: float = 0.0          # embeddings and residual branches, training mode only
    label_smoothing: float = 0.0  # ε of the decoder cross-entropy (train mode only; eval mode uses 0)
    dtype: str = "float32"        # "float32" or "float64"

    def __post_init__(self):
        check_config(self, ("vocab_size", "block_size", "target_size", "n_layer", "n_head", "d_model"))

    def to_dict(self) -> dict:
        return asdict(self)


class T5(Module):
    def __init__(self, config: T5Config, *, rng: np.random.Generator):
        self.config = c = config
        dt = c.dtype
        d_ff = c.d_ff or 4 * c.d_model
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
        self._dloss = None

    def encode(self, enc_ids, *, enc_mask=None) -> np.ndarray:
        c = self.config
        enc_ids = check_ids(enc_ids, vocab_size=c.vocab_size, block_size=c.block_size)
        if enc_mask is not None and np.shape(enc_mask) != enc_ids.shape:
            raise ValueError(f"enc_mask shape {np.shape(enc_mask)} does not match ids shape {enc_ids.shape}")
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
        logits = (h.reshape(-1, c.d_model) @ self.shared.data.T).reshape(h.shape[:-1] + (c.vocab_size,))
        self._cache = (np.asarray(enc_ids), dec_ids, h, context)
        self._dloss = None
        if targets is None:
            return logits, None
        eps = c.label_smoothing if self.training else 0.0  # eval mode: the plain cross-entropy
        loss, self._dloss = F.cross_entropy(logits, np.asarray(targets), label_smoothing=eps, grad=True)
        return logits, loss

    def backward(self, dlogits=None) -> None:
        if dlogits is None:
            if self._dloss is None:
                raise RuntimeError("backward() needs a preceding forward(..., targets) or dlogits")
            dlogits = self._dloss
        enc_ids, dec_ids, h, context = self._cache
        c = self.config
        dl2 = dlogits.reshape(-1, c.vocab_size)  # (N, V)
        self.shared.grad += dl2.T @ h.reshape(-1, c.d_model)
        dy = self.dec_norm.backward((dl2 @ self.shared.data).reshape(h.shape))
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
        from .gpt import sample_logits

        enc_ids = np.asarray(enc_ids)
        out = np.full((enc_ids.shape[0], 1), start_id, dtype=np.int64)
        was_training = self.training
        self.eval()
        try:
            for _ in range(min(n, self.config.target_size)):
                logits, _ = self.forward(enc_ids, out, enc_mask=enc_mask)
                nxt = sample_logits(logits[:, -1], temperature=temperature, top_k=top_k, rng=rng)
                out = np.concatenate([out, nxt[:, None]], axis=1)
        finally:
            self.train(was_training)
        return out[:, 1:]
