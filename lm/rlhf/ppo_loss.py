"""PPO's clipped objectives (Schulman et al. 2017) as pure functions with explicit gradients.

Both losses are means over the valid (mask = 1) response tokens of the whole minibatch, as in TRL.
"""
import numpy as np

from ._checks import check_finite, check_same_shape, masked_mean


def ppo_policy_loss(logp, old_logp, advantages, *, mask, clip_eps):
    """Clipped surrogate −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â)), ρ = exp(logp − old_logp).

    logp: (B, T) log πθ of the sampled tokens (the variable); old_logp: (B, T) from the rollout policy;
    advantages: (B, T); mask: (B, T).  Returns (loss, dlogp (B, T), stats).
    The gradient is zero wherever the clipped term is the smaller one: ρ > 1+ε with Â > 0, or ρ < 1−ε with
    Â < 0 -- the update already moved that token's probability far enough in the advantage's direction.
    stats: clip_fraction (share of valid tokens whose gradient the clip removes), approx_kl (mean of
    ½(logp − old_logp)², a low-variance estimate of KL(π_old ‖ πθ)), ratio_mean.
    """
    check_finite("policy log-probs", logp)
    check_finite("advantages", advantages)
    check_same_shape(logp=logp, old_logp=old_logp, advantages=advantages, mask=mask)
    if not 0 < clip_eps < 1:
        raise ValueError(f"clip_eps must lie in (0, 1); got {clip_eps}")
    mask = mask.astype(logp.dtype)
    ratio = np.exp(logp - old_logp)  # (B, T)
    unclipped = ratio * advantages  # (B, T)
    clipped = np.clip(ratio, 1 - clip_eps, 1 + clip_eps) * advantages  # (B, T)
    objective = np.minimum(unclipped, clipped)  # (B, T)
    loss = -float(masked_mean(objective, mask))
    # min picks the unclipped term unless the clipped one is strictly smaller; only then is ρ held
    # constant by the clip, so d objective/d logp = ρ·Â where unclipped wins and 0 where the clip binds
    binds = clipped < unclipped  # (B, T)
    n_valid = mask.sum()
    dlogp = np.where(binds, 0, -unclipped) * mask / n_valid  # (B, T)
    stats = {
        "clip_fraction": float(masked_mean(binds.astype(logp.dtype), mask)),
        "approx_kl": float(masked_mean(0.5 * (logp - old_logp) ** 2, mask)),
        "ratio_mean": float(masked_mean(ratio, mask)),
    }
    return loss, dlogp.astype(logp.dtype), stats


def ppo_value_loss(values, old_values, returns, *, mask, clip_range):
    """Clipped value loss ½·mean(max((V − R)², (V_clip − R)²)), V_clip = V_old + clip(V − V_old, ±c).

    values: (B, T) current value estimates (the variable); old_values: (B, T) from the rollout;
    returns: (B, T) GAE returns; mask: (B, T).  Returns (loss, dvalues (B, T), stats).
    The pessimistic max keeps the value function from moving more than c away from its rollout estimate
    in one step; where the clipped branch wins and the clip is active, the gradient is zero.
    """
    check_finite("values", values)
    check_finite("returns", returns)
    check_same_shape(values=values, old_values=old_values, returns=returns, mask=mask)
    if clip_range <= 0:
        raise ValueError(f"clip_range must be positive; got {clip_range}")
    mask = mask.astype(values.dtype)
    moved = np.clip(values - old_values, -clip_range, clip_range)  # (B, T)
    values_clipped = old_values + moved  # (B, T)
    err = values - returns  # (B, T)
    err_clipped = values_clipped - returns  # (B, T)
    use_clipped = err_clipped ** 2 > err ** 2  # (B, T)
    loss = 0.5 * float(masked_mean(np.maximum(err ** 2, err_clipped ** 2), mask))
    inside = np.abs(values - old_values) < clip_range  # (B, T) d V_clip / d V = 1 only inside the range
    n_valid = mask.sum()
    dvalues = np.where(use_clipped, err_clipped * inside, err) * mask / n_valid  # (B, T)
    stats = {"value_clip_fraction": float(masked_mean(use_clipped.astype(values.dtype), mask))}
    return loss, dvalues.astype(values.dtype), stats
