"""Learning-rate schedules, two ways.

1. The simple API: pure functions of the step t = 1, 2, ... (the t-th update; real t ≥ 1 works too) that
   ``lm.train.train(schedule=...)`` calls before each step. Each starts with a linear warm-up η_max·t/N_warm for t ≤ N_warm (none when N_warm = 0) and then decays;
every decay equals η_max at t = N_warm, so the schedules are continuous at the boundary.

2. torch.optim.lr_scheduler's objects, step for step (``LRScheduler`` and below): they set the ``lr`` of
   every parameter group of an ``lm.optim`` optimiser. Constructing one applies step 0; ``step()`` (called
   after ``optimizer.step()``) advances; ``get_last_lr()`` lists the groups' current rates. They follow
   torch's recursive (chainable) formulas, so they compose (``SequentialLR``) and agree with torch to the
   rounding of a float64 product.

>>> inverse_sqrt(400, lr_max=1e-3, n_warmup=100)
0.0005
"""
from __future__ import annotations

import bisect
import functools
import math
from typing import Callable, Sequence


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


# ----------------------------------------------------------------------------- torch's scheduler objects

class LRScheduler:
    """The base of the scheduler objects: ``last_epoch`` counts the steps taken (0 after construction),
    ``base_lrs`` are the groups' ``initial_lr`` (recorded on the groups by the first scheduler built)."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer (it has no param_groups)")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def step(self) -> None:
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Advance one step (``epoch`` None, the recursive form) or jump to ``epoch`` (the closed form, which
        SequentialLR uses when it hands over to the next scheduler)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._closed_form_lr() if hasattr(self, "_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimiser (torch's layout: the instance's fields)."""
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(last_epoch); one function, or one per group."""

    def __init__(self, optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]]):
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"expected {n} lr_lambdas, got {len(self.lr_lambdas)}")
        super().__init__(optimizer)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        return {k: v for k, v in vars(self).items() if k not in ("optimizer", "lr_lambdas")}


class StepLR(LRScheduler):
    """lr ← lr·gamma every ``step_size`` steps."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr ← lr·gamma at each milestone (a milestone listed k times multiplies by gamma^k)."""

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def get_lr(self):
        k = self.milestones.count(self.last_epoch)
        return self._current() if k == 0 else [lr * self.gamma ** k for lr in self._current()]

    def _closed_form_lr(self):
        return [base * self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply base_lr by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then hold (torch's default start_factor is 1/3)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1] and end_factor in [0, 1], got {start_factor}, "
                             f"{end_factor}")
        self.start_factor, self.end_factor, self.total_iters = float(start_factor), float(end_factor), int(total_iters)
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        d = self.end_factor - self.start_factor
        ratio = 1.0 + d / (self.total_iters * self.start_factor + (self.last_epoch - 1) * d)
        return [lr * ratio for lr in self._current()]

    def _closed_form_lr(self):
        d = self.end_factor - self.start_factor
        return [base * (self.start_factor + d * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr ← lr·gamma every step."""

    def __init__(self, optimizer, gamma: float):
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def get_lr(self):
        return self._current() if self._is_initial else [lr * self.gamma for lr in self._current()]

    def _closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from base_lr down to ``eta_min`` over ``T_max`` steps, in torch's recursive form.

    Past ``T_max`` torch's formula keeps following the cosine, back up to base_lr at 2·T_max and so on (a
    period of 2·T_max); this class does the same by default. ``hold_at_min=True`` names the other reading,
    the one of the functional ``cosine`` schedule: stay at ``eta_min`` from ``T_max`` on.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, *, hold_at_min: bool = False):
        if T_max < 1:
            raise ValueError(f"T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min, self.hold_at_min = int(T_max), float(eta_min), bool(hold_at_min)
        super().__init__(optimizer)

    def get_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self.hold_at_min and t >= T:
            return [lo for _ in self.base_lrs]
        if self._step_count == 1 and t > 0:
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2 for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - lo) + lo
                for lr in self._current()]

    def _closed_form_lr(self):
        t, lo = self.last_epoch, self.eta_min
        if self.hold_at_min and t >= self.T_max:
            return [lo for _ in self.base_lrs]
        return [lo + (base - lo) * (1 + math.cos(math.pi * t / self.T_max)) / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine from base_lr to ``eta_min`` over T_i steps, then restart; T_i starts at ``T_0`` and is
    multiplied by ``T_mult`` at each restart. ``step(epoch)`` accepts a real epoch, as torch's does."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
        if not isinstance(T_0, int) or T_0 < 1:
            raise ValueError(f"T_0 must be a positive integer, got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"T_mult must be an integer >= 1, got {T_mult}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, float(eta_min)
        self.T_cur = -1
        super().__init__(optimizer)

    def get_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current()


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr rises from max_lr/div_factor to ``max_lr`` over ``pct_start`` of
    ``total_steps``, then anneals to initial_lr/final_div_factor (three_phase: back to initial_lr first).
    With ``cycle_momentum`` the momentum (SGD) or β1 (Adam) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``. Stepping past ``total_steps`` is an error, as in torch."""

    def __init__(self, optimizer, max_lr: float | Sequence[float], total_steps: int, *, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False):
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                             "max_momentum"),
                            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        if len(max_lrs) != len(groups):
            raise ValueError(f"expected {len(groups)} max_lr values, got {len(max_lrs)}")
        for group, top in zip(groups, max_lrs):
            group["initial_lr"] = top / div_factor
            group["max_lr"] = top
            group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in groups[0] and "betas" not in groups[0]:
                raise ValueError("cycle_momentum needs an optimizer with momentum or betas")
            self.use_beta1 = "betas" in groups[0]
            for group in groups:
                if self.use_beta1:
                    group["betas"] = (max_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = max_momentum
                group["max_momentum"], group["base_momentum"] = max_momentum, base_momentum
        super().__init__(optimizer)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"stepped {t} times, past total_steps={self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_a, lr_b, m_a, m_b) in enumerate(self._phases):
                if t <= end or i == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lr = self._anneal(group[lr_a], group[lr_b], pct)
                    momentum = self._anneal(group[m_a], group[m_b], pct)
                    break
                start = end
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class SequentialLR(LRScheduler):
    """Hand over from one scheduler to the next at each milestone: ``SequentialLR(opt, [LinearLR(opt, 0.01,
    total_iters=100), CosineAnnealingLR(opt, T_max=900)], milestones=[100])`` is warm-up then cosine. At a
    milestone the next scheduler starts from its own step 0 (its closed form), as in torch."""

    def __init__(self, optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int]):
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler")
        for s in schedulers:
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError("SequentialLR cannot hold ReduceLROnPlateau (its step needs a metric)")
            if s.optimizer is not optimizer:
                raise ValueError("every scheduler of a SequentialLR must drive the same optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                             f"got {len(milestones)}")
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        self.optimizer = optimizer
        self.last_epoch = 0
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in self._schedulers:  # undo the step 0 each applied when it was built
            s.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {k: v for k, v in vars(self).items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state):
        state = dict(state)
        for s, sub in zip(self._schedulers, state.pop("_schedulers")):
            s.load_state_dict(sub)
        vars(self).update(state)


class ReduceLROnPlateau(LRScheduler):
    """Multiply every group's lr by ``factor`` once the metric passed to ``step(metric)`` has not improved
    (by ``threshold``, relative or absolute) for more than ``patience`` steps; then wait ``cooldown`` steps.
    Never below ``min_lr``; a cut smaller than ``eps`` is skipped."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8):
        if factor >= 1.0:
            raise ValueError(f"factor must be < 1, got {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', got {mode!r}, "
                             f"{threshold_mode!r}")
        n = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(self.min_lrs) != n:
            raise ValueError(f"expected {n} min_lr values, got {len(self.min_lrs)}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.eps = threshold_mode, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._current()
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metric: float) -> None:
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current()
