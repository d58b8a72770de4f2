"""The reward model's pairwise objective (InstructGPT eq. 1) and, once a GPT is available, the model."""
import numpy as np

from ._checks import check_finite, check_same_shape


def _log_sigmoid(z):
    """log σ(z) without overflow: -softplus(-z) = -log(1 + exp(-z))."""
    return -np.logaddexp(0, -z)


def _sigmoid(z):
    """σ(z) without overflow for large |z|."""
    return np.exp(_log_sigmoid(z))


def reward_loss(r_chosen, r_rejected, *, margin=0.0):
    """Pairwise loss mean(-log σ(r+ − r− − margin)) and its gradients.

    r_chosen, r_rejected: (N,) rewards of the preferred and the worse response of each pair.
    margin: scalar or (N,); a positive margin asks r+ to beat r− by at least that much (Llama 2 style).
    Returns (loss: float, d_chosen (N,), d_rejected (N,)); d_rejected = -d_chosen.

    >>> reward_loss(np.array([0.0]), np.array([0.0]))[0]   # log 2
    0.6931471805599453
    """
    r_chosen = check_finite("r_chosen", r_chosen)
    r_rejected = check_finite("r_rejected", r_rejected)
    check_same_shape(r_chosen=r_chosen, r_rejected=r_rejected)
    if r_chosen.ndim != 1 or r_chosen.size == 0:
        raise ValueError(f"reward_loss needs a non-empty 1-D batch of pairs; got shape {r_chosen.shape}")
    margin = check_finite("margin", margin)
    n_pairs = r_chosen.shape[0]
    z = r_chosen - r_rejected - margin  # (N,)
    loss = float(-_log_sigmoid(z).sum() / n_pairs)
    # d/dz -log σ(z) = -(1 - σ(z)) = -σ(-z)
    d_chosen = (-_sigmoid(-z) / n_pairs).astype(r_chosen.dtype)  # (N,)
    return loss, d_chosen, -d_chosen


def pair_accuracy(r_chosen, r_rejected):
    """Fraction of pairs where the preferred response gets the strictly higher reward."""
    r_chosen, r_rejected = np.asarray(r_chosen), np.asarray(r_rejected)
    if r_chosen.size == 0:
        raise ValueError("pair_accuracy needs at least one pair")
    return float(np.mean(r_chosen > r_rejected))
