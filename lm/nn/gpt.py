"""GPT: a decoder-only transformer (token + position embeddings, pre-LN blocks, causal self-attention,
GELU MLP, final LayerNorm, output projection tied to the token embedding).

Interface (stable; lm.rlhf builds on it)::

    cfg = GPTConfig(vocab_size=512, block_size=64)
    model = GPT(cfg, rng=np.random.default_rng(0))

    logits, loss = model.forward(idx, targets)   # idx, targets: (B, T) ints; logits (B, T, V)
    model.zero_grad()
    model.backward()                             # backprop the mean cross-entropy of that forward
    for name, p in model.named_parameters():     # p.data, p.grad (same shape), p.decay
        ...

    # custom losses on the logits (policy gradients, KL, ...): forward without targets, compute
    # dL/dlogits yourself, then push it through the network.
    logits, _ = model.forward(idx)               # loss is None
    logp = lm.functional.token_log_probs(logits, targets)              # (B, T) log P(targets)
    dlogits = lm.functional.token_log_probs_backward(dlogp, logits, targets)  # from dL/dlogp (B, T)
    model.backward(dlogits)

    # a scalar/value head on the final hidden states (after the last LayerNorm):
    logits, _ = model.forward(idx)
    h = model.hidden                             # (B, T, C) hidden states of that forward
    model.backward(dlogits, dhidden=dh)          # both gradients in one pass; either may be None
    h = model.forward_hidden(idx)                # hidden states only (skips the vocab projection)
    model.backward(dhidden=dh)                   # ... then backprop a gradient w.r.t. them alone

    ids = model.generate(prompt_ids, 50, temperature=0.8, top_k=40, rng=rng)
    state = model.state_dict(); model.load_state_dict(state)   # dict name -> array
    lm.checkpoint.save(path, model); model, meta = lm.checkpoint.load(path)  # .npz + JSON header

``backward`` accumulates into ``p.grad``; call ``zero_grad`` between steps. A model caches one forward at a
time: to run a frozen reference model, use a second GPT instance (``GPT(cfg, rng=...)`` then
``load_state_dict``). ``model.eval()`` turns dropout and label smoothing off (an eval-mode loss is the
plain cross-entropy); ``model.train()`` turns them back on.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .. import functional as F
from .blocks import Block
from .layers import Dropout, Embedding, LayerNorm
from .module import Module, check_config


@dataclass
class GPTConfig:
    vocab_size: int = 512         # number of token ids
    block_size: int = 64          # context length: the longest sequence the model accepts
    n_layer: int = 2              # transformer blocks
    n_head: int = 4               # attention heads per block (d_model must be divisible by it)
    d_model: int = 128            # width of the residual stream
    d_ff: int | None = None       # MLP hidden width; None means 4 * d_model
    dropout: float = 0.0          # on embeddings and on every residual branch, training mode only
    bias: bool = True             # biases in Linear and LayerNorm
    label_smoothing: float = 0.0  # ε of the training cross-entropy (train mode only; eval mode uses 0)
    dtype: str = "float32"        # "float32" or "float64"

    def __post_init__(self):
        check_config(self, ("vocab_size", "block_size", "n_layer", "n_head", "d_model"))

    def to_dict(self) -> dict:
        return asdict(self)


def check_ids(idx, *, vocab_size: int, block_size: int | None = None) -> np.ndarray:
    """Validate a (B, T) batch of token ids: integer dtype, in range, no longer than the context."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {idx.dtype}")
    if idx.ndim != 2:
        raise ValueError(f"token ids must have shape (batch, time), got {idx.shape}")
    if block_size is not None and idx.shape[1] > block_size:
        raise ValueError(f"sequence length {idx.shape[1]} exceeds the context length block_size={block_size}")
    if idx.size and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(f"token id out of range [0, {vocab_size}): min {idx.min()}, max {idx.max()}")
    return idx


