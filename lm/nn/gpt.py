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

    ids = model.generate(prompt_ids, 50, temperature=0.8, top_k=40, rng=rng)   # through a key/value cache
    state = model.state_dict(); model.load_state_dict(state)   # dict name -> array
    lm.checkpoint.save(path, model); model, meta = lm.checkpoint.load(path)  # .npz + JSON header

``backward`` accumulates into ``p.grad``; call ``zero_grad`` between steps. A model caches one forward at a
time: to run a frozen reference model, use a second GPT instance (``GPT(cfg, rng=...)`` then
``load_state_dict``). ``model.eval()`` turns dropout and label smoothing off (an eval-mode loss is the
plain cross-entropy); ``model.train()`` turns them back on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .attention import KVCache
from .base import LanguageModel, TransformerConfig, check_ids, tied_logits, tied_logits_backward
from .blocks import Block, n_block_params
from .generation import check_sampling, generate, sample_logits
from .layers import Dropout, Embedding, LayerNorm

__all__ = ["GPT", "GPTConfig", "check_ids", "sample_logits"]  # check_ids, sample_logits: their old home


@dataclass
class GPTConfig(TransformerConfig):
    bias: bool = True             # biases in Linear and LayerNorm

    def n_params(self) -> int:
        """What ``GPT(self).n_params()`` is, without building it: embeddings, blocks, final LayerNorm."""
        c = self.d_model
        block = n_block_params(c, self.ff_width, bias=self.bias)
        return (self.vocab_size + self.block_size) * c + self.n_layer * block + c * (1 + int(self.bias))


class GPT(LanguageModel):
    def __init__(self, config: GPTConfig, *, rng: np.random.Generator):
        self.config = c = config
        dt = c.dtype
        # GPT-2's scaled init: residual projections get std 0.02/√(2·n_layer) so the residual stream's
        # variance does not grow with depth.
        proj_std = 0.02 / math.sqrt(2 * c.n_layer)
        self.wte = Embedding(c.vocab_size, c.d_model, rng=rng, dtype=dt)
        self.wpe = Embedding(c.block_size, c.d_model, rng=rng, dtype=dt)
        self.drop = Dropout(c.dropout, rng=rng)
        self.blocks = [Block(c.d_model, c.n_head, c.ff_width, rng=rng, causal=True, bias=c.bias,
                             dropout=c.dropout, proj_std=proj_std, dtype=dt) for _ in range(c.n_layer)]
        self.ln_f = LayerNorm(c.d_model, bias=c.bias, dtype=dt)
        self.hidden = None

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
        return tied_logits(h, self.wte.weight.data)

    def forward(self, idx, targets=None, *, ignore_index: int = F.IGNORE_INDEX):
        """(B, T) ids -> (logits (B, T, V), loss). loss is the mean next-token cross-entropy against
        ``targets`` (positions equal to ``ignore_index`` skipped), or None without targets."""
        logits = self.logits_from_hidden(self.forward_hidden(idx))  # (B, T, V)
        return logits, self.loss(logits, targets, ignore_index=ignore_index)

    # ------------------------------------------------------------------ backward
    def backward(self, dlogits: np.ndarray | None = None, *, dhidden: np.ndarray | None = None) -> None:
        """Accumulate parameter gradients.

        With no arguments, backprop the loss of the last ``forward(idx, targets)``. Otherwise backprop
        ``dlogits`` (B, T, V) and/or ``dhidden`` (B, T, C), the gradient w.r.t. ``model.hidden``.
        """
        if dhidden is None:
            dlogits = self.loss_grad(dlogits)
        h = self.hidden
        if h is None:
            raise RuntimeError("backward() called before forward()")
        dh = None
        if dhidden is not None:
            dh = np.array(dhidden, dtype=h.dtype)  # (B, T, C), a copy: we add into it
            if dh.shape != h.shape:
                raise ValueError(f"dhidden has shape {dh.shape}, hidden states have {h.shape}")
        if dlogits is not None:
            dh_logits = tied_logits_backward(np.asarray(dlogits, dtype=h.dtype), h, self.wte.weight)  # (B, T, C)
            dh = dh_logits if dh is None else dh + dh_logits
        dx = self.ln_f.backward(dh)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        dx = self.drop.backward(dx)
        self.wte.backward(dx)
        self.wpe.backward(dx.sum(axis=0))  # (T, C): positions are shared across the batch

    # ------------------------------------------------------------------ sampling
    def new_cache(self) -> list[KVCache]:
        """An empty key/value cache for ``forward_step``: one per block."""
        return [KVCache() for _ in self.blocks]

    def forward_step(self, idx, cache: list[KVCache]) -> np.ndarray:
        """Hidden states (B, t, C) of t new positions idx (B, t) that follow the positions already in
        ``cache``, which they join. Forward only; for generation (``lm.nn.generation``) in eval mode."""
        start = cache[0].length
        idx = check_ids(idx, vocab_size=self.config.vocab_size, block_size=self.config.block_size - start)
        x = self.wte.forward(idx) + self.wpe.forward(np.arange(start, start + idx.shape[1]))  # (B, t, C)
        x = self.drop.forward(x)
        for block, layer_cache in zip(self.blocks, cache):
            x = block.step(x, layer_cache)
        return self.ln_f.forward(x)  # (B, t, C)

    def generate(self, ids, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                 rng: np.random.Generator) -> np.ndarray:
        """Append ``n`` sampled tokens to ``ids`` ((T,) or (B, T)); returns the same rank, longer by n.

        The context is cropped to the last ``block_size`` tokens. temperature 0 means greedy. Runs through a
        key/value cache (``lm.nn.generation.generate``): the same tokens as a full forward per step.
        """
        check_sampling(temperature=temperature, top_k=top_k, n=n)
        ids = np.asarray(ids)
        squeeze = ids.ndim == 1
        out = ids[None, :] if squeeze else ids
        check_ids(out, vocab_size=self.config.vocab_size)
        if out.shape[1] == 0:
            raise ValueError("generate needs at least one prompt token")
        out = generate(self, out, n, temperature=temperature, top_k=top_k, rng=rng)
        return out[0] if squeeze else out
