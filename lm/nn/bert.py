"""BERT: an encoder-only transformer (bidirectional self-attention with a padding mask) and an MLM head
(Linear → GELU → LayerNorm → output projection tied to the token embedding, plus an output bias).

Blocks are pre-LN like GPT's (original BERT is post-LN; pre-LN trains without warm-up tricks at this
size). ``forward(idx, targets=None, *, key_mask=None) -> (logits, loss)``; ``backward(dlogits=None)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .blocks import Block
from .gpt import check_ids
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear
from .module import Module, Parameter, check_config, resolve_dtype


@dataclass
class BERTConfig:
    vocab_size: int = 512         # including the special ids ([PAD], [MASK], ...)
    block_size: int = 64          # longest sequence
    n_layer: int = 2              # transformer blocks
    n_head: int = 4               # attention heads
    d_model: int = 128            # residual width
    d_ff: int | None = None       # MLP width; None means 4 * d_model
    dropout: float = 0.0          # embeddings and residual branches, training mode only
    label_smoothing: float = 0.0  # ε of the MLM cross-entropy (train mode only; eval mode uses 0)
    dtype: str = "float32"        # "float32" or "float64"

    def __post_init__(self):
        check_config(self, ("vocab_size", "block_size", "n_layer", "n_head", "d_model"))

    def to_dict(self) -> dict:
        return asdict(self)


class BERT(Module):
    def __init__(self, config: BERTConfig, *, rng: np.random.Generator):
        self.config = c = config
        dt = c.dtype
        self.wte = Embedding(c.vocab_size, c.d_model, rng=rng, dtype=dt)
        self.wpe = Embedding(c.block_size, c.d_model, rng=rng, dtype=dt)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = [Block(c.d_model, c.n_head, c.d_ff or 4 * c.d_model, rng=rng, causal=False,
                             dropout=c.dropout, dtype=dt) for _ in range(c.n_layer)]
        self.ln_f = LayerNorm(c.d_model, dtype=dt)
        self.head_fc = Linear(c.d_model, c.d_model, rng=rng, dtype=dt)
        self.head_act = GELU()
        self.head_ln = LayerNorm(c.d_model, dtype=dt)
        self.head_bias = Parameter(np.zeros(c.vocab_size, dtype=resolve_dtype(dt)), decay=False)
        self._h = None
        self._dloss = None

    def forward_hidden(self, idx, *, key_mask=None) -> np.ndarray:
        c = self.config
        idx = check_ids(idx, vocab_size=c.vocab_size, block_size=c.block_size)
        if key_mask is not None and np.shape(key_mask) != idx.shape:
            raise ValueError(f"key_mask shape {np.shape(key_mask)} does not match ids shape {idx.shape}")
        x = self.drop.forward(self.wte.forward(idx) + self.wpe.forward(np.arange(idx.shape[1])))  # (B, T, C)
        for block in self.blocks:
            x = block.forward(x, key_mask=key_mask)
        return self.ln_f.forward(x)

    def forward(self, idx, targets=None, *, key_mask=None):
        """(B, T) ids -> (MLM logits (B, T, V), mean cross-entropy over non-ignored targets or None)."""
        h = self.forward_hidden(idx, key_mask=key_mask)
        h = self.head_ln.forward(self.head_act.forward(self.head_fc.forward(h)))  # (B, T, C)
        self._h = h
        w = self.wte.weight.data
        logits = (h.reshape(-1, h.shape[-1]) @ w.T).reshape(h.shape[:-1] + (w.shape[0],))  # (B, T, V)
        logits += self.head_bias.data
        self._dloss = None
        if targets is None:
            return logits, None
        eps = self.config.label_smoothing if self.training else 0.0  # eval mode: the plain cross-entropy
        loss, self._dloss = F.cross_entropy(logits, np.asarray(targets), label_smoothing=eps, grad=True)
        return logits, loss

    def backward(self, dlogits=None) -> None:
        if dlogits is None:
            if self._dloss is None:
                raise RuntimeError("backward() needs a preceding forward(idx, targets) or dlogits")
            dlogits = self._dloss
        h = self._h
        w = self.wte.weight
        dl2 = dlogits.reshape(-1, w.data.shape[0])  # (N, V)
        self.head_bias.grad += F.ones(dl2.shape[0], dl2.dtype) @ dl2
        w.grad += dl2.T @ h.reshape(-1, h.shape[-1])
        dh = (dl2 @ w.data).reshape(h.shape)
        dx = self.ln_f.backward(self.head_fc.backward(self.head_act.backward(self.head_ln.backward(dh))))
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        dx = self.drop.backward(dx)
        self.wte.backward(dx)
        self.wpe.backward(dx.sum(axis=0))
