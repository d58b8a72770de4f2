"""Stateless numeric ops, each forward written right beside its backward.

Every function keeps the dtype of its array inputs: constants are Python floats (NumPy treats them as
"weak" scalars), never NumPy float64 scalars such as ``np.sqrt(2 / np.pi)``, which would silently
promote a float32 array to float64.

>>> import numpy as np
>>> softmax(np.array([0.0, 0.0], dtype=np.float32))
array([0.5, 0.5], dtype=float32)
"""
from __future__ import annotations

import concurrent.futures
import math
import os

import numpy as np

IGNORE_INDEX = -100
# tanh-approximate GELU (GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
# Masked attention scores get this instead of -inf, so a row with every key masked (a padding query)
# yields a uniform distribution rather than NaN; exp(-1e30 - max) is exactly 0 in float32 and float64.
MASKED_SCORE = -1e30


# ----------------------------------------------------------------------------- chunked elementwise work

CHUNK = 1 << 15  # elements per chunk: a few float32 buffers of this size fit in L2
_MIN_PARALLEL = 1 << 18  # below this, handing work to a thread costs more than it saves


def _default_threads() -> int:
    # the same knobs that size the BLAS thread pool, so `OPENBLAS_NUM_THREADS=1` means one thread here too
    for var in ("LM_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_threads = {"n": _default_threads(), "pool": None}


def set_num_threads(n: int) -> None:
    """Threads used for large elementwise kernels (numpy releases the GIL inside ufunc loops)."""
    if int(n) < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    _threads["n"] = int(n)


def get_num_threads() -> int:
    return _threads["n"]


def _pool():
    if _threads["pool"] is None or _threads["pool"]._max_workers < _threads["n"] - 1:
        _threads["pool"] = concurrent.futures.ThreadPoolExecutor(max_workers=_threads["n"] - 1,
                                                                 thread_name_prefix="lm-elementwise")
    return _threads["pool"]


def _run_serial(fn, start: int, stop: int, chunk: int) -> None:
    for a in range(start, stop, chunk):
        fn(slice(a, min(a + chunk, stop)))


def run_chunks(fn, n: int, *, chunk: int = CHUNK, item_size: int = 1) -> None:
    """Call fn(slice) over [0, n) in cache-sized chunks, so multi-pass elementwise kernels stay in cache.

    ``item_size`` is the number of elements per index (a row length), so chunks hold about CHUNK
    elements. With several threads (``set_num_threads``) and enough work, contiguous shares of the
    range run in parallel; chunks never overlap, so results do not depend on the thread count.
    """
    if item_size > 1:
        chunk = max(1, chunk // item_size)
    n_threads = _threads["n"]
    if n_threads == 1 or n * item_size < _MIN_PARALLEL:
        _run_serial(fn, 0, n, chunk)
        return
    bounds = [n * i // n_threads // chunk * chunk for i in range(n_threads)] + [n]
    futures = [_pool().submit(_run_serial, fn, bounds[i], bounds[i + 1], chunk) for i in range(1, n_threads)]
    _run_serial(fn, bounds[0], bounds[1], chunk)
    for f in futures:
        f.result()


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
    """log P(targets[..., t]) under softmax(logits[..., t, :]); shape ``targets.shape``, dtype of ``logits``.

    RLHF objectives (PPO ratios, DPO margins, the KL penalty) are functions of these per-token
    log-probabilities; pair with ``token_log_probs_backward``.
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {logits.shape} do not match targets {targets.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[-1]):
        raise ValueError(f"target ids must lie in [0, {logits.shape[-1]}); got [{targets.min()}, {targets.max()}]")
    logp = log_softmax(logits)  # (..., V)
    return np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (...)


def token_log_probs_backward(dlogp: np.ndarray, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. ``logits`` of Σ dlogp ⊙ token_log_probs(logits, targets): dlogp ⊙ (onehot − softmax)."""
    logits, targets = np.asarray(logits), np.asarray(targets)
    dlogp = np.asarray(dlogp, dtype=logits.dtype)
    p = softmax(logits)  # (..., V)
    dx = -p * dlogp[..., None]  # (..., V)
    np.put_along_axis(dx, targets[..., None], np.take_along_axis(dx, targets[..., None], -1) + dlogp[..., None], -1)
    return dx


def entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy of softmax(logits) over the last axis, in nats: (..., V) -> (...)."""
    logp = log_softmax(np.asarray(logits))  # (..., V)
    return -(np.exp(logp) * logp).sum(axis=-1)  # (...)


def kl_divergence(logits: np.ndarray, ref_logits: np.ndarray) -> np.ndarray:
    """Exact KL(p ‖ q) per position between p = softmax(logits) and q = softmax(ref_logits): (..., V) -> (...).

    Never negative and free of sampling noise, unlike the single-sample estimate log p(y) − log q(y).
    """
    logits, ref_logits = np.asarray(logits), np.asarray(ref_logits)
    if logits.shape != ref_logits.shape:
        raise ValueError(f"logits {logits.shape} and reference logits {ref_logits.shape} differ in shape")
    logp, logq = log_softmax(logits), log_softmax(ref_logits)  # (..., V)
    return (np.exp(logp) * (logp - logq)).sum(axis=-1)  # (...)


# ----------------------------------------------------------------------------- sigmoid family

def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) without overflow: −softplus(−z) = −log(1 + exp(−z))."""
    return -np.logaddexp(0.0, -z)


def log_sigmoid_backward(dy: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Gradient through y = log σ(z): d/dz log σ(z) = 1 − σ(z) = σ(−z)."""
    return dy * sigmoid(-z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = exp(log σ(z)), without overflow for large |z|."""
    return np.exp(log_sigmoid(z))


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

def _gelu_chunk(x, y, t):
    np.multiply(x, x, out=t)
    t *= _GELU_A * _GELU_C
    t += _GELU_C
    t *= x  # t = c·(x + a·x³)
    np.tanh(t, out=t)
    np.add(t, 1.0, out=y)
    y *= x
    y *= 0.5


def _gelu_backward_chunk(dy, x, t, dx, scratch):
    np.multiply(x, x, out=dx)
    dx *= 3.0 * _GELU_A * _GELU_C
    dx += _GELU_C
    dx *= x  # x·c·(1 + 3a·x²)
    np.multiply(t, t, out=scratch)
    np.subtract(1.0, scratch, out=scratch)  # 1 − t² = sech²
    dx *= scratch
    dx += t
    dx += 1.0
    dx *= 0.5
    dx *= dy


GELU_FORMS = ("tanh", "none")  # torch's `approximate` values: the tanh approximation, or exact erf


def _check_gelu_form(approximate: str) -> None:
    if approximate not in GELU_FORMS:
        raise ValueError(f"approximate must be 'tanh' or 'none' (exact erf), got {approximate!r}")


# math.erf element by element: numpy has no erf, and libm's is correct to an ulp. About 15× slower than the
# tanh form's eight vector passes, which is why the models keep the tanh form (GPT-2's) by default.
_erf = np.frompyfunc(math.erf, 1, 1)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x: np.ndarray, *, approximate: str = "tanh") -> tuple[np.ndarray, np.ndarray]:
    """GELU x·Φ(x); returns (y, kept) where ``kept`` is what the backward pass needs.

    ``approximate="tanh"`` (the default here, GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), kept = the
    tanh. ``approximate="none"`` (torch's default): exact 0.5·x·(1 + erf(x/√2)), kept = Φ(x).
    """
    _check_gelu_form(approximate)
    if approximate == "none":
        cdf = (0.5 * (1.0 + _erf(np.asarray(x, dtype=np.float64) * _INV_SQRT2).astype(np.float64))).astype(x.dtype)
        return x * cdf, cdf
    y = np.empty_like(x)
    t = np.empty_like(x)
    xf, yf, tf = x.reshape(-1), y.reshape(-1), t.reshape(-1)
    # in cache-sized chunks: the eight passes then run out of L2 instead of main memory (~1.4× faster)
    run_chunks(lambda sl: _gelu_chunk(xf[sl], yf[sl], tf[sl]), xf.size)
    return y, t


def gelu_backward(dy: np.ndarray, x: np.ndarray, t: np.ndarray, *, approximate: str = "tanh") -> np.ndarray:
    """d gelu/dx with ``t`` from the forward pass: for "tanh", ½(1 + t) + ½·x·(1 − t²)·c·(1 + 3a·x²); for
    "none", Φ(x) + x·φ(x) with t = Φ(x) and φ the standard normal density."""
    _check_gelu_form(approximate)
    if approximate == "none":
        return dy * (t + x * (np.exp(-0.5 * (x * x)) * _INV_SQRT_2PI))
    dx = np.empty_like(x)
    xf, tf, df, of = x.reshape(-1), t.reshape(-1), np.ascontiguousarray(dy).reshape(-1), dx.reshape(-1)
    run_chunks(lambda sl: _gelu_backward_chunk(df[sl], xf[sl], tf[sl], of[sl], np.empty(sl.stop - sl.start, x.dtype)),
               xf.size)
    return dx


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

def _softmax_rows(s: np.ndarray) -> None:
    """In-place softmax over the last axis of a 2-D block of rows."""
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s *= (1.0 / (s @ ones(s.shape[1], s.dtype)))[:, None]


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, mask: np.ndarray | None = None):
    """Scaled dot-product attention over stacked heads.

    q: (B, H, Tq, D), k and v: (B, H, Tk, D); mask: boolean, broadcastable to (B, H, Tq, Tk), True
    where a query may attend to a key. Returns (y (B, H, Tq, D), probs (B, H, Tq, Tk), qs) where
    qs = q/√D is kept for the backward pass.
    """
    qs = q * (1.0 / math.sqrt(q.shape[-1]))  # (B, H, Tq, D): scaling q is half the work of scaling scores
    scores = np.matmul(qs, k.swapaxes(-1, -2))  # (B, H, Tq, Tk)
    if mask is not None:
        np.copyto(scores, MASKED_SCORE, where=~mask)
    rows = scores.reshape(-1, scores.shape[-1])  # softmax in place: scores become the probabilities
    run_chunks(lambda sl: _softmax_rows(rows[sl]), rows.shape[0], item_size=rows.shape[1])
    return np.matmul(scores, v), scores, qs  # (B, H, Tq, D)


def _softmax_backward_rows(dp: np.ndarray, p: np.ndarray) -> None:
    """In place: dp ← p ⊙ (dp − Σ dp ⊙ p) over the last axis of 2-D blocks."""
    dp -= np.einsum("rk,rk->r", dp, p)[:, None]
    dp *= p


def attention_backward(dy, qs, k, v, probs, *, out=None):
    """Gradients (dq, dk, dv) of scaled dot-product attention given the forward's probs and qs = q/√D.

    ``out`` optionally names three arrays to write dq, dk, dv into (views into a fused buffer).
    """
    scale = 1.0 / math.sqrt(qs.shape[-1])
    dq, dk, dv = out if out is not None else (None, None, None)
    dv = np.matmul(probs.swapaxes(-1, -2), dy, out=dv)  # (B, H, Tk, D)
    dp = np.matmul(dy, v.swapaxes(-1, -2))  # (B, H, Tq, Tk)
    rows_d, rows_p = dp.reshape(-1, dp.shape[-1]), probs.reshape(-1, probs.shape[-1])
    run_chunks(lambda sl: _softmax_backward_rows(rows_d[sl], rows_p[sl]), rows_d.shape[0], item_size=rows_d.shape[1])
    dq = np.matmul(dp, k, out=dq)  # (B, H, Tq, D), still missing the 1/√D of qs
    dq *= scale
    dk = np.matmul(dp.swapaxes(-1, -2), qs, out=dk)  # (B, H, Tk, D)
    return dq, dk, dv


# ----------------------------------------------------------------------------- losses

REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(logits: np.ndarray, targets: np.ndarray, *, ignore_index: int = IGNORE_INDEX,
                  label_smoothing: float = 0.0, weight: np.ndarray | None = None, reduction: str = "mean",
                  grad: bool = False):
    """Softmax cross-entropy as torch's ``F.cross_entropy``: class ``weight``, ``ignore_index``, label
    smoothing and ``reduction``. logits: (..., K); targets: (...) integer.

    Position i with target y costs ℓ_i = (1 − ε)·w_y·(−log p_y) + (ε/K)·Σ_k w_k·(−log p_k) (w ≡ 1 without
    ``weight``; ε = ``label_smoothing``, the target distribution (1 − ε)·onehot + ε/K); ignored positions
    cost 0. ``reduction``: "mean" is Σ ℓ_i / Σ w_{y_i} over counted positions (the plain mean without
    weights; 0 when nothing is counted, where torch gives NaN), "sum" is Σ ℓ_i, "none" the array of ℓ_i
    (shape ``targets.shape``, dtype of ``logits``). "mean" and "sum" return a Python float.

    With ``grad=True`` returns (loss, dlogits). For "mean" and "sum" dlogits is ∂loss/∂logits; for "none" its
    row i is ∂ℓ_i/∂logits_i (ℓ_i depends on that row alone), so an upstream gradient g of the losses gives
    ``dlogits * g[..., None]``.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    k = logits.shape[-1]
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer ids, got dtype {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets shape {targets.shape} does not match logits shape {logits.shape[:-1]}")
    if weight is not None:
        weight = np.asarray(weight)
        if weight.shape != (k,) or weight.dtype.kind != "f" or np.any(weight < 0) or not np.isfinite(weight).all():
            raise ValueError(f"weight must be {k} finite non-negative floats (one per class), got shape "
                             f"{weight.shape} of {weight.dtype}")
        weight = weight.astype(logits.dtype)
    x = logits.reshape(-1, k)  # (N, K)
    t = targets.reshape(-1)  # (N,)
    valid = t != ignore_index  # (N,)
    if np.any((t[valid] < 0) | (t[valid] >= k)):
        raise ValueError(f"target ids must be in [0, {k}) or equal ignore_index={ignore_index}")
    n = x.shape[0]
    safe_t = np.where(valid, t, 0)
    w_y = np.where(valid, 1.0 if weight is None else weight[safe_t], 0.0)  # (N,) weight of each counted target
    total = float(w_y.sum(dtype=np.float64)) if reduction == "mean" else 1.0
    if total == 0.0 or not valid.any():  # nothing counted: 0 (the mean is 0/0; torch gives NaN)
        loss = np.zeros(targets.shape, dtype=logits.dtype) if reduction == "none" else 0.0
        return (loss, np.zeros_like(logits)) if grad else loss
    e = np.empty_like(x)  # becomes exp(z) and then the gradient
    lse = np.empty(n, dtype=x.dtype)
    sums = np.empty(n, dtype=x.dtype)  # Σ_k exp(z_k)
    z_t = np.empty(n, dtype=x.dtype)
    wk = ones(k, x.dtype) if weight is None else weight  # (K,)
    z_w = np.empty(n, dtype=x.dtype) if label_smoothing else None  # (1/K)·Σ_k w_k·z_k
    ones_k = ones(k, x.dtype)

    def forward_rows(sl):
        xs, es = x[sl], e[sl]
        np.subtract(xs, xs.max(axis=1)[:, None], out=es)  # shifted logits z
        z_t[sl] = es[np.arange(es.shape[0]), safe_t[sl]]
        if z_w is not None:
            z_w[sl] = (es @ wk) * (1.0 / k)
        np.exp(es, out=es)
        sums[sl] = es @ ones_k
        lse[sl] = np.log(sums[sl])

    run_chunks(forward_rows, n, item_size=k)
    # −Σ_k q_k·w_k·log p_k, using −log p_k = lse − z_k: (1−ε)·w_y·(lse − z_y) + ε·((Σw/K)·lse − (1/K)·Σ w_k z_k)
    w_mean = float(wk.sum(dtype=np.float64)) / k
    per_pos = (1.0 - label_smoothing) * w_y * (lse - z_t)  # (N,)
    if label_smoothing:
        per_pos += label_smoothing * (w_mean * lse - z_w)
    per_pos = np.where(valid, per_pos, 0.0).astype(x.dtype)
    if reduction == "none":
        loss = per_pos.reshape(targets.shape)
    else:
        loss = float(per_pos.sum(dtype=np.float64)) / total
    if not grad:
        return loss
    # ∂ℓ_i/∂z_ik = a_i·p_ik − (1−ε)·w_y·[k = y] − (ε/K)·w_k with a_i = (1−ε)·w_y + ε·Σw/K; p = exp(z)/sums;
    # each row scaled by r_i = 1/Σw_y ("mean") or 1, and 0 on ignored rows
    r = np.where(valid, 1.0 / total, 0.0)  # (N,)
    scale = (r * ((1.0 - label_smoothing) * w_y + label_smoothing * w_mean) / sums).astype(e.dtype)  # (N,)
    hit = (r * (1.0 - label_smoothing) * w_y).astype(e.dtype)  # (N,)
    smooth = (r * (label_smoothing / k)).astype(e.dtype) if label_smoothing else None  # (N,)

    def backward_rows(sl):
        es = e[sl]
        es *= scale[sl][:, None]
        es[np.arange(es.shape[0]), safe_t[sl]] -= hit[sl]
        if smooth is not None:
            es -= smooth[sl][:, None] * wk if weight is not None else smooth[sl][:, None]

    run_chunks(backward_rows, n, item_size=k)
    return loss, e.reshape(logits.shape)
