"""Per-token log-probabilities, entropy and exact KL from logits, each forward beside its backward.

Every RLHF objective here (PPO ratio, DPO margins, the KL penalty) is a function of the log-probability
the policy gives to the tokens it actually sampled, so the only gradient a language model must accept
from this package is d loss / d logits, which `token_logprobs_backward` produces.
"""
import numpy as np


def log_softmax(logits):
    """Numerically stable log-softmax over the last axis: [0., 0.] -> [-0.693, -0.693]."""
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., V)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (..., V)


def token_logprobs(logits, tokens):
    """log p(tokens[b, t] | ...) read from logits (B, T, V) -> (B, T), same float dtype as `logits`."""
    logits = np.asarray(logits)
    tokens = np.asarray(tokens)
    if logits.shape[:-1] != tokens.shape:
        raise ValueError(f"logits {logits.shape} do not match tokens {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= logits.shape[-1]):
        raise ValueError(f"token ids must lie in [0, {logits.shape[-1]}); got [{tokens.min()}, {tokens.max()}]")
    logp = log_softmax(logits)  # (B, T, V)
    return np.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]  # (B, T)


def token_logprobs_backward(logits, tokens, dlogp):
    """Gradient of sum(dlogp * token_logprobs(logits, tokens)) w.r.t. logits: dlogp * (onehot - softmax)."""
    logits = np.asarray(logits)
    probs = np.exp(log_softmax(logits))  # (B, T, V)
    dlogp = np.asarray(dlogp, dtype=logits.dtype)
    dlogits = -probs * dlogp[..., None]  # (B, T, V)
    # the onehot term: add dlogp at the sampled token of every position
    np.add.at(dlogits, (*np.indices(tokens.shape), tokens), dlogp)  # (B, T, V)
    return dlogits


def entropy(logits):
    """Entropy of the next-token distribution at each position: (..., V) -> (...), in nats."""
    logp = log_softmax(np.asarray(logits))  # (..., V)
    return -(np.exp(logp) * logp).sum(axis=-1)  # (...)


def kl_full(logits, ref_logits):
    """Exact KL(p || q) per position between softmax(logits) and softmax(ref_logits): (..., V) -> (...).

    Used for logging: unlike the sampled estimate it never goes negative and has no sampling noise.
    """
    logits, ref_logits = np.asarray(logits), np.asarray(ref_logits)
    if logits.shape != ref_logits.shape:
        raise ValueError(f"policy logits {logits.shape} and reference logits {ref_logits.shape} differ in shape")
    logp, logq = log_softmax(logits), log_softmax(ref_logits)  # (..., V)
    return (np.exp(logp) * (logp - logq)).sum(axis=-1)  # (...)
