"""One short training loop: schedule → forward → backward → clip → step, with periodic evaluation,
progress on stderr, and atomic, resumable checkpoints."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from fasttok._progress import Progress  # the progress printer of both packages' command lines

from . import checkpoint as ckpt
from .functional import IGNORE_INDEX
from .optim import clip_grad_norm
from .ranges import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, check_ranges, optional
from .schedules import SCHEDULES, make_schedule

DEFAULT_WARMUP = 100  # warm-up steps of TrainingConfig, unless the run is short: then a tenth of it


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


@dataclass(frozen=True)
class TrainingConfig:
    """The options of one training run, as `lm gpt|bert|t5 train` takes them (one flag per field)."""
    steps: int = 1000             # optimizer steps
    batch_size: int = 32          # sequences per step
    lr: float = 1e-3              # peak learning rate
    schedule: str = field(default="cosine", metadata={"choices": tuple(SCHEDULES)})  # learning-rate schedule
    warmup: int | None = None     # linear warm-up steps (default min(100, steps // 10): a short run is not all warm-up)
    gamma: float = 0.999          # decay factor of the exponential schedule
    weight_decay: float = 0.1     # AdamW decoupled decay
    clip: float = 1.0             # global gradient-norm clip
    val_fraction: float = 0.1     # tail of the corpus held out
    eval_every: int = 200         # evaluate every N steps
    eval_iters: int = field(default=0, metadata={"min": 0, "help": (
        "estimate the validation loss on N random batches, the same N at every evaluation (seeded by the run's "
        "seed); 0: every validation window")})
    checkpoint_every: int = 500   # checkpoint every N steps

    def __post_init__(self):
        """Refuse values no run can use (the command line reports them as usage errors)."""
        check_ranges(self, {"steps": AT_LEAST_ONE, "batch_size": AT_LEAST_ONE, "lr": POSITIVE,
                            "warmup": optional(NON_NEGATIVE), "gamma": (lambda v: 0 < v <= 1, "in (0, 1]"),
                            "weight_decay": NON_NEGATIVE, "clip": NON_NEGATIVE, "val_fraction": FRACTION,
                            "eval_every": NON_NEGATIVE, "eval_iters": NON_NEGATIVE,
                            "checkpoint_every": NON_NEGATIVE})

    def n_warmup(self) -> int:
        """The warm-up steps: `warmup`, or by default at most a tenth of the run; never the whole run."""
        warm = min(DEFAULT_WARMUP, self.steps // 10) if self.warmup is None else self.warmup
        return min(warm, max(self.steps - 1, 0))

    def lr_schedule(self) -> Callable[[int], float]:
        """step -> learning rate: `schedule` after the warm-up, peaking at `lr` (cosine decays to lr / 10)."""
        steps, warm, lr = self.steps, self.n_warmup(), self.lr
        if self.schedule == "cosine":
            return make_schedule("cosine", lr_max=lr, n_warmup=warm, n_total=max(steps, warm + 1), lr_min=lr / 10)
        if self.schedule == "inverse_sqrt":
            return make_schedule("inverse_sqrt", lr_max=lr, n_warmup=max(warm, 1))
        if self.schedule == "exponential":
            return make_schedule("exponential", lr_max=lr, n_warmup=warm, gamma=self.gamma)
        return make_schedule(self.schedule, lr_max=lr, n_warmup=warm)


def eval_rng(seed: int) -> np.random.Generator:
    """The generator of a run's validation batches: the first child of the run's seed sequence, so evaluating
    never draws from (and never shifts) the training batches' generator, and a resumed run sees the same
    batches."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
