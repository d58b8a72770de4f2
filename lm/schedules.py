"""Learning-rate schedules: pure functions of the step t = 1, 2, ... (the t-th update; real t ≥ 1 works too).

Each starts with a linear warm-up η_max·t/N_warm for t ≤ N_warm (none when N_warm = 0) and then decays;
every decay equals η_max at t = N_warm, so the schedules are continuous at the boundary.

>>> inverse_sqrt(400, lr_max=1e-3, n_warmup=100)
0.0005
"""
from __future__ import annotations

import functools
import math
from typing import Callable


def _check(t: int, lr_max: float, n_warmup: int) -> None:
    if t < 1:
        raise ValueError(f"schedule steps count from 1, got {t}")
    if lr_max < 0 or n_warmup < 0:
        raise ValueError(f"lr_max and n_warmup must be >= 0, got {lr_max}, {n_warmup}")


def _warmup(t: int, lr_max: float, n_warmup: int) -> float | None:
    return lr_max * t / n_warmup if t <= n_warmup else None


def constant(t: float, *, lr_max: float, n_warmup: int = 0) -> float:
    _check(t, lr_max, n_warmup)
    w = _warmup(t, lr_max, n_warmup)
    return lr_max if w is None else w


def inverse_sqrt(t: float, *, lr_max: float, n_warmup: int) -> float:
    """Warm-up, then η_max·√(N_warm/t) (the seed's schedule)."""
    _check(t, lr_max, n_warmup)
    if n_warmup == 0:
        raise ValueError("inverse_sqrt needs n_warmup >= 1 (η_max·√(N_warm/t) is 0 otherwise)")
    w = _warmup(t, lr_max, n_warmup)
    return lr_max * math.sqrt(n_warmup / t) if w is None else w


def cosine(t: float, *, lr_max: float, n_warmup: int, n_total: int, lr_min: float = 0.0) -> float:
    """Warm-up, then cosine annealing from η_max to η_min at t = n_total; η_min afterwards."""
    _check(t, lr_max, n_warmup)
    if n_total <= n_warmup or not 0 <= lr_min <= lr_max:
        raise ValueError(f"cosine needs n_total > n_warmup and 0 <= lr_min <= lr_max, got "
                         f"n_total={n_total}, n_warmup={n_warmup}, lr_min={lr_min}")
    w = _warmup(t, lr_max, n_warmup)
    if w is not None:
        return w
    frac = min(1.0, (t - n_warmup) / (n_total - n_warmup))
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * frac))


def exponential(t: float, *, lr_max: float, n_warmup: int, gamma: float) -> float:
    """Warm-up, then η_max·γ^(t − N_warm)."""
    _check(t, lr_max, n_warmup)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    w = _warmup(t, lr_max, n_warmup)
    return lr_max * gamma ** (t - n_warmup) if w is None else w


SCHEDULES = {"constant": constant, "inverse_sqrt": inverse_sqrt, "cosine": cosine, "exponential": exponential}


def make_schedule(name: str, **options) -> Callable[[int], float]:
    """``make_schedule("cosine", lr_max=3e-4, n_warmup=100, n_total=2000)`` -> t -> lr."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose from {sorted(SCHEDULES)}")
    fn = functools.partial(SCHEDULES[name], **options)
    fn(max(1, options.get("n_warmup", 0)) + 1)  # validate the options now, not mid-training
    return fn