class GPT(Module):
    def __init__(self, config: GPTConfig, *, rng: np.random.Generator):
        self.config = config
        c = config
        dt = c.dtype
        # GPT-2's scaled init: residual projections get std 0.02/√(2·n_layer) so the residual stream's
        # variance does not grow with depth.
        proj_std = 0.02 / math.sqrt(2 * c.n_layer)
        self.wte = Embedding(c.vocab_size, c.d_model, rng=rng, dtype=dt)
        self.wpe = Embedding(c.block_size, c.d_model, rng=rng, dtype=dt)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = [Block(c.d_model, c.n_head, c.d_ff or 4 * c.d_model, rng=rng, causal=True, bias=c.bias,
                             dropout=c.dropout, proj_std=proj_std, dtype=dt) for _ in range(c.n_layer)]
        self.ln_f = LayerNorm(c.d_model, bias=c.bias, dtype=dt)
        self.hidden = None
        self._dloss = None

    # ------------------------------------------------------------------ forward
    def forward_hidden(self, idx) -> np.ndarray:
        """Final hidden states (after the last LayerNorm): (B, T) ids -> (B, T, C)."""
        c = self.config
        idx = check_ids(idx, vocab_size=c.vocab_size, block_size=c.block_size)
        t = idx.shape[1]
        x = self.wte.forward(idx) + self.wpe.forward(np.arange(t))  # (B, T, C)
        x = self.drop.forward(x)
        for block in self.blocks:
            x = block.forward(x)
        self.hidden = self.ln_f.forward(x)  # (B, T, C)
        self._dloss = None
        return self.hidden

    def logits_from_hidden(self, h: np.ndarray) -> np.ndarray:
        """Tied output projection: (B, T, C) -> (B, T, V)."""
        w = self.wte.weight.data
        return (h.reshape(-1, h.shape[-1]) @ w.T).reshape(h.shape[:-1] + (w.shape[0],))

    def forward(self, idx, targets=None, *, ignore_index: int = F.IGNORE_INDEX):
        """(B, T) ids -> (logits (B, T, V), loss). loss is the mean next-token cross-entropy against
        ``targets`` (positions equal to ``ignore_index`` skipped), or None without targets."""
        h = self.forward_hidden(idx)
        logits = self.logits_from_hidden(h)  # (B, T, V)
        if targets is None:
            return logits, None
        targets = np.asarray(targets)
        # ε smooths the training objective only: in eval mode the loss is the plain cross-entropy, so
        # every evaluation and reported perplexity measures the model, not the regulariser
        eps = self.config.label_smoothing if self.training else 0.0
        loss, self._dloss = F.cross_entropy(logits, targets, ignore_index=ignore_index, label_smoothing=eps,
                                            grad=True)
        return logits, loss

    # ------------------------------------------------------------------ backward
    def backward(self, dlogits: np.ndarray | None = None, *, dhidden: np.ndarray | None = None) -> None:
        """Accumulate parameter gradients.

        With no arguments, backprop the loss of the last ``forward(idx, targets)``. Otherwise backprop
        ``dlogits`` (B, T, V) and/or ``dhidden`` (B, T, C), the gradient w.r.t. ``model.hidden``.
        """
        if dlogits is None and dhidden is None:
            if self._dloss is None:
                raise RuntimeError("backward() needs a preceding forward(idx, targets) or an explicit gradient")
            dlogits = self._dloss
        h = self.hidden
        if h is None:
            raise RuntimeError("backward() called before forward()")
        dt = h.dtype
        dh = None
        if dhidden is not None:
            dh = np.array(dhidden, dtype=dt)  # (B, T, C), a copy: we add into it
            if dh.shape != h.shape:
                raise ValueError(f"dhidden has shape {dh.shape}, hidden states have {h.shape}")
        if dlogits is not None:
            dlogits = np.asarray(dlogits, dtype=dt)
            cdim = h.shape[-1]
            w = self.wte.weight
            if dlogits.shape != h.shape[:-1] + (w.data.shape[0],):
                raise ValueError(f"dlogits has shape {dlogits.shape}, logits have {h.shape[:-1] + (w.data.shape[0],)}")
            dl2 = dlogits.reshape(-1, w.data.shape[0])  # (N, V)
            w.grad += dl2.T @ h.reshape(-1, cdim)  # (V, C): the tied head's share
            dh_logits = (dl2 @ w.data).reshape(h.shape)  # (B, T, C)
            dh = dh_logits if dh is None else dh + dh_logits
        dx = self.ln_f.backward(dh)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        dx = self.drop.backward(dx)
        self.wte.backward(dx)
        self.wpe.backward(dx.sum(axis=0))  # (T, C): positions are shared across the batch

    # ------------------------------------------------------------------ sampling
    def generate(self, ids, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                 rng: np.random.Generator) -> np.ndarray:
        """Append ``n`` sampled tokens to ``ids`` ((T,) or (B, T)); returns the same rank, longer by n.

        The context is cropped to the last ``block_size`` tokens. temperature 0 means greedy.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        ids = np.asarray(ids)
        squeeze = ids.ndim == 1
        out = ids[None, :] if squeeze else ids
        check_ids(out, vocab_size=self.config.vocab_size)
        if out.shape[1] == 0:
            raise ValueError("generate needs at least one prompt token")
        out = out.astype(np.int64)
        was_training = self.training
        self.eval()
        try:
            for _ in range(n):
                ctx = out[:, -self.config.block_size:]
                logits = self.logits_from_hidden(self.forward_hidden(ctx)[:, -1])  # (B, V)
                out = np.concatenate([out, sample_logits(logits, temperature=temperature, top_k=top_k,
                                                         rng=rng)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return out[0] if squeeze else out


def sample_logits(logits: np.ndarray, *, temperature: float, top_k: int | None,
                  rng: np.random.Generator) -> np.ndarray:
    """One id per row of (B, V) logits: greedy at temperature 0, else softmax(logits/T) over the top k."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature  # (B, V); float64 so tiny probabilities sum exactly
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]  # (B, 1)
        z = np.where(z < kth, -np.inf, z)
    p = F.softmax(z)
    u = rng.random((z.shape[0], 1))
    return np.minimum((p.cumsum(axis=-1) < u).sum(axis=-1), z.shape[-1] - 1)
