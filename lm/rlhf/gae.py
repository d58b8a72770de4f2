"""Generalised advantage estimation (Schulman et al. 2016) over padded batches of responses."""
import numpy as np

from ._checks import check_finite, check_same_shape


def gae(rewards, values, *, mask, gamma, lam):
    """Advantages and returns by GAE(γ, λ).

    rewards, values, mask: (B, T); mask is 1 on a prefix of each row (the generated tokens). After the last
    valid token the episode ends, so the bootstrap value there is 0.
        δ_t = r_t + γ·V_{t+1} − V_t,   Â_t = δ_t + γλ·Â_{t+1},   R_t = Â_t + V_t
    Returns (advantages (B, T), returns (B, T)), zero where mask is 0.

    >>> gae(np.array([[0., 1.]]), np.array([[0.5, 0.5]]), mask=np.ones((1, 2)), gamma=1.0, lam=1.0)[0]
    array([[0.5, 0.5]])
    """
    rewards = check_finite("rewards", rewards)
    values = check_finite("values", values)
    check_same_shape(rewards=rewards, values=values, mask=mask)
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must lie in [0, 1]; got gamma={gamma}, lam={lam}")
    mask = mask.astype(rewards.dtype)
    values = values * mask  # (B, T) values past the end do not bootstrap
    n_steps = rewards.shape[1]
    advantages = np.zeros_like(rewards)  # (B, T)
    running = np.zeros(rewards.shape[0], dtype=rewards.dtype)  # (B,) Â_{t+1}
    for t in reversed(range(n_steps)):
        next_value = values[:, t + 1] if t + 1 < n_steps else 0.0  # (B,)
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        running = (delta + gamma * lam * running) * mask[:, t]  # (B,)
        advantages[:, t] = running
    return advantages, (advantages + values) * mask


def whiten(x, mask, *, shift_mean=True):
    """Normalise x to unit variance (and zero mean) over the valid positions, as PPO does to advantages."""
    mask = mask.astype(x.dtype)
    n_valid = mask.sum()
    if n_valid < 2:
        return x * mask
    mean = (x * mask).sum() / n_valid
    var = (((x - mean) * mask) ** 2).sum() / (n_valid - 1)
    out = (x - mean) / np.sqrt(var + 1e-8) if shift_mean else (x - mean) / np.sqrt(var + 1e-8) + mean
    return (out * mask).astype(x.dtype)
