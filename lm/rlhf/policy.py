"""A GPT policy with a value head, the frozen reference, and response log-probabilities.

Layout used throughout lm.rlhf: a batch of sequences ``ids`` (B, L) is a prompt of ``prompt_length`` = P
tokens followed by a response of L − P tokens. Running the GPT on ids[:, :-1] gives logits (B, L−1, V)
whose positions P−1 .. L−2 predict the response tokens ids[:, P:], so "response logits" are
logits[:, P−1:] and the value of the state before response token t is read at the same position.
"""
import numpy as np

from .. import functional as F
from ..nn.module import Module, Parameter
from ._checks import check_vocab


def split_response(ids, prompt_length):
    """Check the layout and return the response tokens ids[:, P:] (B, N)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or not 1 <= prompt_length < ids.shape[1]:
        raise ValueError(f"need (B, L) ids with 1 <= prompt_length < L; got {ids.shape}, P={prompt_length}")
    return ids[:, prompt_length:]


def response_logits(model, ids, prompt_length):
    """Logits that predict the response tokens: (B, L) ids -> (B, N, V), N = L − P."""
    split_response(ids, prompt_length)
    logits, _ = model.forward(ids[:, :-1])  # (B, L-1, V)
    return logits[:, prompt_length - 1:]


def response_logprobs(model, ids, prompt_length):
    """log π(y_t | x, y_<t) of each response token under `model`: (B, L) -> (B, N)."""
    return F.token_log_probs(response_logits(model, ids, prompt_length), split_response(ids, prompt_length))


def copy_gpt(gpt, *, rng):
    """A second, independent GPT with the same config and weights (a frozen reference, a fresh trunk)."""
    clone = type(gpt)(gpt.config, rng=rng)
    clone.load_state_dict(gpt.state_dict())
    return clone


class PolicyWithValue(Module):
    """The PPO actor-critic: a GPT whose final hidden states also feed a scalar value head.

    Sharing the trunk (as TRL's value-head models do) costs one forward pass for both heads; the value
    loss is down-weighted by PPOConfig.vf_coef so it does not dominate the trunk's features.
    """

    def __init__(self, gpt, *, rng):
        self.gpt = gpt
        dtype = np.dtype(gpt.config.dtype)
        d_model = gpt.config.d_model
        # small random head, as in TRL: a zero head would make every first value estimate exactly 0
        self.value_w = Parameter((rng.normal(size=d_model) * 0.01).astype(dtype), decay=True)
        self.value_b = Parameter(np.zeros(1, dtype=dtype), decay=False)
        self._cache = None

    @property
    def vocab_size(self):
        return self.gpt.config.vocab_size

    def forward(self, ids, *, prompt_length):
        """(B, L) ids -> (response logits (B, N, V), values (B, N))."""
        logits = response_logits(self.gpt, ids, prompt_length)  # (B, N, V)
        h = self.gpt.hidden[:, prompt_length - 1:]  # (B, N, C)
        values = h @ self.value_w.data + self.value_b.data  # (B, N)
        self._cache = (prompt_length, h)
        return logits, values

    def backward(self, dlogits, dvalues):
        """Accumulate gradients from d loss/d response logits (B, N, V) and d loss/d values (B, N)."""
        prompt_length, h = self._cache
        full_h = self.gpt.hidden  # (B, L-1, C)
        dlogits_full = np.zeros(full_h.shape[:-1] + (dlogits.shape[-1],), dtype=full_h.dtype)  # (B, L-1, V)
        dlogits_full[:, prompt_length - 1:] = dlogits
        dvalues = np.asarray(dvalues, dtype=full_h.dtype)
        dhidden = np.zeros_like(full_h)  # (B, L-1, C)
        dhidden[:, prompt_length - 1:] = dvalues[..., None] * self.value_w.data  # (B, N, C)
        self.value_w.grad += np.einsum("bn,bnc->c", dvalues, h)  # (C,)
        self.value_b.grad += dvalues.sum()
        self.gpt.backward(dlogits_full, dhidden=dhidden)


def check_models(policy_gpt, reference_gpt, reward_model=None):
    """Raise VocabMismatchError unless policy, reference (and reward model) share one vocabulary."""
    sizes = {"policy": policy_gpt.config.vocab_size, "reference": reference_gpt.config.vocab_size}
    if reward_model is not None:
        sizes["reward_model"] = reward_model.vocab_size
    check_vocab(**sizes)
    if policy_gpt is reference_gpt:
        raise ValueError("the reference policy must be a separate, frozen copy of the policy (see copy_gpt)")
