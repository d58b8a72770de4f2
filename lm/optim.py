"""Optimisers over ``lm.nn.Parameter`` lists: SGD, Adam (the seed's update), AdamW, gradient clipping.

Weight decay, coupled or decoupled, applies only to parameters whose ``decay`` flag is set: the matrices
of Linear layers. Biases, norm gains and embeddings are left alone (``decay_all=True`` changes that).

L2 regularisation follows the seed's objective L + λ‖θ‖², so the coupled gradient term is 2λθ (torch's
``weight_decay=w`` adds wθ, i.e. corresponds to λ = w/2). AdamW's decoupled decay is θ ← θ − η·λ·θ,
exactly torch.optim.AdamW's.
"""
from __future__ import annotations

import math

import numpy as np

from .nn.module import Parameter


def _check_params(params) -> list[Parameter]:
    params = list(params)
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"optimizer expects lm.nn.Parameter objects, got {type(p).__name__}")
    return params


def clip_grad_norm(params, max_norm: float, *, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients by min(1, max_norm / ‖g‖₂) where ‖g‖₂ is the global norm; returns ‖g‖₂.

    ``max_norm=math.inf`` only measures. With ``error_if_nonfinite`` a NaN or infinite norm raises
    ValueError before anything is scaled (a NaN loss or reward would otherwise poison every parameter)."""
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    params = list(params)
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"non-finite gradient (global norm {total}): the loss or the rewards produced NaN/inf")
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad *= scale
    return total


class Optimizer:
    def __init__(self, params, *, lr: float, decay_all: bool = False):
        self.params = _check_params(params)
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        self.lr = float(lr)  # a schedule overwrites this before each step
        self.decay_all = decay_all
        self.t = 0  # number of steps taken

    def _decays(self, p: Parameter) -> bool:
        return self.decay_all or p.decay

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad.fill(0.0)

    def _buffers(self) -> dict[str, list[np.ndarray]]:
        return {}

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t)}
        for key, arrays in self._buffers().items():
            for i, a in enumerate(arrays):
                state[f"{key}.{i}"] = a.copy()
        return state

    def load_state_dict(self, state) -> None:
        for key, arrays in self._buffers().items():
            for i, a in enumerate(arrays):
                name = f"{key}.{i}"
                if name not in state or np.shape(state[name]) != a.shape:
                    raise ValueError(f"optimizer state {name!r} is missing or has the wrong shape")
                a[...] = state[name]
        self.t = int(state["t"])


class SGD(Optimizer):
    """θ ← θ − η·(g + 2λθ), with optional heavy-ball momentum b ← μ·b + g."""

    def __init__(self, params, *, lr: float, momentum: float = 0.0, l2: float = 0.0, decay_all: bool = False):
        super().__init__(params, lr=lr, decay_all=decay_all)
        self.momentum = float(momentum)
        self.l2 = float(l2)
        self.buf = [np.zeros_like(p.data) for p in self.params] if momentum else []

    def _buffers(self):
        return {"buf": self.buf} if self.buf else {}

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            if self.l2 and self._decays(p):
                g = g + (2.0 * self.l2) * p.data
            if self.momentum:
                self.buf[i] *= self.momentum
                self.buf[i] += g
                g = self.buf[i]
            p.data -= self.lr * g


class Adam(Optimizer):
    """The seed's Adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; m̂ = m/(1−β1^t); v̂ = v/(1−β2^t);
    θ ← θ − η·m̂/(√v̂ + ε). ``l2`` adds the seed's coupled penalty λ‖θ‖² (gradient 2λθ)."""

    def __init__(self, params, *, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, l2: float = 0.0,
                 decay_all: bool = False):
        super().__init__(params, lr=lr, decay_all=decay_all)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
        self.l2 = float(l2)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def _buffers(self):
        return {"m": self.m, "v": self.v}

    def _decoupled_decay(self, p: Parameter) -> None:
        pass

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        # bias corrections folded into scalars: η/(1−β1^t) and 1/√(1−β2^t)
        step_size = self.lr / (1.0 - b1 ** self.t)
        rbc2 = 1.0 / math.sqrt(1.0 - b2 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if self.l2 and self._decays(p):
                g = g + (2.0 * self.l2) * p.data
            self._decoupled_decay(p)
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = np.sqrt(v)
            denom *= rbc2
            denom += self.eps
            np.divide(m, denom, out=denom)
            denom *= step_size
            p.data -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay θ ← θ − η·λ·θ applied before the Adam update (as torch does)."""

    def __init__(self, params, *, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, decay_all: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, decay_all=decay_all)
        self.weight_decay = float(weight_decay)

    def _decoupled_decay(self, p: Parameter) -> None:
        if self.weight_decay and self._decays(p):
            p.data *= 1.0 - self.lr * self.weight_decay
