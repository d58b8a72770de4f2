"""Input checks shared by the losses and trainers: one place for the error messages."""
import numpy as np


class VocabMismatchError(ValueError):
    """Policy, reference, reward model and tokenizer disagree on the vocabulary size."""


def check_finite(name, array):
    """Raise ValueError naming `name` if `array` holds NaN or inf (a NaN reward would poison every update)."""
    array = np.asarray(array)
    if not np.all(np.isfinite(array)):
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {n_bad} non-finite value(s) (NaN or inf)")
    return array


def check_same_shape(**arrays):
    """Raise ValueError unless every named array has the same shape."""
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError("shape mismatch: " + ", ".join(f"{n}{s}" for n, s in shapes.items()))


def check_vocab(**vocab_sizes):
    """Raise VocabMismatchError unless every named component has the same vocabulary size."""
    if len(set(vocab_sizes.values())) > 1:
        raise VocabMismatchError(
            "vocabulary sizes differ: " + ", ".join(f"{n}={v}" for n, v in vocab_sizes.items()))


def masked_mean(x, mask):
    """Mean of x over positions where mask is 1; the denominator is the number of valid positions."""
    n_valid = mask.sum()
    if n_valid == 0:
        raise ValueError("mask selects no positions (every response is empty)")
    return (x * mask).sum() / n_valid
