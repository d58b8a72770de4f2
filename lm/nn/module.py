"""Parameter and Module: the two containers every layer is built from.

A Module's ``forward`` caches what its ``backward`` needs on the instance, so one instance serves one
forward/backward pair at a time. ``backward`` *accumulates* into ``Parameter.grad`` (tied weights add
their two contributions) and returns the gradient w.r.t. the forward's input; ``zero_grad`` resets.
"""
from __future__ import annotations

import dataclasses
import typing
from contextlib import contextmanager

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype) -> type:
    """'float32' | 'float64' | numpy dtype -> numpy scalar type; anything else is a TypeError."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return DTYPES[name]


def check_config(config, positive) -> None:
    """The checks every model config shares: every field of its annotated type (a checkpoint's JSON may say
    anything), positive sizes, probabilities (dropout, label smoothing) in [0, 1), heads that divide the
    width, a known dtype."""
    name_of = type(config).__name__
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if not any(_has_type(value, t) for t in typing.get_args(hint) or (hint,)):
            raise TypeError(f"{name_of}.{f.name} must be of type {getattr(hint, '__name__', hint)}, got {value!r}")
    for name in positive:
        if getattr(config, name) <= 0:
            raise ValueError(f"{name_of}.{name} must be positive, got {getattr(config, name)}")
    for name in ("dropout", "label_smoothing"):
        if not 0 <= getattr(config, name, 0.0) < 1:  # NaN fails too
            raise ValueError(f"{name_of}.{name} must be in [0, 1), got {getattr(config, name)}")
    if getattr(config, "d_ff", None) is not None and config.d_ff <= 0:
        raise ValueError(f"{name_of}.d_ff must be positive or None, got {config.d_ff}")
    if hasattr(config, "n_head") and config.d_model % config.n_head:
        raise ValueError(f"d_model={config.d_model} is not divisible by n_head={config.n_head}")
    resolve_dtype(config.dtype)


def _has_type(value, kind) -> bool:
    """Whether `value` is a `kind` (bool, int, float, str or None) as a config field may hold it: an int is
    not a bool, a float may be an int."""
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, (bool, np.bool_))
    if kind is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return isinstance(value, kind) if isinstance(kind, type) else True


class Parameter:
    """A trainable array with its gradient buffer; ``decay`` says whether AdamW/L2 decay applies."""

    __slots__ = ("data", "grad", "decay")

    def __init__(self, data: np.ndarray, *, decay: bool):
        self.data = data
        self.grad = np.zeros_like(data)
        self.decay = decay

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}, decay={self.decay})"


class Module:
    """Base class: discovers Parameters, sub-Modules and lists of sub-Modules among its attributes."""

    training: bool = True

    def named_parameters(self, prefix: str = ""):
        """Yield (dotted name, Parameter) in definition order; a shared Parameter is yielded once."""
        seen: set[int] = set()
        for name, p in self._walk(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _walk(self, prefix):
        for key, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + key, value
            elif isinstance(value, Module):
                yield from value._walk(f"{prefix}{key}.")
            elif isinstance(value, list) and value and all(isinstance(m, Module) for m in value):
                for i, m in enumerate(value):
                    yield from m._walk(f"{prefix}{key}.{i}.")

    def modules(self):
        yield self
        for value in vars(self).values():
            if isinstance(value, Module):
                yield from value.modules()
            elif isinstance(value, list) and value and all(isinstance(m, Module) for m in value):
                for m in value:
                    yield from m.modules()

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def n_params(self) -> int:
        return sum(p.data.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0.0)

    def train(self, mode: bool = True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    @contextmanager
    def evaluating(self):
        """``with model.evaluating():`` runs the block in eval mode, then restores the previous mode."""
        was_training = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was_training)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters; names, shapes must match exactly (ValueError otherwise)."""
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"state mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.data.shape:
                raise ValueError(f"state {name!r} has shape {value.shape}, model expects {p.data.shape}")
            p.data[...] = value  # keeps the model's dtype
