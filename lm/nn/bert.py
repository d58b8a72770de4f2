"""BERT: an encoder-only transformer (bidirectional self-attention with a padding mask) and an MLM head
(Linear → GELU → LayerNorm → output projection tied to the token embedding, plus an output bias).

Blocks are pre-LN like GPT's (original BERT is post-LN; pre-LN trains without warm-up tricks at this
size). ``forward(idx, targets=None, *, key_mask=None) -> (logits, loss)``; ``backward(dlogits=None)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .base import LanguageModel, TransformerConfig, check_ids, tied_logits, tied_logits_backward
from .blocks import Block, n_block_params
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear
from .module import Parameter, resolve_dtype


@dataclass
class BERTConfig(TransformerConfig):
    """vocab_size counts the special ids ([PAD], [MASK], ...); block_size is the longest sequence."""

    def n_params(self) -> int:
        """What ``BERT(self).n_params()`` is, without building it: embeddings, blocks, final LayerNorm, then
        the MLM head (Linear, LayerNorm, output bias)."""
        c = self.d_model
        block = n_block_params(c, self.ff_width)
        return (self.vocab_size + self.block_size) * c + self.n_layer * block + 2 * c + (c * c + c) + 2 * c \
            + self.vocab_size


class BERT(LanguageModel):
    def __init__(self, config: BERTConfig, *, rng: np.random.Generator):
        self.config = c = config
        dt = c.dtype
        self.wte = Embedding(c.vocab_size, c.d_model, rng=rng, dtype=dt)
        self.wpe = Embedding(c.block_size, c.d_model, rng=rng, dtype=dt)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = [Block(c.d_model, c.n_head, c.ff_width, rng=rng, causal=False,
                             dropout=c.dropout, dtype=dt) for _ in range(c.n_layer)]
        self.ln_f = LayerNorm(c.d_model, dtype=dt)
        self.head_fc = Linear(c.d_model, c.d_model, rng=rng, dtype=dt)
        self.head_act = GELU()
        self.head_ln = LayerNorm(c.d_model, dtype=dt)
        self.head_bias = Parameter(np.zeros(c.vocab_size, dtype=resolve_dtype(dt)), decay=False)
        self._h = None

    def forward_hidden(self, idx, *, key_mask=None) -> np.ndarray:
        c = self.config
        idx = check_ids(idx, vocab_size=c.vocab_size, block_size=c.block_size, key_mask=key_mask)
        x = self.drop.forward(self.wte.forward(idx) + self.wpe.forward(np.arange(idx.shape[1])))  # (B, T, C)
        for block in self.blocks:
            x = block.forward(x, key_mask=key_mask)
        return self.ln_f.forward(x)

    def forward(self, idx, targets=None, *, key_mask=None):
        """(B, T) ids -> (MLM logits (B, T, V), mean cross-entropy over non-ignored targets or None)."""
        h = self.forward_hidden(idx, key_mask=key_mask)
        h = self.head_ln.forward(self.head_act.forward(self.head_fc.forward(h)))  # (B, T, C)
        self._h = h
        logits = tied_logits(h, self.wte.weight.data)  # (B, T, V)
        logits += self.head_bias.data
        return logits, self.loss(logits, targets)

    def backward(self, dlogits=None) -> None:
        dlogits = self.loss_grad(dlogits)
        dl2 = dlogits.reshape(-1, dlogits.shape[-1])  # (N, V)
        self.head_bias.grad += F.ones(dl2.shape[0], dl2.dtype) @ dl2
        dh = tied_logits_backward(dlogits, self._h, self.wte.weight)  # (B, T, C)
        dx = self.ln_f.backward(self.head_fc.backward(self.head_act.backward(self.head_ln.backward(dh))))
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        dx = self.drop.backward(dx)
        self.wte.backward(dx)
        self.wpe.backward(dx.sum(axis=0))
