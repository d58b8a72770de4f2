"""Sampling from a GPT with a key/value cache: one position per step instead of the whole prefix.

`lm.nn.gpt.GPT.generate` re-runs the full context for every new token, which makes RLHF rollouts (many
short responses per iteration) cost O(L²) forwards. This adapter reads the GPT's own layers and keeps
each block's keys and values, so a step costs one position. It only runs forward passes in eval mode and
never touches the model's gradients; `tests/lm/test_rlhf_models.py` checks its logits against the
model's full forward.
"""
import math

import numpy as np

from ..nn.gpt import sample_logits


def _supports_cache(gpt):
    blocks = getattr(gpt, "blocks", None)
    return bool(blocks) and all(hasattr(b, "attn") and hasattr(b.attn, "qkv") and not getattr(b, "cross", False)
                                for b in blocks)


def _attend(q, k, v, mask):
    """softmax(q·kᵀ/√D) v over stacked heads: q (B, H, t, D), k and v (B, H, S, D), mask (t, S) or None.

    Written here rather than borrowed from lm.functional so this adapter depends only on the layers'
    documented parameters, not on a private helper's signature."""
    scores = np.matmul(q * (1.0 / math.sqrt(q.shape[-1])), k.swapaxes(-1, -2))  # (B, H, t, S)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.matmul(probs, v)  # (B, H, t, D)


def _step(gpt, x, caches):
    """Run positions x (B, t, C) (already embedded) through every block, extending each block's cache."""
    for block, cache in zip(gpt.blocks, caches):
        attn = block.attn
        b, t, c = x.shape
        h = attn.n_head
        qkv = attn.qkv.forward(block.ln1.forward(x)).reshape(b, t, 3, h, c // h).transpose(2, 0, 3, 1, 4)
        cache.append((qkv[1], qkv[2]))  # keys, values (B, H, t, D)
        k = np.concatenate([kv[0] for kv in cache], axis=2) if len(cache) > 1 else qkv[1]  # (B, H, S, D)
        v = np.concatenate([kv[1] for kv in cache], axis=2) if len(cache) > 1 else qkv[2]  # (B, H, S, D)
        s = k.shape[2]
        # query i of this chunk sits at absolute position s − t + i and may see keys 0 .. s − t + i
        mask = np.tri(t, s, k=s - t, dtype=bool) if t > 1 else None  # (t, S)
        y = _attend(qkv[0], k, v, mask)  # (B, H, t, D)
        x = x + block.drop1.forward(attn.proj.forward(y.transpose(0, 2, 1, 3).reshape(b, t, c)))
        x = x + block.mlp.forward(block.ln2.forward(x))
    return gpt.ln_f.forward(x)  # (B, t, C)


def cached_logits(gpt, ids):
    """Logits of every position computed chunk by chunk through the cache (for tests): (B, T) -> (B, T, V)."""
    caches = [[] for _ in gpt.blocks]
    out = []
    for pos in range(ids.shape[1]):
        x = gpt.wte.weight.data[ids[:, pos:pos + 1]] + gpt.wpe.weight.data[pos]  # (B, 1, C)
        out.append(gpt.logits_from_hidden(_step(gpt, x, caches)))
    return np.concatenate(out, axis=1)


def generate(gpt, prompts, n_new, *, temperature=1.0, rng):
    """Append n_new sampled tokens to each row of prompts (B, P) -> (B, P + n_new); seeded by `rng`.

    Falls back to `gpt.generate` for models whose blocks this adapter does not know.
    """
    prompts = np.asarray(prompts, dtype=np.int64)
    if prompts.ndim != 2 or prompts.shape[1] == 0:
        raise ValueError(f"prompts must be (B, P) with P >= 1; got shape {prompts.shape}")
    if prompts.shape[1] + n_new - 1 > gpt.config.block_size:
        raise ValueError(f"prompt {prompts.shape[1]} + {n_new} new tokens exceed the context of "
                         f"{gpt.config.block_size}")
    if not _supports_cache(gpt):
        return gpt.generate(prompts, n_new, temperature=temperature, rng=rng)
    was_training = gpt.training
    gpt.eval()
    try:
        caches = [[] for _ in gpt.blocks]
        p = prompts.shape[1]
        x = gpt.wte.forward(prompts) + gpt.wpe.weight.data[:p]  # (B, P, C)
        h = _step(gpt, x, caches)[:, -1]  # (B, C)
        out = [prompts]
        for i in range(n_new):
            token = sample_logits(gpt.logits_from_hidden(h), temperature=temperature, top_k=None, rng=rng)  # (B,)
            out.append(token[:, None])
            if i + 1 < n_new:
                x = gpt.wte.weight.data[token][:, None] + gpt.wpe.weight.data[p + i]  # (B, 1, C)
                h = _step(gpt, x, caches)[:, -1]
        return np.concatenate(out, axis=1)
    finally:
        gpt.train(was_training)
