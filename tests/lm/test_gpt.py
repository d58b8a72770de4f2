import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from lm import functional as F
from lm.nn.generation import cached_logits, generate, sample_logits
from lm.nn.gpt import GPT, GPTConfig

from .gradcheck import rel_err
from .torch_ref import gpt_hidden, gpt_logits, grads_of, to_torch

TOL = {"float64": 1e-10, "float32": 1e-5}
TDTYPE = {"float64": torch.float64, "float32": torch.float32}


def small(dtype="float64", **kw):
    cfg = dict(vocab_size=23, block_size=9, n_layer=2, n_head=2, d_model=8, dtype=dtype)
    cfg.update(kw)
    return GPTConfig(**cfg)


def _batch(rng, cfg, b=3, t=None):
    t = cfg.block_size if t is None else t
    return rng.integers(0, cfg.vocab_size, (b, t)), rng.integers(0, cfg.vocab_size, (b, t))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_loss_and_gradients_match_torch_autograd(dtype, label_smoothing):
    rng = np.random.default_rng(0)
    cfg = small(dtype, label_smoothing=label_smoothing)
    model = GPT(cfg, rng=rng)
    # spread the weights out so the check is not dominated by the near-zero init
    for _, p in model.named_parameters():
        p.data[...] += rng.standard_normal(p.shape).astype(p.data.dtype) * 0.3
    idx, tgt = _batch(rng, cfg)
    tgt[0, :3] = -100
    logits, loss = model.forward(idx, tgt)
    model.zero_grad()
    model.backward()

    P = to_torch(model, TDTYPE[dtype])
    tl = gpt_logits(P, cfg, idx)
    tloss = TF.cross_entropy(tl.reshape(-1, cfg.vocab_size), torch.as_tensor(tgt).reshape(-1),
                             ignore_index=-100, label_smoothing=label_smoothing)
    tloss.backward()
    assert logits.dtype == np.dtype(dtype)
    assert rel_err(logits, tl.detach().numpy()) <= TOL[dtype]
    assert abs(loss - tloss.item()) <= TOL[dtype] * abs(tloss.item())
    ref = grads_of(P)
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.dtype(dtype), name
        assert rel_err(p.grad, ref[name]) <= TOL[dtype], name


def test_custom_dlogits_and_dhidden_match_torch():
    """The RLHF path: backprop an arbitrary function of per-token log-probs plus a value head on h."""
    rng = np.random.default_rng(1)
    cfg = small()
    model = GPT(cfg, rng=rng)
    for _, p in model.named_parameters():
        p.data[...] += rng.standard_normal(p.shape) * 0.3
    idx, tgt = _batch(rng, cfg, t=6)
    w_adv = rng.standard_normal(tgt.shape)
    v_head = rng.standard_normal(cfg.d_model)

    logits, loss = model.forward(idx)
    assert loss is None
    h = model.hidden
    logp = F.token_log_probs(logits, tgt)
    # L = Σ w·logp + Σ (h·v)²
    dlogits = F.token_log_probs_backward(w_adv, logits, tgt)
    dh = 2 * (h @ v_head)[..., None] * v_head
    model.zero_grad()
    model.backward(dlogits, dhidden=dh)

    P = to_torch(model, torch.float64)
    th = gpt_hidden(P, cfg, idx)
    tlogp = torch.log_softmax(th @ P["wte.weight"].T, -1).gather(-1, torch.as_tensor(tgt)[..., None])[..., 0]
    L = (torch.as_tensor(w_adv) * tlogp).sum() + ((th @ torch.as_tensor(v_head)) ** 2).sum()
    L.backward()
    assert rel_err(logp, tlogp.detach().numpy()) <= 1e-12
    ref = grads_of(P)
    for name, p in model.named_parameters():
        assert rel_err(p.grad, ref[name]) <= 1e-10, name


def test_forward_hidden_then_dhidden_only():
    rng = np.random.default_rng(2)
    cfg = small()
    model = GPT(cfg, rng=rng)
    idx, _ = _batch(rng, cfg, t=5)
    h = model.forward_hidden(idx)
    g = rng.standard_normal(h.shape)
    model.zero_grad()
    model.backward(dhidden=g)
    P = to_torch(model, torch.float64)
    (gpt_hidden(P, cfg, idx) * torch.as_tensor(g)).sum().backward()
    ref = grads_of(P)
    for name, p in model.named_parameters():
        assert rel_err(p.grad, ref[name]) <= 1e-10 or np.abs(ref[name]).max() == 0, name


def test_causal_loss_at_t_ignores_later_tokens():
    rng = np.random.default_rng(3)
    cfg = small()
    model = GPT(cfg, rng=rng)
    idx, _ = _batch(rng, cfg, b=1)
    base, _ = model.forward(idx)
    for t in range(cfg.block_size - 1):
        pert = idx.copy()
        pert[0, t + 1:] = rng.integers(0, cfg.vocab_size, cfg.block_size - t - 1)
        out, _ = model.forward(pert)
        np.testing.assert_array_equal(out[0, :t + 1], base[0, :t + 1])


def test_backward_accumulates_until_zero_grad():
    rng = np.random.default_rng(4)
    cfg = small()
    model = GPT(cfg, rng=rng)
    idx, tgt = _batch(rng, cfg)
    model.forward(idx, tgt)
    model.zero_grad()
    model.backward()
    once = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.forward(idx, tgt)
    model.backward()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-12, atol=1e-15)


