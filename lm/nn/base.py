"""What the language models of lm.nn share: config dataclasses, token-id checks, the tied output head,
the training loss and the "backward needs a forward" guard.

``TransformerConfig`` holds the fields GPT, BERT and T5 have in common; their configs extend it with
what is theirs (GPT's ``bias``, T5's ``target_size``). Every model class derives from ``LanguageModel``:

    logits = tied_logits(h, w)                   # (B, T, C) @ (V, C)ᵀ -> (B, T, V): the output head
    dh = tied_logits_backward(dlogits, h, w)     # w.grad += its share; returns dL/dh (B, T, C)
    loss = self.loss(logits, targets)            # mean cross-entropy; keeps dL/dlogits for backward()
    dlogits = self.loss_grad(dlogits)            # backward(): the given gradient, or the loss's
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from .. import functional as F
from .module import Module, Parameter, check_config


class ModelConfig:
    """Methods of every model config (the fields are the subclasses'): checks on construction, a dict for
    checkpoints. ``POSITIVE`` names the fields that must be positive integers."""

    POSITIVE: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        check_config(self, self.POSITIVE)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TransformerConfig(ModelConfig):
    """The fields every transformer here has; GPTConfig, BERTConfig and T5Config extend it."""

    vocab_size: int = 512         # number of token ids, special ids included
    block_size: int = 64          # context length: the longest (encoder) sequence the model accepts
    n_layer: int = 2              # transformer blocks (on each side, for an encoder-decoder)
    n_head: int = 4               # attention heads per block (d_model must be divisible by it)
    d_model: int = 128            # width of the residual stream
    d_ff: int | None = None       # MLP hidden width; None means 4 * d_model
    dropout: float = 0.0          # on embeddings and on every residual branch, training mode only
    label_smoothing: float = 0.0  # ε of the training cross-entropy (train mode only; eval mode uses 0)
    dtype: str = "float32"        # "float32" or "float64"

    POSITIVE: ClassVar[tuple[str, ...]] = ("vocab_size", "block_size", "n_layer", "n_head", "d_model")

    @property
    def ff_width(self) -> int:
        """The MLP hidden width: d_ff, or 4 · d_model when d_ff is None."""
        return self.d_ff or 4 * self.d_model


def check_ids(idx, *, vocab_size: int, block_size: int | None = None, key_mask=None) -> np.ndarray:
    """Validate a (B, T) batch of token ids: integer dtype, in range, no longer than the context, and of the
    shape of its padding mask ``key_mask`` (B, T) when there is one."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {idx.dtype}")
    if idx.ndim != 2:
        raise ValueError(f"token ids must have shape (batch, time), got {idx.shape}")
    if block_size is not None and idx.shape[1] > block_size:
        raise ValueError(f"sequence length {idx.shape[1]} exceeds the context length block_size={block_size}")
    if idx.size and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(f"token id out of range [0, {vocab_size}): min {idx.min()}, max {idx.max()}")
    if key_mask is not None and np.shape(key_mask) != idx.shape:
        raise ValueError(f"padding mask shape {np.shape(key_mask)} does not match ids shape {idx.shape}")
    return idx


def tied_logits(h: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Output projection tied to a (V, C) embedding table: (..., C) -> (..., V), one 2-D GEMM."""
    return (h.reshape(-1, h.shape[-1]) @ weight.T).reshape(h.shape[:-1] + (weight.shape[0],))


def tied_logits_backward(dlogits: np.ndarray, h: np.ndarray, weight: Parameter) -> np.ndarray:
    """Backward of ``tied_logits``: adds the head's share to weight.grad (V, C); returns dL/dh (..., C)."""
    n_vocab = weight.data.shape[0]
    if dlogits.shape != h.shape[:-1] + (n_vocab,):
        raise ValueError(f"dlogits has shape {dlogits.shape}, logits have {h.shape[:-1] + (n_vocab,)}")
    dl2 = dlogits.reshape(-1, n_vocab)  # (N, V)
    weight.grad += dl2.T @ h.reshape(-1, h.shape[-1])  # (V, C)
    return (dl2 @ weight.data).reshape(h.shape)  # (..., C)


class LanguageModel(Module):
    """Base of GPT, BERT, T5 and MLPLM: the loss of ``forward(..., targets)`` and the guard of
    ``backward()``. A model caches the gradient of its last loss; a forward without targets clears it."""

    config: ModelConfig
    _dloss: np.ndarray | None = None

    def loss(self, logits: np.ndarray, targets, *, ignore_index: int = F.IGNORE_INDEX) -> float:
        """Mean cross-entropy of ``logits`` against ``targets`` (None: no loss, returns None).

        Label smoothing (a config's ``label_smoothing``) applies in training mode only, so every
        evaluation and reported perplexity measures the model, not the regulariser."""
        self._dloss = None
        if targets is None:
            return None
        eps = getattr(self.config, "label_smoothing", 0.0) if self.training else 0.0
        loss, self._dloss = F.cross_entropy(logits, np.asarray(targets), ignore_index=ignore_index,
                                            label_smoothing=eps, grad=True)
        return loss

    def loss_grad(self, dlogits: np.ndarray | None) -> np.ndarray:
        """``dlogits`` if given, else the gradient of the last forward's loss (RuntimeError if none)."""
        if dlogits is not None:
            return dlogits
        if self._dloss is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a preceding forward(..., targets) "
                               "or an explicit gradient")
        return self._dloss
