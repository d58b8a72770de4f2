"""Pre-norm transformer blocks: x + attn(norm(x)) [+ cross(norm(x), context)] + mlp(norm(x))."""
from __future__ import annotations

import numpy as np

from .attention import MultiHeadAttention
from .layers import GELU, Dropout, LayerNorm, Linear, RMSNorm
from .module import Module


def make_norm(kind: str, dim: int, *, bias: bool, dtype):
    if kind == "layer":
        return LayerNorm(dim, bias=bias, dtype=dtype)
    if kind == "rms":
        return RMSNorm(dim, dtype=dtype)
    raise ValueError(f"norm must be 'layer' or 'rms', got {kind!r}")


def n_block_params(d_model: int, d_ff: int, *, cross: bool = False, norm: str = "layer", bias: bool = True) -> int:
    """The parameters of one ``Block`` with these arguments, counted without building it (checkpoints check a
    file's arrays against their config before allocating a model): each norm has a weight (and a LayerNorm
    its bias), each attention four C×C maps (qkv + proj, or q + kv + proj), the MLP C×F and F×C."""
    c, f, b = d_model, d_ff, int(bias)
    n_norm = c * (1 + b) if norm == "layer" else c
    n_attn = 4 * c * c + 4 * c * b
    n_mlp = 2 * c * f + (f + c) * b
    return 2 * n_norm + n_attn + n_mlp + (n_norm + n_attn if cross else 0)


class MLP(Module):
    """Linear(C→F) → GELU → Linear(F→C) → dropout."""

    def __init__(self, d_model: int, d_ff: int, *, rng, bias=True, dropout=0.0, proj_std=0.02, dtype="float32"):
        self.fc = Linear(d_model, d_ff, rng=rng, bias=bias, dtype=dtype)
        self.act = GELU()
        self.proj = Linear(d_ff, d_model, rng=rng, bias=bias, std=proj_std, dtype=dtype)
        self.drop = Dropout(dropout, rng=rng)

    def forward(self, x):
        return self.drop.forward(self.proj.forward(self.act.forward(self.fc.forward(x))))

    def backward(self, dy):
        return self.fc.backward(self.act.backward(self.proj.backward(self.drop.backward(dy))))


class Block(Module):
    """One pre-norm block. ``cross=True`` adds a cross-attention sub-layer (a T5 decoder block).

    forward(x, *, key_mask=None, context=None, context_mask=None); backward(dy) -> dx, or
    (dx, dcontext) when ``cross``.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, *, rng: np.random.Generator, causal: bool,
                 cross: bool = False, norm: str = "layer", bias: bool = True, dropout: float = 0.0,
                 proj_std: float = 0.02, dtype="float32"):
        self.cross = cross
        self.ln1 = make_norm(norm, d_model, bias=bias, dtype=dtype)
        self.attn = MultiHeadAttention(d_model, n_head, rng=rng, causal=causal, bias=bias, proj_std=proj_std,
                                       dtype=dtype)
        self.drop1 = Dropout(dropout, rng=rng)
        if cross:
            self.ln_x = make_norm(norm, d_model, bias=bias, dtype=dtype)
            self.xattn = MultiHeadAttention(d_model, n_head, rng=rng, cross=True, bias=bias,
                                            proj_std=proj_std, dtype=dtype)
            self.drop_x = Dropout(dropout, rng=rng)
        self.ln2 = make_norm(norm, d_model, bias=bias, dtype=dtype)
        self.mlp = MLP(d_model, d_ff, rng=rng, bias=bias, dropout=dropout, proj_std=proj_std, dtype=dtype)

    def forward(self, x, *, key_mask=None, context=None, context_mask=None):
        x = x + self.drop1.forward(self.attn.forward(self.ln1.forward(x), key_mask=key_mask))
        if self.cross:
            x = x + self.drop_x.forward(self.xattn.forward(self.ln_x.forward(x), context=context,
                                                           key_mask=context_mask))
        return x + self.mlp.forward(self.ln2.forward(x))

    def step(self, x, cache):
        """Forward of t new positions x (B, t, C) of a causal self-attention block, through the attention's
        key/value ``cache`` (see ``MultiHeadAttention.step``); for generation in eval mode."""
        if self.cross:
            raise ValueError("step() is for decoder-only blocks; a cross-attention block needs its context")
        x = x + self.drop1.forward(self.attn.step(self.ln1.forward(x), cache))
        return x + self.mlp.forward(self.ln2.forward(x))

    def backward(self, dy):
        dx = dy + self.ln2.backward(self.mlp.backward(dy))
        dcontext = None
        if self.cross:
            dxa, dcontext = self.xattn.backward(self.drop_x.backward(dx))
            dx = dx + self.ln_x.backward(dxa)
        dx = dx + self.ln1.backward(self.attn.backward(self.drop1.backward(dx)))
        return (dx, dcontext) if self.cross else dx
