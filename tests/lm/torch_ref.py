"""Independent torch implementations of our models, driven by our parameter names: the autograd oracle.

Weights are taken from ``model.named_parameters()`` (Linear weights are stored (in, out) on our side),
so torch computes the same function and its autograd gives reference gradients.
"""
import math

import numpy as np
import torch
import torch.nn.functional as TF


def to_torch(model, dtype):
    return {name: torch.tensor(p.data, dtype=dtype, requires_grad=True) for name, p in model.named_parameters()}


def grads_of(params):
    return {name: t.grad.numpy() for name, t in params.items()}


def linear(P, name, x):
    y = x @ P[name + ".weight"]
    b = P.get(name + ".bias")
    return y if b is None else y + b


def norm(P, name, x, kind):
    w = P[name + ".weight"]
    if kind == "rms":
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * w
    return TF.layer_norm(x, (x.shape[-1],), w, P.get(name + ".bias"), eps=1e-5)


def attention(P, name, x, n_head, *, causal=False, context=None, key_mask=None):
    b, t, c = x.shape
    d = c // n_head
    if context is None:
        q, k, v = linear(P, name + ".qkv", x).split(c, dim=-1)
        s = t
    else:
        s = context.shape[1]
        q = linear(P, name + ".q", x)
        k, v = linear(P, name + ".kv", context).split(c, dim=-1)
    q = q.view(b, t, n_head, d).transpose(1, 2)
    k = k.view(b, s, n_head, d).transpose(1, 2)
    v = v.view(b, s, n_head, d).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    mask = torch.ones(t, s, dtype=torch.bool)
    if causal:
        mask = torch.tril(mask)
    mask = mask[None, None]
    if key_mask is not None:
        mask = mask & torch.as_tensor(key_mask, dtype=torch.bool)[:, None, None, :]
    scores = scores.masked_fill(~mask, -1e30)
    y = torch.softmax(scores, dim=-1) @ v
    return linear(P, name + ".proj", y.transpose(1, 2).reshape(b, t, c))


def block(P, name, x, n_head, *, causal, norm_kind="layer", key_mask=None, context=None, context_mask=None):
    x = x + attention(P, name + ".attn", norm(P, name + ".ln1", x, norm_kind), n_head, causal=causal,
                      key_mask=key_mask)
    if context is not None:
        x = x + attention(P, name + ".xattn", norm(P, name + ".ln_x", x, norm_kind), n_head, context=context,
                          key_mask=context_mask)
    h = linear(P, name + ".mlp.fc", norm(P, name + ".ln2", x, norm_kind))
    return x + linear(P, name + ".mlp.proj", TF.gelu(h, approximate="tanh"))


def gpt_hidden(P, cfg, idx):
    idx = torch.as_tensor(idx)
    t = idx.shape[1]
    x = P["wte.weight"][idx] + P["wpe.weight"][:t]
    for i in range(cfg.n_layer):
        x = block(P, f"blocks.{i}", x, cfg.n_head, causal=True)
    return norm(P, "ln_f", x, "layer")


def gpt_logits(P, cfg, idx):
    return gpt_hidden(P, cfg, idx) @ P["wte.weight"].T


def bert_logits(P, cfg, idx, key_mask=None):
    idx = torch.as_tensor(idx)
    x = P["wte.weight"][idx] + P["wpe.weight"][: idx.shape[1]]
    for i in range(cfg.n_layer):
        x = block(P, f"blocks.{i}", x, cfg.n_head, causal=False, key_mask=key_mask)
    h = norm(P, "ln_f", x, "layer")
    h = norm(P, "head_ln", TF.gelu(linear(P, "head_fc", h), approximate="tanh"), "layer")
    return h @ P["wte.weight"].T + P["head_bias"]


def t5_logits(P, cfg, enc_ids, dec_ids, enc_mask=None):
    enc_ids, dec_ids = torch.as_tensor(enc_ids), torch.as_tensor(dec_ids)
    x = P["shared"][enc_ids] + P["enc_pos.weight"][: enc_ids.shape[1]]
    for i in range(cfg.n_layer):
        x = block(P, f"encoder.{i}", x, cfg.n_head, causal=False, norm_kind="rms", key_mask=enc_mask)
    ctx = norm(P, "enc_norm", x, "rms")
    y = P["shared"][dec_ids] + P["dec_pos.weight"][: dec_ids.shape[1]]
    for i in range(cfg.n_layer):
        y = block(P, f"decoder.{i}", y, cfg.n_head, causal=True, norm_kind="rms", context=ctx, context_mask=enc_mask)
    return norm(P, "dec_norm", y, "rms") @ P["shared"].T


def mlplm_logits(P, cfg, idx):
    idx = torch.as_tensor(idx)
    e = P["emb.weight"][idx].reshape(idx.shape[0], -1)
    return linear(P, "out", torch.tanh(linear(P, "hidden", e)))
