"""Optimisers over ``lm.nn.Parameter`` lists, with torch.optim's update rules, options and state layout:
SGD (momentum, dampening, Nesterov), Adam and AdamW (amsgrad), ``maximize``, parameter groups, and
``state_dict``/``load_state_dict``; plus global-norm gradient clipping.

``weight_decay`` means what it means in torch:
- SGD and Adam: the coupled penalty, g ← g + wd·θ (the gradient of (wd/2)·‖θ‖²);
- AdamW: the decoupled decay θ ← θ − lr·wd·θ, applied before the Adam update.
The seed's ``l2=λ`` (penalty λ‖θ‖², gradient 2λθ) is gone, because it silently meant twice torch's number:
pass ``weight_decay=2λ``.

One deliberate difference from torch: weight decay applies only to parameters whose ``decay`` flag is set
(the matrices of Linear layers), so biases, norm gains and embeddings are left alone without building two
groups by hand. ``decay_all=True`` (per group or for the whole optimiser) gives torch's "every parameter".

Parameter groups are torch's: ``SGD([{"params": a, "lr": 0.1}, {"params": b}], lr=0.01, momentum=0.9)``;
an option missing from a group takes the constructor's value. ``opt.lr = x`` sets every group's lr (what a
step -> lr function needs); ``opt.lr`` reads the first group's.
"""
from __future__ import annotations

import math

import numpy as np

from .nn.module import Parameter

_REMOVED = {"l2": "l2=λ was the seed's penalty λ‖θ‖² (gradient 2λθ); pass weight_decay=2λ, torch's meaning "
                  "(gradient wd·θ)"}


# what lm.schedules' objects record on a parameter group, restored with the optimiser's options
_SCHEDULER_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}


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
    """The shared machinery: parameter groups, lazily created per-parameter state, and the state formats.

    ``param_groups`` is a list of dicts, each with "params" (Parameters) and every option of the optimiser;
    ``state`` maps a parameter's index (its position across the groups, in order) to its buffers, created
    on its first step, as torch does. Subclasses define ``defaults`` and ``_update(group, i, p)``.
    """

    def __init__(self, params, defaults: dict, removed: dict):
        for name in removed:
            raise TypeError(_REMOVED.get(name, f"unexpected keyword argument {name!r}"))
        self.defaults = defaults
        items = list(params)
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        self.param_groups: list[dict] = []
        for group in groups:
            self.add_param_group(group)
        self.state: dict[int, dict] = {}
        self.t = 0  # number of step() calls

    def add_param_group(self, group: dict) -> None:
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group is a dict with a 'params' list")
        unknown = set(group) - set(self.defaults) - _SCHEDULER_KEYS - {"params"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} in a parameter group of {type(self).__name__}")
        params = _check_params(group["params"])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("a parameter appears in more than one parameter group")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict) -> None:
        if group["lr"] < 0:
            raise ValueError(f"lr must be >= 0, got {group['lr']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")

    @property
    def params(self) -> list[Parameter]:
        """Every parameter, in index order (the integer keys of ``state``)."""
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def lr(self) -> float:
        """The first group's learning rate."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = float(value)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad.fill(0.0)

    @staticmethod
    def _decays(group: dict, p: Parameter) -> bool:
        return group["weight_decay"] != 0 and (group["decay_all"] or p.decay)

    def step(self) -> None:
        self.t += 1
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                self._update(group, i, p)
                i += 1

    def _update(self, group: dict, i: int, p: Parameter) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ torch's state layout

    def state_dict(self) -> dict:
        """``{"state": {i: {name: array}}, "param_groups": [{option: value, "params": [i, ...]}]}``: torch's
        layout, with numpy arrays (copies) for the buffers and integer indices for the parameters."""
        groups, i = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": list(range(i, i + n))})
            i += n
        state = {i: {k: np.array(v, copy=True) for k, v in s.items()} for i, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore buffers and group options from ``state_dict`` (as ``state_dict`` writes it; indices and
        shapes must fit this optimiser's parameters)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("the state dict's parameter groups do not match this optimizer's")
        params = self.params
        state = {}
        for i, s in state_dict["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"optimizer state for parameter {i}, but there are {len(params)}")
            state[i] = self._checked_state(i, params[i], s)
        keep = set(self.defaults) | _SCHEDULER_KEYS  # not torch's foreach, fused, capturable, ...
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({k: v for k, v in theirs.items() if k in keep})
        self.state = state
        self.t = max((int(s["step"]) for s in state.values() if "step" in s), default=self.t)

    _REQUIRED: tuple[str, ...] = ()  # the buffers every stepped parameter has

    def _checked_state(self, i: int, p: Parameter, s: dict) -> dict:
        for name in self._REQUIRED:
            if name not in s:
                raise ValueError(f"optimizer state {name!r} of parameter {i} is missing (another optimizer's?)")
        out = {}
        for name, value in s.items():
            value = np.asarray(value)
            if name == "step":
                out[name] = np.array(int(value))
            elif value.shape != p.data.shape:
                raise ValueError(f"optimizer state {name!r} of parameter {i} has the wrong shape "
                                 f"{value.shape}, not {p.data.shape}")
            else:
                out[name] = value.astype(p.data.dtype, copy=True)
        return out

    # ------------------------------------------------------------------ flat arrays, for lm checkpoints

    # torch's buffer names -> the short names of checkpoint members (the seed's m, v, buf)
    _SHORT = {"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax", "momentum_buffer": "buf", "step": "step"}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The state as flat named arrays for an ``.npz`` checkpoint: "t" and "<m|v|vmax|buf|step>.<i>".
        Group options are not included: a resumed run builds its optimiser from its own options."""
        arrays = {"t": np.array(self.t)}
        for i, s in self.state.items():
            for name, value in s.items():
                arrays[f"{self._SHORT[name]}.{i}"] = np.array(value, copy=True)
        return arrays

    def load_state_arrays(self, arrays) -> None:
        """Inverse of ``state_arrays``; also reads checkpoints written before per-parameter steps were kept
        (every parameter's step is then "t")."""
        if "t" not in arrays:
            raise ValueError("optimizer state 't' is missing")
        t = int(np.asarray(arrays["t"]))
        long = {v: k for k, v in self._SHORT.items()}
        params = self.params
        state: dict[int, dict] = {}
        for key, value in arrays.items():
            if key == "t":
                continue
            short, _, index = key.partition(".")
            if short not in long or not index.isdigit() or int(index) >= len(params):
                raise ValueError(f"unexpected optimizer state {key!r}")
            state.setdefault(int(index), {})[long[short]] = value
        if t and self._REQUIRED:  # a stepped Adam has state for every parameter; SGD only with momentum
            for i in range(len(params)):
                state.setdefault(i, {})
        for i, s in state.items():
            if self._REQUIRED:
                s.setdefault("step", t)  # the seed's checkpoints kept one step for all parameters
            state[i] = self._checked_state(i, params[i], s)
        self.state = state
        self.t = t


