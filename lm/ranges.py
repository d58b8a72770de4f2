"""Range checks of option dataclasses (TrainingConfig, PPOConfig, DemoConfig): one rule per field and one
message format, so the command line reports any refused value as a usage error naming it.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Options:
    ...     lr: float = 1e-3
    >>> check_ranges(Options(lr=float("nan")), {"lr": POSITIVE})
    Traceback (most recent call last):
    ...
    ValueError: lr must be finite and > 0, got nan

Each rule is (predicate, what it asks); NaN fails every one. This module imports nothing of lm.
"""
from __future__ import annotations

import math

POSITIVE = (lambda v: 0 < v < math.inf, "finite and > 0")
NON_NEGATIVE = (lambda v: 0 <= v < math.inf, "finite and >= 0")
AT_LEAST_ONE = (lambda v: v >= 1, ">= 1")
FRACTION = (lambda v: 0 <= v < 1, "in [0, 1)")
UNIT = (lambda v: 0 <= v <= 1, "in [0, 1]")
OPEN_UNIT = (lambda v: 0 < v < 1, "in (0, 1)")


def optional(rule):
    """The rule, or None."""
    ok, what = rule
    return (lambda v: v is None or ok(v), f"None or {what}")


def check_ranges(options, rules: dict) -> None:
    """Raise ValueError naming the first field of `options` whose value its rule refuses."""
    for name, (ok, what) in rules.items():
        value = getattr(options, name)
        if not ok(value):
            raise ValueError(f"{name} must be {what}, got {value}")
