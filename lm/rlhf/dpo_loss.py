"""Direct Preference Optimisation's loss (Rafailov et al. 2023) with its explicit gradient."""
import numpy as np

from .. import functional as F
from ._checks import check_finite, check_same_shape


def dpo_loss(logp_chosen, logp_rejected, ref_logp_chosen, ref_logp_rejected, *, beta):
    """mean(−log σ(β[(log πθ(y+) − log π_ref(y+)) − (log πθ(y−) − log π_ref(y−))])), with gradients.

    Each argument is (N,): the summed log-probability of a whole response given its prompt.
    Returns (loss, d_logp_chosen (N,), d_logp_rejected (N,), stats); the reference terms are constants.
    stats: reward_accuracy (share of pairs whose implicit reward β·log(πθ/π_ref) ranks y+ above y−) and
    reward_margin (mean difference of those implicit rewards).
    """
    for name, a in (("logp_chosen", logp_chosen), ("logp_rejected", logp_rejected),
                    ("ref_logp_chosen", ref_logp_chosen), ("ref_logp_rejected", ref_logp_rejected)):
        check_finite(name, a)
    check_same_shape(logp_chosen=logp_chosen, logp_rejected=logp_rejected,
                     ref_logp_chosen=ref_logp_chosen, ref_logp_rejected=ref_logp_rejected)
    if np.ndim(logp_chosen) != 1 or np.size(logp_chosen) == 0:
        raise ValueError(f"dpo_loss needs a non-empty 1-D batch of pairs; got shape {np.shape(logp_chosen)}")
    if beta <= 0:
        raise ValueError(f"beta must be positive; got {beta}")
    n_pairs = logp_chosen.shape[0]
    reward_chosen = beta * (logp_chosen - ref_logp_chosen)  # (N,)
    reward_rejected = beta * (logp_rejected - ref_logp_rejected)  # (N,)
    z = reward_chosen - reward_rejected  # (N,)
    loss = float(-F.log_sigmoid(z).sum() / n_pairs)
    dz = F.log_sigmoid_backward(-1.0 / n_pairs, z)  # (N,)
    d_chosen = (beta * dz).astype(logp_chosen.dtype)  # (N,)
    stats = {"reward_accuracy": float(np.mean(z > 0)), "reward_margin": float(np.mean(z))}
    return loss, d_chosen, -d_chosen, stats
