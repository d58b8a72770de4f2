"""BERT, T5 and MLPLM against torch autograd (same weights, independent torch code); the configs' shared
base and checkpoints with old-style config dicts."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from lm import checkpoint as ckpt
from lm.nn import BERT, MLPLM, T5, BERTConfig, MLPLMConfig, T5Config, TransformerConfig

from .gradcheck import rel_err
from .torch_ref import bert_logits, grads_of, mlplm_logits, t5_logits, to_torch

TOL = {"float64": 1e-10, "float32": 1e-5}
TDTYPE = {"float64": torch.float64, "float32": torch.float32}


def _jittered(model_cls, cfg, *, seed, scale=0.3):
    """A model whose weights are jittered away from the init (so LayerNorm gains, biases, ... all matter),
    and the rng that goes on to draw its inputs."""
    rng = np.random.default_rng(seed)
    model = model_cls(cfg, rng=rng)
    for _, p in model.named_parameters():
        p.data[...] += (rng.standard_normal(p.shape) * scale).astype(p.data.dtype)
    return model, rng


def _check_against_torch(model, dtype, forward, torch_logits, tgt, *, eps=0.0):
    """Run ``forward()`` -> (logits, loss) and ``model.backward()``; compare logits, loss and every gradient
    with torch autograd of the cross-entropy of ``torch_logits(P)`` on the same weights P."""
    logits, loss = forward()
    model.zero_grad()
    model.backward()
    P = to_torch(model, TDTYPE[dtype])
    tlogits = torch_logits(P)
    tloss = _ce(tlogits, tgt, eps)
    tloss.backward()
    tol = TOL[dtype]
    assert logits.dtype == np.dtype(dtype)
    assert rel_err(logits, tlogits.detach().numpy()) <= tol
    assert abs(loss - tloss.item()) <= tol * abs(tloss.item())
    ref = grads_of(P)
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.dtype(dtype), name
        assert rel_err(p.grad, ref[name]) <= tol, name


def _ce(tl, tgt, eps=0.0):
    return TF.cross_entropy(tl.reshape(-1, tl.shape[-1]), torch.as_tensor(tgt).reshape(-1), ignore_index=-100,
                            label_smoothing=eps)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bert_matches_torch(dtype):
    cfg = BERTConfig(vocab_size=19, block_size=7, n_layer=2, n_head=2, d_model=8, label_smoothing=0.1, dtype=dtype)
    model, rng = _jittered(BERT, cfg, seed=0)
    idx = rng.integers(0, cfg.vocab_size, (3, 7))
    tgt = np.where(rng.random((3, 7)) < 0.5, idx, -100)
    tgt[0, 0] = idx[0, 0]
    key_mask = np.arange(7)[None, :] < np.array([7, 4, 2])[:, None]
    _check_against_torch(model, dtype, lambda: model.forward(idx, tgt, key_mask=key_mask),
                         lambda P: bert_logits(P, cfg, idx, key_mask), tgt, eps=0.1)


def test_bert_padding_does_not_leak():
    rng = np.random.default_rng(1)
    cfg = BERTConfig(vocab_size=19, block_size=7, n_layer=1, n_head=2, d_model=8, dtype="float64")
    model = BERT(cfg, rng=rng)
    idx = rng.integers(0, 19, (1, 7))
    mask = np.array([[True] * 4 + [False] * 3])
    a, _ = model.forward(idx, key_mask=mask)
    idx2 = idx.copy()
    idx2[0, 4:] = (idx2[0, 4:] + 1) % 19
    b, _ = model.forward(idx2, key_mask=mask)
    np.testing.assert_allclose(a[0, :4], b[0, :4], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_t5_matches_torch(dtype):
    cfg = T5Config(vocab_size=21, block_size=6, target_size=5, n_layer=2, n_head=2, d_model=8, dtype=dtype)
    model, rng = _jittered(T5, cfg, seed=2)
    enc = rng.integers(0, 21, (2, 6))
    dec = rng.integers(0, 21, (2, 5))
    tgt = rng.integers(0, 21, (2, 5))
    tgt[1, 3:] = -100
    enc_mask = np.arange(6)[None, :] < np.array([6, 3])[:, None]
    _check_against_torch(model, dtype, lambda: model.forward(enc, dec, tgt, enc_mask=enc_mask),
                         lambda P: t5_logits(P, cfg, enc, dec, enc_mask), tgt)


def test_t5_decoder_is_causal_and_generate_shapes():
    rng = np.random.default_rng(3)
    cfg = T5Config(vocab_size=21, block_size=6, target_size=5, n_layer=1, n_head=2, d_model=8, dtype="float64")
    model = T5(cfg, rng=rng)
    enc = rng.integers(0, 21, (1, 6))
    dec = rng.integers(0, 21, (1, 5))
    base, _ = model.forward(enc, dec)
    dec2 = dec.copy()
    dec2[0, 3:] = (dec2[0, 3:] + 1) % 21
    pert, _ = model.forward(enc, dec2)
    np.testing.assert_array_equal(base[0, :3], pert[0, :3])
    out = model.generate(enc, 4, start_id=0, rng=np.random.default_rng(0), temperature=0)
    assert out.shape == (1, 4)
    with pytest.raises(ValueError, match="block_size"):
        model.forward(np.zeros((1, 7), dtype=int), dec)
    with pytest.raises(ValueError, match="batch"):
        model.forward(np.zeros((2, 6), dtype=int), dec)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlplm_matches_torch(dtype):
    rng = np.random.default_rng(4)
    cfg = MLPLMConfig(vocab_size=17, context=3, d_embed=4, d_hidden=6, dtype=dtype)
    model = MLPLM(cfg, rng=rng)
    idx = rng.integers(0, 17, (5, 3))
    tgt = rng.integers(0, 17, 5)
    _check_against_torch(model, dtype, lambda: model.forward(idx, tgt), lambda P: mlplm_logits(P, cfg, idx), tgt)
    with pytest.raises(ValueError, match="context"):
        model.forward(np.zeros((2, 4), dtype=int))


def test_mlplm_learns_a_deterministic_sequence():
    """A cyclic sequence is perfectly predictable from one previous token: training must get there."""
    from lm.optim import Adam

    rng = np.random.default_rng(5)
    cfg = MLPLMConfig(vocab_size=8, context=1, d_embed=8, d_hidden=16, dtype="float64")
    model = MLPLM(cfg, rng=rng)
    opt = Adam(model.parameters(), lr=0.05)
    seq = np.arange(64) % 8
    x, y = seq[:-1, None], seq[1:]
    for _ in range(150):
        model.zero_grad()
        _, loss = model.forward(x, y)
        model.backward()
        opt.step()
    assert loss < 0.05


# ---------------------------------------------------------------- configs: one base, the old fields and files

# asdict(config) of each family's default config as checkpoints written before TransformerConfig stored it
OLD_CONFIG_DICTS = {
    "gpt": {"vocab_size": 512, "block_size": 64, "n_layer": 2, "n_head": 4, "d_model": 128, "d_ff": None,
            "dropout": 0.0, "bias": True, "label_smoothing": 0.0, "dtype": "float32"},
    "bert": {"vocab_size": 512, "block_size": 64, "n_layer": 2, "n_head": 4, "d_model": 128, "d_ff": None,
             "dropout": 0.0, "label_smoothing": 0.0, "dtype": "float32"},
    "t5": {"vocab_size": 512, "block_size": 64, "target_size": 32, "n_layer": 2, "n_head": 4, "d_model": 128,
           "d_ff": None, "dropout": 0.0, "label_smoothing": 0.0, "dtype": "float32"},
    "mlplm": {"vocab_size": 512, "context": 3, "d_embed": 32, "d_hidden": 128, "dropout": 0.0, "dtype": "float32"},
}


@pytest.mark.parametrize("family", sorted(OLD_CONFIG_DICTS))
def test_config_fields_and_defaults_are_unchanged(family):
    _, config_cls = ckpt.FAMILIES[family]
    assert config_cls().to_dict() == OLD_CONFIG_DICTS[family]
    assert issubclass(config_cls, TransformerConfig) == (family != "mlplm")


@pytest.mark.parametrize("family", sorted(OLD_CONFIG_DICTS))
def test_checkpoint_with_an_old_style_config_dict_loads(tmp_path, family):
    model_cls, config_cls = ckpt.FAMILIES[family]
    small = {"vocab_size": 11, "n_layer": 1, "n_head": 2, "d_model": 8, "block_size": 6, "target_size": 5,
             "context": 2, "d_embed": 4, "d_hidden": 6}
    old = {k: small.get(k, v) for k, v in OLD_CONFIG_DICTS[family].items()}  # the old key order
    model = model_cls(config_cls(**old), rng=np.random.default_rng(0))
    path = tmp_path / "old.npz"
    ckpt.save(path, model)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["config"] = old
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    loaded, _ = ckpt.load(path)
    assert type(loaded) is model_cls and loaded.config == config_cls(**old)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(dict(loaded.named_parameters())[name].data, p.data)


@pytest.mark.parametrize("family", sorted(OLD_CONFIG_DICTS))
def test_backward_without_a_loss_raises(family):
    model_cls, config_cls = ckpt.FAMILIES[family]
    model = model_cls(config_cls(vocab_size=11, **({"context": 2} if family == "mlplm" else
                                                   {"n_layer": 1, "n_head": 2, "d_model": 8})),
                      rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="needs a preceding forward"):
        model.backward()
