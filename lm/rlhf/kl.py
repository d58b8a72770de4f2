"""The KL penalty to the frozen reference policy: per-token estimate, reward shaping, β controllers.

InstructGPT and TRL fold the penalty into the per-token rewards: token t of a response earns
-β·(log πθ(y_t|·) − log π_ref(y_t|·)) and the last token additionally earns the reward model's score.
The sum of the per-token terms is a single-sample estimate of -β·KL(πθ ‖ π_ref) over the response.
"""
from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, check_same_shape


def kl_per_token(logp, ref_logp):
    """Sampled KL estimate at each generated token: log πθ(y_t) − log π_ref(y_t) (zero for identical policies)."""
    check_same_shape(logp=logp, ref_logp=ref_logp)
    return np.asarray(logp) - np.asarray(ref_logp)


def shape_rewards(scores, logp, ref_logp, *, mask, beta):
    """Per-token rewards for PPO: -β·KL estimate at every response token, plus the score on the last one.

    scores: (B,) reward-model score of each response.  logp, ref_logp, mask: (B, T) over response tokens,
    mask 1 on the generated tokens (a prefix of each row; every row must have at least one).
    Returns (rewards (B, T), kl (B, T)), both zero where mask is 0.
    """
    scores = check_finite("reward scores", scores)
    check_finite("policy log-probs", logp)
    check_finite("reference log-probs", ref_logp)
    check_same_shape(logp=logp, ref_logp=ref_logp, mask=mask)
    if scores.shape != (mask.shape[0],):
        raise ValueError(f"scores shape {scores.shape} does not match batch size {mask.shape[0]}")
    lengths = mask.sum(axis=1).astype(np.int64)  # (B,)
    if np.any(lengths == 0):
        raise ValueError("every response needs at least one token to carry its reward")
    kl = kl_per_token(logp, ref_logp) * mask  # (B, T)
    rewards = -beta * kl  # (B, T)
    rewards[np.arange(mask.shape[0]), lengths - 1] += scores
    return rewards.astype(logp.dtype), kl


def adaptive_beta(beta, kl, *, target, horizon, n_steps):
    """One Ziegler et al. (2019) update: β ← β·(1 + K_β·e), e = clip(KL/target − 1, −0.2, 0.2),
    K_β = n_steps/horizon.

    The proportional error is clipped so one noisy KL estimate cannot move β by more than 20%·K_β.
    """
    if not (np.isfinite(kl) and np.isfinite(beta)):
        raise ValueError(f"adaptive KL update got a non-finite value (beta={beta}, kl={kl})")
    error = float(np.clip(kl / target - 1.0, -0.2, 0.2))
    return beta * (1.0 + error * n_steps / horizon)


@dataclass
class FixedKLController:
    """A constant β (β = 0 turns the penalty off)."""
    beta: float

    def update(self, kl, n_steps):
        return self.beta


@dataclass
class AdaptiveKLController:
    """β that steers the observed KL towards `target` (nats per response) over about `horizon` samples."""
    beta: float       # initial coefficient
    target: float     # desired KL(πθ ‖ π_ref) per response, nats
    horizon: int      # samples over which β may change by a factor e^{±0.2}

    def __post_init__(self):
        if self.target <= 0 or self.horizon <= 0 or self.beta < 0:
            raise ValueError(f"adaptive KL needs target > 0, horizon > 0, beta >= 0; got {self}")

    def update(self, kl, n_steps):
        """Record the KL of the last rollout of `n_steps` samples; return the new β."""
        self.beta = adaptive_beta(self.beta, kl, target=self.target, horizon=self.horizon, n_steps=n_steps)
        return self.beta
