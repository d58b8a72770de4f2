"""The checks every public function applies to its numeric and list options, in one place, so that the
same mistake raises the same exception everywhere (the trainers' shared rules: fasttok.tokenizer.TrainerOptions).
"""
import numbers
import warnings

__all__ = ["check_int", "check_special_tokens", "check_num_threads", "check_optional_num_threads", "INT64_MAX", "MAX_THREADS"]

# The largest value an integer option may take unless it says otherwise: the core's counts and lengths
# are int64, and a larger Python int would otherwise fail deep inside as an unnamed OverflowError.
INT64_MAX = 2**63 - 1
# More threads than this is a mistake, not a machine (each one gets its own table).
MAX_THREADS = 4096


def check_int(name, value, minimum, maximum=INT64_MAX):
    """`value` as an int from `minimum` to `maximum`: TypeError for a non-integer (a bool, a float, a str
    too), else ValueError below or above the range. Every message names the option and the range.

    >>> check_int("vocab_size", 300, 1)
    300
    >>> check_int("num_threads", 10**30, 1, 4096)
    Traceback (most recent call last):
    ...
    ValueError: num_threads must be at most 4096 (allowed: 1..4096), got 1000000000000000000000000000000
    """
    allowed = f"{minimum}..{maximum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int ({allowed}), not {type(value).__name__} ({value!r:.40})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum} (allowed: {allowed}), got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum} (allowed: {allowed}), got {value}")
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
    return check_int("num_threads", num_threads, 1, MAX_THREADS)


def check_optional_num_threads(num_threads):
    """None (the caller picks, e.g. os.cpu_count()) or a checked num_threads."""
    return None if num_threads is None else check_int("num_threads", num_threads, 1, MAX_THREADS)