class SGD(Optimizer):
    """torch.optim.SGD: g ← ±∇ (+ wd·θ); with momentum μ, b ← g on the first step, then
    b ← μ·b + (1 − dampening)·g; the step uses g + μ·b (Nesterov) or b; θ ← θ − lr·(that)."""

    def __init__(self, params, *, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False,
                 decay_all: bool = False, **removed):
        super().__init__(params, dict(lr=float(lr), momentum=float(momentum), dampening=float(dampening),
                                      weight_decay=float(weight_decay), nesterov=bool(nesterov),
                                      maximize=bool(maximize), decay_all=bool(decay_all)), removed)

    def _check_group(self, group):
        super()._check_group(group)
        if group["momentum"] < 0:
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, group, i, p):
        g = -p.grad if group["maximize"] else p.grad
        if self._decays(group, p):
            g = g + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:  # like torch, SGD keeps no step count, and no state at all without momentum
            buf = self.state.get(i, {}).get("momentum_buffer")
            if buf is None:
                buf = self.state.setdefault(i, {})["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= mu
                buf += (1.0 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * g


class Adam(Optimizer):
    """torch.optim.Adam: g ← ±∇ (+ wd·θ, the coupled penalty); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    with amsgrad v_max ← max(v_max, v) replaces v below; θ ← θ − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)."""

    _decoupled = False
    _REQUIRED = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, *, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 decay_all: bool = False, **removed):
        super().__init__(params, dict(lr=float(lr), betas=tuple(float(b) for b in betas), eps=float(eps),
                                      weight_decay=float(weight_decay), amsgrad=bool(amsgrad),
                                      maximize=bool(maximize), decay_all=bool(decay_all)), removed)

    def _check_group(self, group):
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0:
            raise ValueError(f"eps must be >= 0, got {group['eps']}")

    def _update(self, group, i, p):
        b1, b2 = group["betas"]
        lr = group["lr"]
        g = -p.grad if group["maximize"] else p.grad
        if self._decays(group, p):
            if self._decoupled:
                p.data *= 1.0 - lr * group["weight_decay"]
            else:
                g = g + group["weight_decay"] * p.data
        s = self.state.get(i)
        if s is None:
            s = self.state[i] = {"step": np.array(0), "exp_avg": np.zeros_like(p.data),
                                 "exp_avg_sq": np.zeros_like(p.data)}
            if group["amsgrad"]:
                s["max_exp_avg_sq"] = np.zeros_like(p.data)
        t = int(s["step"]) + 1
        s["step"] = np.array(t)
        m, v = s["exp_avg"], s["exp_avg_sq"]
        # m ← β1·m + (1−β1)·g as torch's lerp computes it (the rounding then agrees to the last bit)
        if 1.0 - b1 < 0.5:
            m += (g - m) * (1.0 - b1)
        else:
            m[...] = g - (g - m) * b1
        v *= b2
        v += (1.0 - b2) * (g * g)
        if group["amsgrad"]:
            np.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
            v = s["max_exp_avg_sq"]
        step_size = lr / (1.0 - b1 ** t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1.0 - b2 ** t)
        denom += group["eps"]
        np.divide(m, denom, out=denom)
        denom *= step_size
        p.data -= denom


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay θ ← θ − lr·wd·θ before the update (default 0.01)."""

    _decoupled = True

    def __init__(self, params, *, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False, maximize: bool = False,
                 decay_all: bool = False, **removed):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decay_all=decay_all, **removed)
