"""Stateless numeric ops, each forward written right beside its backward.

Every function keeps the dtype of its array inputs: constants are Python floats (NumPy treats them as
"weak" scalars), never NumPy float64 scalars such as ``np.sqrt(2 / np.pi)``, which would silently
promote a float32 array to float64.

>>> import numpy as np
>>> softmax(np.array([0.0, 0.0], dtype=np.float32))
array([0.5, 0.5], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

IGNORE_INDEX = -100
# tanh-approximate GELU (GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
# Masked attention scores get this instead of -inf, so a row with every key masked (a padding query)
# yields a uniform distribution rather than NaN; exp(-1e30 - max) is exactly 0 in float32 and float64.
MASKED_SCORE = -1e30


# ----------------------------------------------------------------------------- softmax family

def softmax(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """exp(x) / Σ exp(x) along ``axis``, shifted by the max for stability."""
    z = x - x.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def softmax_backward(dy: np.ndarray, y: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Gradient through y = softmax(x): dx = y ⊙ (dy − Σ dy ⊙ y)."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """log softmax(x), computed as x − max − log Σ exp(x − max)."""
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def log_softmax_backward(dy: np.ndarray, logp: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Gradient through logp = log_softmax(x): dx = dy − softmax(x) · Σ dy."""
    return dy - np.exp(logp) * dy.sum(axis=axis, keepdims=True)


def token_log_probs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log P(targets[..., t]) under softmax(logits[..., t, :]); shape ``targets.shape``.

    RLHF-style objectives need these per-token log-probabilities; pair with ``token_log_probs_backward``.
    """
    logp = log_softmax(logits)  # (..., V)
    return np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (...)


def token_log_probs_backward(dlogp: np.ndarray, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. ``logits`` of Σ dlogp ⊙ token_log_probs(logits, targets)."""
    p = softmax(logits)  # (..., V)
    dx = -p * dlogp[..., None]  # (..., V)
    np.put_along_axis(dx, targets[..., None], np.take_along_axis(dx, targets[..., None], -1) + dlogp[..., None], -1)
    return dx


# ----------------------------------------------------------------------------- embedding

def embedding_backward(weight_grad: np.ndarray, idx: np.ndarray, dy: np.ndarray) -> None:
    """weight_grad[idx] += dy, summing repeated ids. (V, C) grad, (...) ids, (..., C) dy."""
    dim = weight_grad.shape[1]
    idx = np.asarray(idx).reshape(-1)
    # sort the ids once and sum each run of equal ids with reduceat: several times faster than
    # np.add.at, which scatters row by row
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    weight_grad[sorted_idx[starts]] += np.add.reduceat(dy.reshape(-1, dim)[order], starts, axis=0)


# ----------------------------------------------------------------------------- activations

def gelu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tanh-approximate GELU; returns (y, t) where t = tanh(·) is kept for the backward pass."""
    t = x * x
    t *= _GELU_A
    t += 1.0
    t *= x
    t *= _GELU_C
    np.tanh(t, out=t)
    y = t + 1.0
    y *= x
    y *= 0.5
    return y, t


def gelu_backward(dy: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d gelu/dx = ½(1 + t) + ½·x·(1 − t²)·c·(1 + 3a·x²), with t from the forward pass."""
    inner = x * x
    inner *= 3.0 * _GELU_A
    inner += 1.0
    inner *= _GELU_C
    inner *= x
    sech2 = t * t
    np.subtract(1.0, sech2, out=sech2)
    inner *= sech2
    inner += t
    inner += 1.0
    inner *= 0.5
    inner *= dy
    return inner


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return dy * (1.0 - y * y)


# ----------------------------------------------------------------------------- dropout

