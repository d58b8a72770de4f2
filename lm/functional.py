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

def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *, eps: float = 1e-5):
    """(x − mean) / √(var + eps) · weight + bias over the last axis; returns (y, xhat, rstd)."""
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    xc = x - mu  # (..., C)
    var = (xc * xc).mean(axis=-1, keepdims=True)  # (..., 1)
    rstd = 1.0 / np.sqrt(var + eps)  # (..., 1)
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
    xh2 = xhat.reshape(-1, c)
    dweight = (dy2 * xh2).sum(axis=0)
    dbias = dy2.sum(axis=0)
    dxhat = dy * weight  # (..., C)
    m1 = dxhat.mean(axis=-1, keepdims=True)
    m2 = (dxhat * xhat).mean(axis=-1, keepdims=True)
    dxhat -= m1
    dxhat -= xhat * m2
    dxhat *= rstd
    return dxhat, dweight, dbias


def rms_norm(x: np.ndarray, weight: np.ndarray, *, eps: float = 1e-6):
    """x / √(mean(x²) + eps) · weight over the last axis; returns (y, xhat, rrms)."""
    rrms = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)  # (..., 1)
    xhat = x * rrms
    return xhat * weight, xhat, rrms


def rms_norm_backward(dy: np.ndarray, xhat: np.ndarray, rrms: np.ndarray, weight: np.ndarray):
    """Returns (dx, dweight)."""
    c = xhat.shape[-1]
    dweight = (dy.reshape(-1, c) * xhat.reshape(-1, c)).sum(axis=0)
    dxhat = dy * weight
    dxhat -= xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
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
    probs = softmax(scores)  # (B, H, Tq, Tk)
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
    z = x - x.max(axis=1, keepdims=True)  # (N, K)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)  # (N, 1)
    lse = np.log(s)  # (N, 1)
    rows = np.arange(x.shape[0])
    nll = lse[:, 0] - z[rows, safe_t]  # (N,)
    if label_smoothing:
        # −Σ_k log p_k = K·lse − Σ_k z_k
        smooth = lse[:, 0] - z.mean(axis=1)  # (N,)
        per_pos = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    else:
        per_pos = nll
    loss = float(per_pos[valid].sum(dtype=np.float64)) / n_valid
    if not grad:
        return loss
    # d/dlogits = (p − q) / n_valid on valid rows.
    e /= s
    d = e
    d[rows, safe_t] -= 1.0 - label_smoothing
    if label_smoothing:
        d -= label_smoothing / k
    d *= 1.0 / n_valid
    d[~valid] = 0.0
    return loss, d.reshape(logits.shape)
