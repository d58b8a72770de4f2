"""One short training loop: schedule → forward → backward → clip → step, with periodic evaluation,
progress on stderr, and atomic, resumable checkpoints."""
from __future__ import annotations

import math
import sys
import time
from typing import Callable, Iterable

import numpy as np

from fasttok._progress import Progress  # the progress printer of both packages' command lines

from . import checkpoint as ckpt
from .functional import IGNORE_INDEX
from .optim import clip_grad_norm


class TrainingDivergedError(ValueError):
    """The loss or gradient norm became NaN or infinite."""


def forward_loss(model, batch):
    """Run the model on one batch and return its loss: (x, y) for GPT/BERT/MLPLM, and
    (enc_ids, enc_mask, dec_ids, targets) for T5."""
    if len(batch) == 4:
        enc, enc_mask, dec, tgt = batch
        return model.forward(enc, dec, tgt, enc_mask=enc_mask)[1]
    x, y = batch
    return model.forward(x, y)[1]


def _n_targets(batch) -> int:
    return int(np.sum(np.asarray(batch[-1]) != IGNORE_INDEX))


def evaluate(model, batches: Iterable) -> float:
    """Token-weighted mean loss over ``batches`` in eval mode (dropout off); the mode is restored."""
    was_training = model.training
    model.eval()
    total = 0.0
    count = 0
    try:
        for batch in batches:
            n = _n_targets(batch)
            if n:
                total += forward_loss(model, batch) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluation batches contain no targets")
    return total / count


def train(model, batches: Iterable, *, optimizer, steps: int, schedule: Callable[[int], float] | None = None,
          eval_batches: Callable[[], Iterable] | None = None, eval_every: int = 0, clip: float | None = 1.0,
          log_every: int = 10, checkpoint_path=None, checkpoint_every: int = 0, start_step: int = 0,
          rng: np.random.Generator | None = None, history: dict | None = None, log=None,
          checkpoint_options: dict | None = None, progress: Progress | None = None) -> dict:
    """Train for steps ``start_step + 1 .. steps`` and return the history
    {"step", "loss", "lr", "eval_step", "eval_loss"} (lists; ``eval_loss`` is mean per-token NLL).

    ``schedule(t)`` sets the learning rate of step t (1-based). ``eval_batches()`` returns a fresh
    iterable for each evaluation. Checkpoints (every ``checkpoint_every`` steps and at the end) carry the
    optimiser state, the step, the state of ``rng`` (the generator feeding ``batches``) and the history,
    so ``lm.checkpoint.load_into`` + ``train(start_step=meta["step"])`` resumes exactly;
    ``checkpoint_options`` are passed on to every ``lm.checkpoint.save`` (``extra=``, ``tokenizer=``).
    A NaN/inf loss or gradient norm raises TrainingDivergedError naming the step. Progress lines
    (``train step …`` every ``log_every`` steps, ``eval step … ppl …``) go through ``progress`` (a
    ``fasttok._progress.Progress``; by default one writing to ``log``, else stderr).
    """
    if steps < start_step:
        raise ValueError(f"steps={steps} is before start_step={start_step}")
    if progress is None:  # stderr looked up per call, so redirected stderr is honoured
        progress = Progress("train", unit="steps", stream=sys.stderr if log is None else log)
    history = history if history is not None else {}
    for key in ("step", "loss", "lr", "eval_step", "eval_loss"):
        history.setdefault(key, [])
    params = model.parameters()
    it = iter(batches)
    model.train()
    busy = 0.0  # seconds inside training steps since the last log line: evaluation and checkpoints excluded
    last_log = start_step

    def do_eval(step):
        loss = evaluate(model, eval_batches())
        history["eval_step"].append(step)
        history["eval_loss"].append(loss)
        progress.message(f"eval  step {step:6d} | loss {loss:.4f} | ppl {math.exp(min(loss, 700)):.2f}")

    for step in range(start_step + 1, steps + 1):
        t_step = time.perf_counter()
        if schedule is not None:
            optimizer.lr = schedule(step)
        try:
            batch = next(it)
        except StopIteration:
            raise ValueError(f"the batch iterator ran out at step {step}") from None
        model.zero_grad()
        loss = forward_loss(model, batch)
        if not math.isfinite(loss):
            raise TrainingDivergedError(f"loss is {loss} at step {step}; lower the learning rate or clip harder")
        model.backward()
        if clip:
            norm = clip_grad_norm(params, clip)
            if not math.isfinite(norm):
                raise TrainingDivergedError(f"gradient norm is {norm} at step {step}")
        optimizer.step()
        busy += time.perf_counter() - t_step
        history["step"].append(step)
        history["loss"].append(float(loss))
        history["lr"].append(optimizer.lr)
        if log_every and (step % log_every == 0 or step == steps):
            dt = busy / max(step - last_log, 1)
            progress.message(f"train step {step:6d}/{steps} | loss {loss:.4f} | lr {optimizer.lr:.2e} | "
                             f"{dt * 1e3:.0f} ms/step")
            busy, last_log = 0.0, step
        if eval_batches is not None and eval_every and (step % eval_every == 0 or step == steps):
            do_eval(step)
        if checkpoint_path is not None and ((checkpoint_every and step % checkpoint_every == 0) or step == steps):
            ckpt.save(checkpoint_path, model, optimizer=optimizer, step=step, rng=rng, history=history,
                      **(checkpoint_options or {}))
    return history
