"""MLPLM: Bengio et al. (2003)'s fixed-context neural LM, the smallest neural language model.

The previous ``context`` token embeddings are concatenated, passed through one tanh hidden layer, then a
softmax over the vocabulary: P(w_t | w_{t-n+1..t-1}) = softmax(U·tanh(H·[e(w_{t-n+1}); ...] + d) + b).
``forward(idx (B, context), targets (B,) = None) -> (logits (B, V), loss)``; ``backward(dlogits=None)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import LanguageModel, ModelConfig
from .layers import Dropout, Embedding, Linear, Tanh


@dataclass
class MLPLMConfig(ModelConfig):
    vocab_size: int = 512     # number of token ids
    context: int = 3          # n − 1 previous tokens
    d_embed: int = 32         # embedding width per token
    d_hidden: int = 128       # tanh hidden units
    dropout: float = 0.0      # on the hidden layer, training mode only
    dtype: str = "float32"    # "float32" or "float64"

    POSITIVE: ClassVar[tuple[str, ...]] = ("vocab_size", "context", "d_embed", "d_hidden")

    def n_params(self) -> int:
        """What ``MLPLM(self).n_params()`` is, without building it: embedding, hidden Linear, output Linear."""
        v, h = self.vocab_size, self.d_hidden
        return v * self.d_embed + (self.context * self.d_embed + 1) * h + (h + 1) * v


class MLPLM(LanguageModel):
    def __init__(self, config: MLPLMConfig, *, rng: np.random.Generator):
        self.config = c = config
        self.emb = Embedding(c.vocab_size, c.d_embed, rng=rng, std=0.1, dtype=c.dtype)
        self.hidden = Linear(c.context * c.d_embed, c.d_hidden, rng=rng, std=(c.context * c.d_embed) ** -0.5,
                             dtype=c.dtype)
        self.act = Tanh()
        self.drop = Dropout(c.dropout, rng=rng)
        self.out = Linear(c.d_hidden, c.vocab_size, rng=rng, std=c.d_hidden ** -0.5, dtype=c.dtype)

    def forward(self, idx, targets=None):
        c = self.config
        idx = np.asarray(idx)
        if idx.ndim != 2 or idx.shape[1] != c.context:
            raise ValueError(f"MLPLM takes (batch, {c.context}) context ids, got shape {idx.shape}")
        e = self.emb.forward(idx)  # (B, context, d_embed)
        h = self.drop.forward(self.act.forward(self.hidden.forward(e.reshape(idx.shape[0], -1))))  # (B, H)
        logits = self.out.forward(h)  # (B, V)
        return logits, self.loss(logits, targets)

    def backward(self, dlogits=None) -> None:
        dh = self.act.backward(self.drop.backward(self.out.backward(self.loss_grad(dlogits))))
        de = self.hidden.backward(dh)  # (B, context * d_embed)
        self.emb.backward(de.reshape(de.shape[0], self.config.context, -1))
