"""The checks every public function applies to its numeric and list options, in one place, so that the
same mistake raises the same exception everywhere (the trainers' shared rules: fasttok.tokenizer.TrainerOptions).
"""
import numbers
import warnings

__all__ = ["check_int", "check_special_tokens", "check_num_threads"]


def check_int(name, value, minimum):
    """`value` as an int of at least `minimum`: TypeError for a non-integer (a bool too), else ValueError.

    >>> check_int("vocab_size", 300, 1)
    300
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_special_tokens(special_tokens):
    """The special tokens as a list of distinct non-empty strings (TypeError for one bare string)."""
    if isinstance(special_tokens, str):
        raise TypeError("special_tokens must be a sequence of strings, not one string")
    special = list(special_tokens)
    for s in special:
        if not isinstance(s, str) or not s:
            raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
    if len(set(special)) != len(special):
        raise ValueError(f"duplicate special tokens in {special}")
    return special


def check_num_threads(num_threads, num_workers=None):
    """`num_threads` checked; `num_workers`, its old name, is accepted with a DeprecationWarning."""
    if num_workers is not None:
        warnings.warn("num_workers is renamed num_threads; num_workers will be removed in the next release",
                      DeprecationWarning, stacklevel=3)
        num_threads = num_workers
    return check_int("num_threads", num_threads, 1)