def dropout(x: np.ndarray, p: float, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: zero each entry with probability p and scale survivors by 1/(1−p).

    Scaling at training time keeps E[y] = x, so inference is the identity. The seed's formulation
    (no scaling while training, multiply activations by the keep probability at inference) computes
    the same expected activations; inverted dropout just moves the constant to training time.
    Returns (y, mask) where mask already holds the 1/(1−p) factor (None when p == 0).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if p == 0.0:
        return x, None
    mask = rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= p
    mask = mask.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return dy if mask is None else dy * mask


# ----------------------------------------------------------------------------- normalisation

def ones(n: int, dtype) -> np.ndarray:
    """A cached read-only vector of ones: ``x @ ones(C)`` is a BLAS row-sum, ~3× faster than sum(axis=-1)."""
    key = (n, np.dtype(dtype))
    v = _ONES.get(key)
    if v is None:
        v = _ONES[key] = np.ones(n, dtype=dtype)
        v.flags.writeable = False
    return v


_ONES: dict = {}


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_c a[..., c]·b[..., c] without materialising a·b."""
    return np.einsum("...c,...c->...", a, b)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *, eps: float = 1e-5):
    """(x − mean) / √(var + eps) · weight + bias over the last axis; returns (y, xhat, rstd)."""
    c = x.shape[-1]
    inv_c = 1.0 / c
    mu = x @ ones(c, x.dtype)  # (...,)
    mu *= inv_c
    xc = x - mu[..., None]  # (..., C)
    var = row_dot(xc, xc)  # (...,)
    var *= inv_c
    var += eps
    rstd = 1.0 / np.sqrt(var)  # (...,)
    rstd = rstd[..., None]  # (..., 1)
    xhat = xc
    xhat *= rstd
    y = xhat * weight
    if bias is not None:
        y += bias
    return y, xhat, rstd


def layer_norm_backward(dy: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, weight: np.ndarray):
    """Returns (dx, dweight, dbias)."""
    c = xhat.shape[-1]
    dy2 = dy.reshape(-1, c)
    dweight = np.einsum("nc,nc->c", dy2, xhat.reshape(-1, c))
    dbias = ones(dy2.shape[0], dy.dtype) @ dy2  # (C,) column sums through BLAS
    dxhat = dy * weight  # (..., C)
    m1 = dxhat @ ones(c, dy.dtype)  # (...,)
    m1 *= 1.0 / c
    m2 = row_dot(dxhat, xhat)
    m2 *= 1.0 / c
    tmp = xhat * m2[..., None]
    tmp += m1[..., None]
    dxhat -= tmp
    dxhat *= rstd
    return dxhat, dweight, dbias


def rms_norm(x: np.ndarray, weight: np.ndarray, *, eps: float = 1e-6):
    """x / √(mean(x²) + eps) · weight over the last axis; returns (y, xhat, rrms)."""
    ms = row_dot(x, x)  # (...,)
    ms *= 1.0 / x.shape[-1]
    ms += eps
    rrms = (1.0 / np.sqrt(ms))[..., None]  # (..., 1)
    xhat = x * rrms
    return xhat * weight, xhat, rrms


def rms_norm_backward(dy: np.ndarray, xhat: np.ndarray, rrms: np.ndarray, weight: np.ndarray):
    """Returns (dx, dweight)."""
    c = xhat.shape[-1]
    dweight = np.einsum("nc,nc->c", dy.reshape(-1, c), xhat.reshape(-1, c))
    dxhat = dy * weight
    m = row_dot(dxhat, xhat)
    m *= 1.0 / c
    dxhat -= xhat * m[..., None]
    dxhat *= rrms
    return dxhat, dweight


# ----------------------------------------------------------------------------- attention

def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, mask: np.ndarray | None = None):
    """Scaled dot-product attention over stacked heads.

    q: (B, H, Tq, D), k and v: (B, H, Tk, D); mask: boolean, broadcastable to (B, H, Tq, Tk), True
    where a query may attend to a key. Returns (y (B, H, Tq, D), probs (B, H, Tq, Tk)).
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = np.matmul(q, k.swapaxes(-1, -2))  # (B, H, Tq, Tk)
    scores *= scale
    if mask is not None:
        np.copyto(scores, MASKED_SCORE, where=~mask)
    # softmax in place: the scores buffer becomes the probabilities
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    probs = scores  # (B, H, Tq, Tk)
    return np.matmul(probs, v), probs  # (B, H, Tq, D)


def attention_backward(dy, q, k, v, probs, *, out=None):
    """Gradients (dq, dk, dv) of scaled dot-product attention given the forward's probs.

    ``out`` optionally names three arrays to write dq, dk, dv into (views into a fused buffer).
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    dq, dk, dv = out if out is not None else (None, None, None)
    dv = np.matmul(probs.swapaxes(-1, -2), dy, out=dv)  # (B, H, Tk, D)
    dp = np.matmul(dy, v.swapaxes(-1, -2))  # (B, H, Tq, Tk)
    # softmax backward in place: ds = p ⊙ (dp − Σ dp ⊙ p), then the 1/√D scale.
    row = (dp * probs).sum(axis=-1, keepdims=True)
    dp -= row
    dp *= probs
    dp *= scale
    dq = np.matmul(dp, k, out=dq)  # (B, H, Tq, D)
    dk = np.matmul(dp.swapaxes(-1, -2), q, out=dk)  # (B, H, Tk, D)
    return dq, dk, dv


# ----------------------------------------------------------------------------- losses

def cross_entropy(logits: np.ndarray, targets: np.ndarray, *, ignore_index: int = IGNORE_INDEX,
                  label_smoothing: float = 0.0, grad: bool = False):
    """Mean softmax cross-entropy over positions whose target is not ``ignore_index``.

    With label smoothing ε the target distribution is q = (1 − ε)·onehot + ε/K, so each position costs
    −(1 − ε)·log p_y − (ε/K)·Σ_k log p_k. When every target is ignored the loss is 0 (and so is the
    gradient). Returns the loss as a Python float, or (loss, dlogits) with ``grad=True``.
    logits: (..., K); targets: (...) integer.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    k = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets shape {targets.shape} does not match logits shape {logits.shape[:-1]}")
    x = logits.reshape(-1, k)  # (N, K)
    t = np.asarray(targets).reshape(-1)  # (N,)
    valid = t != ignore_index  # (N,)
    if np.any((t[valid] < 0) | (t[valid] >= k)):
        raise ValueError(f"target ids must be in [0, {k}) or equal ignore_index={ignore_index}")
    n_valid = int(valid.sum())
    if n_valid == 0:
        return (0.0, np.zeros_like(logits)) if grad else 0.0
    safe_t = np.where(valid, t, 0)
    rows = np.arange(x.shape[0])
    mx = x.max(axis=1)  # (N,)
    e = x - mx[:, None]  # (N, K), shifted logits z
    z_t = e[rows, safe_t]  # (N,)
    z_mean = (e @ ones(k, e.dtype)) * (1.0 / k) if label_smoothing else None  # (N,)
    np.exp(e, out=e)
    s = e @ ones(k, e.dtype)  # (N,) Σ exp z
    lse = np.log(s)  # (N,)
    nll = lse - z_t  # (N,)
    # −Σ_k q_k log p_k with q = (1 − ε)·onehot + ε/K, using −(1/K)·Σ_k log p_k = lse − mean z
    per_pos = (1.0 - label_smoothing) * nll + label_smoothing * (lse - z_mean) if label_smoothing else nll
    loss = float(per_pos[valid].sum(dtype=np.float64)) / n_valid
    if not grad:
        return loss
    # d/dlogits = (p − q) / n_valid on valid rows, 0 on ignored ones
    scale = np.where(valid, 1.0 / n_valid, 0.0).astype(e.dtype) / s  # (N,)
    e *= scale[:, None]
    e[rows, safe_t] -= np.where(valid, (1.0 - label_smoothing) / n_valid, 0.0).astype(e.dtype)
    if label_smoothing:
        e -= (np.where(valid, label_smoothing / (k * n_valid), 0.0).astype(e.dtype))[:, None]
    return loss, e.reshape(logits.shape)
