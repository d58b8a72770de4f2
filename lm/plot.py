"""Plots to PNG (optional matplotlib extra): a learning-rate schedule, and a run's loss curves."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from fasttok._files import atomic_write  # the one atomic writer of both packages


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("lm.plot needs matplotlib: pip install 'fasttok[plot]'") from None
    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, dpi=100, format="png")
    return path


def plot_schedule(schedule: Callable[[int], float], steps: int, path, *, title: str = "learning rate") -> Path:
    """Plot lr(t) for t = 1..steps (e.g. the seed's warm-up then 1/√t)."""
    plt = _pyplot()
    ts = list(range(1, steps + 1))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ts, [schedule(t) for t in ts])
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_history(history: dict, path, *, title: str = "loss") -> Path:
    """Training loss per step (and a running mean) with validation loss at each evaluation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps, loss = history["step"], history["loss"]
    ax.plot(steps, loss, lw=0.5, alpha=0.4, label="train (per step)")
    w = max(1, len(loss) // 50)
    if len(loss) >= w:
        smooth = [sum(loss[i - w + 1:i + 1]) / w for i in range(w - 1, len(loss))]
        ax.plot(steps[w - 1:], smooth, lw=1.5, label=f"train (mean of {w})")
    if history.get("eval_loss"):
        ax.plot(history["eval_step"], history["eval_loss"], "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    if loss:
        ax.set_ylim(bottom=0, top=max(loss[: max(1, len(loss) // 20)] + [math.log(2)]) * 1.05)
    ax.legend()
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
