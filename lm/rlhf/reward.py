"""The reward model: its pairwise objective (InstructGPT eq. 1), the model, its training loop."""
import math

import numpy as np

from .. import functional as F
from ..nn.module import Module, Parameter
from ..optim import AdamW, clip_grad_norm
from ._checks import check_finite, check_same_shape
from .policy import copy_gpt
from .preference import check_pairs


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
    loss = float(-F.log_sigmoid(z).sum() / n_pairs)
    # loss = mean(−log σ(z)) and dz/dr+ = 1, dz/dr− = −1: push −1/N back through log σ
    d_chosen = F.log_sigmoid_backward(-1.0 / n_pairs, z).astype(r_chosen.dtype)  # (N,)
    return loss, d_chosen, -d_chosen


def pair_accuracy(r_chosen, r_rejected):
    """Fraction of pairs where the preferred response gets the strictly higher reward."""
    r_chosen, r_rejected = np.asarray(r_chosen), np.asarray(r_rejected)
    if r_chosen.size == 0:
        raise ValueError("pair_accuracy needs at least one pair")
    return float(np.mean(r_chosen > r_rejected))


# ----------------------------------------------------------------------------- the model

class RewardModel(Module):
    """r(x, y): a GPT trunk with a scalar head on the final hidden state of the last token.

    Build it fresh (`RewardModel(GPT(cfg, rng=...), rng=...)`) or from the policy's weights
    (`RewardModel.from_policy(gpt, rng=...)`, InstructGPT's choice: the trunk already reads the language).
    All sequences of one batch have the same length, so "last token" is position L − 1 of every row.
    """

    def __init__(self, trunk, *, rng):
        self.trunk = trunk
        dtype = np.dtype(trunk.config.dtype)
        d_model = trunk.config.d_model
        self.head_w = Parameter((rng.normal(size=d_model) / np.sqrt(d_model)).astype(dtype), decay=True)
        self.head_b = Parameter(np.zeros(1, dtype=dtype), decay=False)
        self._h_last = None

    @classmethod
    def from_policy(cls, gpt, *, rng):
        return cls(copy_gpt(gpt, rng=rng), rng=rng)

    @property
    def vocab_size(self):
        return self.trunk.config.vocab_size

    def forward(self, ids):
        """(B, L) token ids -> (B,) scalar rewards."""
        h = self.trunk.forward_hidden(ids)  # (B, L, C)
        self._h_last = h[:, -1]  # (B, C)
        return self._h_last @ self.head_w.data + self.head_b.data  # (B,)

    def backward(self, dscores):
        """Accumulate parameter gradients from d loss / d rewards (B,)."""
        h = self.trunk.hidden  # (B, L, C)
        dscores = np.asarray(dscores, dtype=h.dtype)  # (B,)
        self.head_w.grad += dscores @ self._h_last  # (C,)
        self.head_b.grad += dscores.sum()
        dhidden = np.zeros_like(h)  # (B, L, C)
        dhidden[:, -1] = dscores[:, None] * self.head_w.data  # (B, C)
        self.trunk.backward(dhidden=dhidden)

    def score(self, ids, *, batch_size=64):
        """Rewards of many sequences without keeping gradients: (B, L) -> (B,)."""
        with self.evaluating():
            return np.concatenate([self.forward(ids[i:i + batch_size]) for i in range(0, len(ids), batch_size)])


def train_reward_model(model, pairs, *, n_epochs, batch_size, lr, margin=0.0, weight_decay=0.0,
                       max_grad_norm=1.0, rng, log=None):
    """Fit `model` to `pairs` (a PreferencePairs) with the pairwise loss; returns per-epoch history."""
    check_pairs(pairs, vocab_size=model.vocab_size)
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = []
    model.train()
    for epoch in range(n_epochs):
        order = rng.permutation(len(pairs))
        losses, accs = [], []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            n = len(idx)
            scores = model.forward(np.concatenate([pairs.chosen[idx], pairs.rejected[idx]]))  # (2n,)
            loss, d_chosen, d_rejected = reward_loss(scores[:n], scores[n:], margin=margin)
            model.zero_grad()
            model.backward(np.concatenate([d_chosen, d_rejected]))
            clip_grad_norm(optimizer.params, max_grad_norm or math.inf, error_if_nonfinite=True)
            optimizer.step()
            losses.append(loss)
            accs.append(pair_accuracy(scores[:n], scores[n:]))
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "train_accuracy": float(np.mean(accs))}
        history.append(row)
        if log is not None:
            log(row)
    model.eval()
    return history


def reward_model_accuracy(model, pairs):
    """Held-out pair accuracy: share of pairs where r(chosen) > r(rejected)."""
    check_pairs(pairs, vocab_size=model.vocab_size)
    return pair_accuracy(model.score(pairs.chosen), model.score(pairs.rejected))