def test_generate_shapes_determinism_and_greedy():
    cfg = small("float32")
    model = GPT(cfg, rng=np.random.default_rng(5))
    out1 = model.generate([1, 2, 3], 12, temperature=0.9, top_k=5, rng=np.random.default_rng(7))
    out2 = model.generate([1, 2, 3], 12, temperature=0.9, top_k=5, rng=np.random.default_rng(7))
    assert out1.shape == (15,) and list(out1[:3]) == [1, 2, 3]
    np.testing.assert_array_equal(out1, out2)
    assert out1.max() < cfg.vocab_size
    batch = model.generate(np.array([[1, 2], [3, 4]]), 4, rng=np.random.default_rng(0))
    assert batch.shape == (2, 6)
    # greedy equals the argmax of the last position's logits, one token at a time
    greedy = model.generate([4], 3, temperature=0, rng=np.random.default_rng(0))
    ids = [4]
    for _ in range(3):
        logits, _ = model.forward(np.array([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert list(greedy) == ids
    assert model.training  # generate restores the mode


def test_top_k_one_is_greedy():
    cfg = small("float32")
    model = GPT(cfg, rng=np.random.default_rng(6))
    a = model.generate([1], 6, temperature=1.0, top_k=1, rng=np.random.default_rng(1))
    b = model.generate([1], 6, temperature=0, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)


def test_generate_crops_to_block_size():
    cfg = small("float32", block_size=4)
    model = GPT(cfg, rng=np.random.default_rng(6))
    out = model.generate(np.arange(10) % cfg.vocab_size, 3, rng=np.random.default_rng(0))
    assert out.shape == (13,)


def generate_by_full_forward(model, ids, n, *, temperature=1.0, top_k=None, rng):
    """GPT.generate as it was before the key/value cache, kept as the slow twin: one full forward of the
    last block_size tokens per new token."""
    out = np.asarray(ids, dtype=np.int64)
    with model.evaluating():
        for _ in range(n):
            ctx = out[:, -model.config.block_size:]
            logits = model.logits_from_hidden(model.forward_hidden(ctx)[:, -1])  # (B, V)
            token = sample_logits(logits, temperature=temperature, top_k=top_k, rng=rng)
            out = np.concatenate([out, token[:, None]], axis=1)
    return out


def test_cached_logits_match_the_full_forward():
    model = GPT(small("float64", n_layer=3), rng=np.random.default_rng(12))
    ids = np.random.default_rng(13).integers(0, 23, size=(3, 9))
    full, _ = model.forward(ids)
    np.testing.assert_allclose(cached_logits(model, ids), full, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, 5), (0.0, None)])
@pytest.mark.parametrize("prompt, n", [(4, 5), (2, 15), (12, 3)])  # fits; slides past block_size; cropped prompt
def test_cached_generate_matches_the_slow_twin(dtype, temperature, top_k, prompt, n):
    model = GPT(small(dtype), rng=np.random.default_rng(20))
    ids = np.random.default_rng(21).integers(0, 23, size=(4, prompt))
    expected = generate_by_full_forward(model, ids, n, temperature=temperature, top_k=top_k,
                                        rng=np.random.default_rng(22))
    got = model.generate(ids, n, temperature=temperature, top_k=top_k, rng=np.random.default_rng(22))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(generate(model, ids, n, temperature=temperature, top_k=top_k,
                                           rng=np.random.default_rng(22)), expected)
    assert model.training  # both restore the mode


def test_generate_n_zero_and_bad_prompts():
    model = GPT(small("float32"), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(model.generate([[1, 2]], 0, rng=np.random.default_rng(0)), [[1, 2]])
    with pytest.raises(ValueError, match="at least one prompt token"):
        model.generate(np.zeros((2, 0), dtype=int), 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [[1]], 3, temperature=-1, rng=np.random.default_rng(0))


def test_state_dict_round_trip():
    cfg = small("float32")
    a = GPT(cfg, rng=np.random.default_rng(0))
    b = GPT(cfg, rng=np.random.default_rng(1))
    b.load_state_dict(a.state_dict())
    idx, _ = _batch(np.random.default_rng(2), cfg)
    np.testing.assert_array_equal(a.forward(idx)[0], b.forward(idx)[0])


def test_state_dict_mismatch_is_value_error():
    a = GPT(small(), rng=np.random.default_rng(0))
    b = GPT(small(d_model=12), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict(a.state_dict())
    state = a.state_dict()
    del state["ln_f.weight"]
    with pytest.raises(ValueError, match="missing"):
        a.load_state_dict(state)


def test_bad_ids_are_typed_errors():
    cfg = small()
    model = GPT(cfg, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="out of range"):
        model.forward(np.array([[0, cfg.vocab_size]]))
    with pytest.raises(ValueError, match="out of range"):
        model.forward(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="block_size"):
        model.forward(np.zeros((1, cfg.block_size + 1), dtype=int))
    with pytest.raises(TypeError, match="integers"):
        model.forward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="target ids"):
        model.forward(np.zeros((1, 3), dtype=int), np.full((1, 3), cfg.vocab_size))
    with pytest.raises(RuntimeError):
        GPT(cfg, rng=np.random.default_rng(0)).backward()


def test_bad_config():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=10, n_head=3)
    with pytest.raises(ValueError, match="positive"):
        GPTConfig(n_layer=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        GPTConfig(dtype="float16")


def test_dropout_is_identity_in_eval_and_deterministic_given_rng():
    cfg = small("float32", dropout=0.5)
    model = GPT(cfg, rng=np.random.default_rng(0))
    idx, tgt = _batch(np.random.default_rng(1), cfg)
    model.eval()
    a, _ = model.forward(idx)
    b, _ = model.forward(idx)
    np.testing.assert_array_equal(a, b)
    model.train()
    c, _ = model.forward(idx)
    assert not np.allclose(a, c)
