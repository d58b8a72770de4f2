"""Multi-head attention: causal or bidirectional self-attention (with a key padding mask) and
cross-attention, all heads stacked in one (B, H, T, D) array so every product is one batched matmul."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .layers import Linear
from .module import Module


class KVCache:
    """The keys and values (B, H, S, D) one causal self-attention layer has computed so far, so that
    generating a token costs one new position instead of the whole prefix (see ``MultiHeadAttention.step``)."""

    def __init__(self):
        self.k = None
        self.v = None

    @property
    def length(self) -> int:
        """How many positions the cache holds."""
        return 0 if self.k is None else self.k.shape[2]

    def extend(self, k: np.ndarray, v: np.ndarray):
        """Append t positions' keys and values (B, H, t, D); returns all of them (B, H, S, D)."""
        self.k = k if self.k is None else np.concatenate([self.k, k], axis=2)
        self.v = v if self.v is None else np.concatenate([self.v, v], axis=2)
        return self.k, self.v


class MultiHeadAttention(Module):
    """Self-attention (fused q/k/v projection) or, with ``cross=True``, attention from x to a context.

    forward(x (B, T, C), *, context=None (B, S, C), key_mask=None (B, Tk) bool, True = real token)
    backward(dy) -> dx for self-attention, (dx, dcontext) for cross-attention.
    """

    def __init__(self, d_model: int, n_head: int, *, rng: np.random.Generator, causal: bool = False,
                 cross: bool = False, bias: bool = True, proj_std: float = 0.02, dtype="float32"):
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        self.n_head = n_head
        self.causal = causal
        self.cross = cross
        if cross:
            self.q = Linear(d_model, d_model, rng=rng, bias=bias, dtype=dtype)
            self.kv = Linear(d_model, 2 * d_model, rng=rng, bias=bias, dtype=dtype)
        else:
            self.qkv = Linear(d_model, 3 * d_model, rng=rng, bias=bias, dtype=dtype)
        self.proj = Linear(d_model, d_model, rng=rng, bias=bias, std=proj_std, dtype=dtype)
        self._cache = None
        self._tril = {}

    def _mask(self, tq: int, tk: int, key_mask):
        mask = None
        if self.causal:
            if (tq, tk) not in self._tril:
                self._tril[(tq, tk)] = np.tri(tq, tk, dtype=bool)  # (Tq, Tk)
            mask = self._tril[(tq, tk)]
        if key_mask is not None:
            km = np.asarray(key_mask, dtype=bool)[:, None, None, :]  # (B, 1, 1, Tk)
            mask = km if mask is None else (mask & km)
        return mask

    def forward(self, x: np.ndarray, *, context: np.ndarray | None = None, key_mask=None) -> np.ndarray:
        b, t, c = x.shape
        h = self.n_head
        d = c // h
        if self.cross:
            if context is None:
                raise ValueError("cross-attention needs a context")
            s = context.shape[1]
            q = self.q.forward(x).reshape(b, t, h, d).transpose(0, 2, 1, 3)  # (B, H, T, D)
            kv = self.kv.forward(context).reshape(b, s, 2, h, d).transpose(2, 0, 3, 1, 4)  # (2, B, H, S, D)
            k, v = kv[0], kv[1]
        else:
            s = t
            qkv = self.qkv.forward(x).reshape(b, t, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, D)
            q, k, v = qkv[0], qkv[1], qkv[2]
        y, probs, qs = F.attention(q, k, v, mask=self._mask(t, s, key_mask))  # (B, H, T, D)
        self._cache = (qs, k, v, probs, s)
        y = y.transpose(0, 2, 1, 3).reshape(b, t, c)  # (B, T, C)
        return self.proj.forward(y)

    def step(self, x: np.ndarray, cache: KVCache) -> np.ndarray:
        """Causal self-attention of t new positions x (B, t, C) that follow the ``cache.length`` positions
        already in ``cache``: their keys and values join the cache, and each new query attends to every
        cached key up to its own position. Forward only, for generation (nothing is kept for backward)."""
        if self.cross or not self.causal:
            raise ValueError("a key/value cache needs causal self-attention")
        b, t, c = x.shape
        h = self.n_head
        qkv = self.qkv.forward(x).reshape(b, t, 3, h, c // h).transpose(2, 0, 3, 1, 4)  # (3, B, H, t, D)
        k, v = cache.extend(qkv[1], qkv[2])  # (B, H, S, D)
        s = k.shape[2]
        # new query i sits at absolute position s − t + i and may see keys 0 .. s − t + i
        mask = np.tri(t, s, k=s - t, dtype=bool) if t > 1 else None  # (t, S)
        y, _, _ = F.attention(qkv[0], k, v, mask=mask)  # (B, H, t, D)
        return self.proj.forward(y.transpose(0, 2, 1, 3).reshape(b, t, c))

    def backward(self, dy: np.ndarray):
        q, k, v, probs, s = self._cache  # q is the scaled query q/√D
        b, h, t, d = q.shape
        c = h * d
        dyh = self.proj.backward(dy).reshape(b, t, h, d).transpose(0, 2, 1, 3)  # (B, H, T, D)
        if self.cross:
            dq = np.empty((b, t, h, d), dtype=q.dtype)
            dkv = np.empty((b, s, 2, h, d), dtype=q.dtype)
            kv_views = dkv.transpose(2, 0, 3, 1, 4)  # (2, B, H, S, D)
            F.attention_backward(dyh, q, k, v, probs, out=(dq.transpose(0, 2, 1, 3), kv_views[0], kv_views[1]))
            dx = self.q.backward(dq.reshape(b, t, c))
            dcontext = self.kv.backward(dkv.reshape(b, s, 2 * c))
            return dx, dcontext
        # write dq, dk, dv straight into the fused (B, T, 3C) layout the qkv projection expects
        dqkv = np.empty((b, t, 3, h, d), dtype=q.dtype)
        views = dqkv.transpose(2, 0, 3, 1, 4)  # (3, B, H, T, D)
        F.attention_backward(dyh, q, k, v, probs, out=(views[0], views[1], views[2]))
        return self.qkv.backward(dqkv.reshape(b, t, 3 * c))
