"""Leaf layers: Embedding, Linear, LayerNorm, RMSNorm, GELU, Tanh, Dropout."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, Parameter, resolve_dtype


def _normal(rng: np.random.Generator, shape, std: float, dtype) -> np.ndarray:
    return (rng.standard_normal(shape) * std).astype(dtype)


class Embedding(Module):
    """Row lookup W[idx]; the backward scatters rows back with ``np.add.at`` (repeats accumulate)."""

    def __init__(self, n_embeddings: int, dim: int, *, rng: np.random.Generator, std: float = 0.02,
                 dtype="float32"):
        self.weight = Parameter(_normal(rng, (n_embeddings, dim), std, resolve_dtype(dtype)), decay=False)
        self._idx = None

    def forward(self, idx: np.ndarray) -> np.ndarray:
        n = self.weight.data.shape[0]
        idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"token ids must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"token id out of range [0, {n}): min {idx.min()}, max {idx.max()}")
        self._idx = idx
        return self.weight.data[idx]  # (..., dim)

    def backward(self, dy: np.ndarray) -> None:
        F.embedding_backward(self.weight.grad, self._idx, dy)


class Linear(Module):
    """y = x @ W + b with W stored as (in, out), so neither pass needs a transpose copy."""

    def __init__(self, d_in: int, d_out: int, *, rng: np.random.Generator, bias: bool = True,
                 std: float = 0.02, dtype="float32"):
        dt = resolve_dtype(dtype)
        self.weight = Parameter(_normal(rng, (d_in, d_out), std, dt), decay=True)
        self.bias = Parameter(np.zeros(d_out, dtype=dt), decay=False) if bias else None
        self._x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        d_in, d_out = self.weight.data.shape
        # 2-D products: numpy runs a stacked (B, T, C) @ (C, F) as B small GEMMs, several times slower
        y = x.reshape(-1, d_in) @ self.weight.data  # (N, out)
        if self.bias is not None:
            y += self.bias.data
        return y.reshape(x.shape[:-1] + (d_out,))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_in, d_out = self.weight.data.shape
        x2 = self._x.reshape(-1, d_in)
        dy2 = dy.reshape(-1, d_out)
        self.weight.grad += x2.T @ dy2  # (in, out)
        if self.bias is not None:
            self.bias.grad += F.ones(dy2.shape[0], dy2.dtype) @ dy2  # column sums through BLAS
        return (dy2 @ self.weight.data.T).reshape(self._x.shape)  # (..., in)


class LayerNorm(Module):
    def __init__(self, dim: int, *, bias: bool = True, eps: float = 1e-5, dtype="float32"):
        dt = resolve_dtype(dtype)
        self.weight = Parameter(np.ones(dim, dtype=dt), decay=False)
        self.bias = Parameter(np.zeros(dim, dtype=dt), decay=False) if bias else None
        self.eps = float(eps)
        self._cache = None

    def forward(self, x):
        y, xhat, rstd = F.layer_norm(x, self.weight.data, None if self.bias is None else self.bias.data,
                                     eps=self.eps)
        self._cache = (xhat, rstd)
        return y

    def backward(self, dy):
        xhat, rstd = self._cache
        dx, dw, db = F.layer_norm_backward(dy, xhat, rstd, self.weight.data)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx


class RMSNorm(Module):
    def __init__(self, dim: int, *, eps: float = 1e-6, dtype="float32"):
        self.weight = Parameter(np.ones(dim, dtype=resolve_dtype(dtype)), decay=False)
        self.eps = float(eps)
        self._cache = None

    def forward(self, x):
        y, xhat, rrms = F.rms_norm(x, self.weight.data, eps=self.eps)
        self._cache = (xhat, rrms)
        return y

    def backward(self, dy):
        xhat, rrms = self._cache
        dx, dw = F.rms_norm_backward(dy, xhat, rrms, self.weight.data)
        self.weight.grad += dw
        return dx


class GELU(Module):
    """GELU with torch's ``approximate`` argument. The default here is "tanh" (GPT-2's, and every lm model's);
    torch's default is "none", the exact erf form — pass it to match ``torch.nn.GELU()``."""

    def __init__(self, approximate: str = "tanh"):
        F._check_gelu_form(approximate)
        self.approximate = approximate
        self._cache = None

    def forward(self, x):
        y, t = F.gelu(x, approximate=self.approximate)
        self._cache = (x, t)
        return y

    def backward(self, dy):
        x, t = self._cache
        return F.gelu_backward(dy, x, t, approximate=self.approximate)


class Tanh(Module):
    def __init__(self):
        self._y = None

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        return F.tanh_backward(dy, self._y)


class Dropout(Module):
    """Inverted dropout while training, identity in eval mode (see ``functional.dropout``)."""

    def __init__(self, p: float, *, rng: np.random.Generator):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = rng
        self._mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        y, self._mask = F.dropout(x, self.p, rng=self.rng)
        return y

    def backward(self, dy):
        return F.dropout_backward(dy, self._mask)
