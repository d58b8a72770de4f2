"""Every layer's backward against central finite differences (float64, hypothesis over small shapes),
and a float32 run of each layer that fails on any silent promotion to float64."""
import numpy as np
import pytest
from .gradcheck import assert_close, numeric_grad
from hypothesis import given, settings
from hypothesis import strategies as st

from lm import functional as F
from tests.conftest import missing


def _torch():
    """torch, the oracle of a few tests here (skip without it; under CI, fail)."""
    try:
        import torch
    except ImportError:
        missing("torch is not installed: pip install 'fasttok[torch]' (it is the oracle here)")
    return torch
from lm.nn import GELU, Block, Dropout, Embedding, LayerNorm, Linear, MultiHeadAttention, RMSNorm, Tanh

SETTINGS = settings(max_examples=12, deadline=None)


def check_layer(layer, x, *, rng, fwd=None, bwd=None, check_input=True):
    """Compare backward(g) with finite differences of Σ g ⊙ forward(x) for x and every parameter."""
    fwd = fwd or (lambda: layer.forward(x))
    y = fwd()
    g = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = (bwd or layer.backward)(g)

    def loss():
        return float(np.sum(fwd() * g))

    if check_input:
        assert_close(dx, numeric_grad(loss, x), name="input")
    for name, p in layer.named_parameters():
        assert_close(p.grad, numeric_grad(loss, p.data), name=name)


dims = st.integers(1, 4)


@SETTINGS
@given(b=dims, t=dims, d_in=dims, d_out=dims, bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear(b, t, d_in, d_out, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(d_in, d_out, rng=rng, bias=bias, std=1.0, dtype="float64")
    check_layer(layer, rng.standard_normal((b, t, d_in)), rng=rng)


@SETTINGS
@given(b=dims, t=dims, n=st.integers(1, 6), dim=dims, seed=st.integers(0, 2**16))
def test_embedding_with_repeated_ids(b, t, n, dim, seed):
    rng = np.random.default_rng(seed)
    layer = Embedding(n, dim, rng=rng, dtype="float64")
    idx = rng.integers(0, n, (b, t))
    check_layer(layer, None, rng=rng, fwd=lambda: layer.forward(idx), check_input=False)


@SETTINGS
# c = 2 is degenerate: xhat = ±1 whatever x, so ∂y/∂x ≈ 0 and the relative error is pure noise
@given(b=dims, t=dims, c=st.integers(3, 6), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_norm(b, t, c, bias, seed):
    rng = np.random.default_rng(seed)
    layer = LayerNorm(c, bias=bias, dtype="float64")
    layer.weight.data[...] = rng.standard_normal(c)
    check_layer(layer, rng.standard_normal((b, t, c)), rng=rng)


@SETTINGS
@given(b=dims, t=dims, c=st.integers(2, 6), seed=st.integers(0, 2**16))  # c = 1: y = sign(x)·w
def test_rms_norm(b, t, c, seed):
    rng = np.random.default_rng(seed)
    layer = RMSNorm(c, dtype="float64")
    layer.weight.data[...] = rng.standard_normal(c)
    check_layer(layer, rng.standard_normal((b, t, c)), rng=rng)


@SETTINGS
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_gelu_and_tanh(shape, seed):
    rng = np.random.default_rng(seed)
    for layer in (GELU(), GELU(approximate="none"), Tanh()):
        check_layer(layer, rng.standard_normal(shape) * 3, rng=rng)


@SETTINGS
@given(shape=st.lists(dims, min_size=1, max_size=3), p=st.sampled_from([0.0, 0.3, 0.9]), seed=st.integers(0, 2**16))
def test_dropout_with_fixed_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    layer = Dropout(p, rng=rng)
    x = rng.standard_normal(shape)

    def fwd():
        layer.rng = np.random.default_rng(seed)  # the same mask on every evaluation
        return layer.forward(x)

    check_layer(layer, x, rng=rng, fwd=fwd)


def test_dropout_statistics_and_eval_identity():
    rng = np.random.default_rng(0)
    layer = Dropout(0.25, rng=rng)
    x = np.ones(200_000, dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 4 * np.sqrt(0.75 * 0.25 / x.size)
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)  # inverted: E[y] = x
    layer.eval()
    assert layer.forward(x) is x
    with pytest.raises(ValueError):
        Dropout(1.0, rng=rng)


@SETTINGS
@given(b=st.integers(1, 3), t=st.integers(1, 5), h=st.integers(1, 3), d=st.integers(1, 3),
       causal=st.booleans(), pad=st.booleans(), seed=st.integers(0, 2**16))
def test_self_attention(b, t, h, d, causal, pad, seed):
    rng = np.random.default_rng(seed)
    c = h * d
    layer = MultiHeadAttention(c, h, rng=rng, causal=causal, dtype="float64")
    for _, p in layer.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.7
    key_mask = None
    if pad:  # right padding: at least one real token per row
        lengths = rng.integers(1, t + 1, b)
        key_mask = np.arange(t)[None, :] < lengths[:, None]
    x = rng.standard_normal((b, t, c))
    check_layer(layer, x, rng=rng, fwd=lambda: layer.forward(x, key_mask=key_mask))


@SETTINGS
@given(b=st.integers(1, 3), t=st.integers(1, 4), s=st.integers(1, 5), h=st.integers(1, 2), d=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_cross_attention(b, t, s, h, d, seed):
    rng = np.random.default_rng(seed)
    c = h * d
    layer = MultiHeadAttention(c, h, rng=rng, cross=True, dtype="float64")
    for _, p in layer.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.7
    x = rng.standard_normal((b, t, c))
    ctx = rng.standard_normal((b, s, c))
    ctx_mask = np.arange(s)[None, :] < rng.integers(1, s + 1, b)[:, None]
    fwd = lambda: layer.forward(x, context=ctx, key_mask=ctx_mask)  # noqa: E731
    y = fwd()
    g = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx, dctx = layer.backward(g)
    loss = lambda: float(np.sum(fwd() * g))  # noqa: E731
    assert_close(dx, numeric_grad(loss, x), name="x")
    assert_close(dctx, numeric_grad(loss, ctx), name="context")
    # masked context positions get exactly zero gradient
    assert np.all(dctx[~ctx_mask] == 0)
    for name, p in layer.named_parameters():
        assert_close(p.grad, numeric_grad(loss, p.data), name=name)


@settings(max_examples=6, deadline=None)
@given(cross=st.booleans(), norm=st.sampled_from(["layer", "rms"]), seed=st.integers(0, 2**16))
def test_block(cross, norm, seed):
    rng = np.random.default_rng(seed)
    block = Block(4, 2, 6, rng=rng, causal=not cross, cross=cross, norm=norm, dtype="float64")
    for _, p in block.named_parameters():
        p.data[...] += rng.standard_normal(p.shape) * 0.5
    x = rng.standard_normal((2, 3, 4))
    ctx = rng.standard_normal((2, 4, 4))
    fwd = lambda: block.forward(x, context=ctx if cross else None)  # noqa: E731
    y = fwd()
    g = rng.standard_normal(y.shape)
    block.zero_grad()
    out = block.backward(g)
    loss = lambda: float(np.sum(fwd() * g))  # noqa: E731
    dx = out[0] if cross else out
    assert_close(dx, numeric_grad(loss, x), name="x")
    if cross:
        assert_close(out[1], numeric_grad(loss, ctx), name="context")
    for name, p in block.named_parameters():
        assert_close(p.grad, numeric_grad(loss, p.data), name=name)


# ----------------------------------------------------------------------------- functional losses

@SETTINGS
@given(n=st.integers(1, 5), k=st.integers(2, 6), eps=st.sampled_from([0.0, 0.1, 0.5]), seed=st.integers(0, 2**16))
def test_cross_entropy_gradient(n, k, eps, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * 2
    targets = rng.integers(0, k, n)
    targets[rng.random(n) < 0.3] = F.IGNORE_INDEX
    loss, d = F.cross_entropy(logits, targets, label_smoothing=eps, grad=True)
    num = numeric_grad(lambda: F.cross_entropy(logits, targets, label_smoothing=eps), logits)
    assert_close(d, num, tol=1e-6) if np.any(num) else np.testing.assert_array_equal(d, 0)


@SETTINGS
@given(n=st.integers(1, 5), k=st.integers(2, 6), eps=st.sampled_from([0.0, 0.1, 0.5]),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_cross_entropy_gradient_for_every_reduction_and_weight(n, k, eps, reduction, weighted, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * 2
    targets = rng.integers(0, k, n)
    targets[rng.random(n) < 0.3] = F.IGNORE_INDEX
    weight = rng.random(k) + 0.1 if weighted else None
    g = rng.standard_normal(n)  # an upstream gradient of the "none" losses

    def scalar():
        out = F.cross_entropy(logits, targets, label_smoothing=eps, weight=weight, reduction=reduction)
        return float(np.dot(out, g)) if reduction == "none" else out

    loss, d = F.cross_entropy(logits, targets, label_smoothing=eps, weight=weight, reduction=reduction, grad=True)
    if reduction == "none":
        assert loss.shape == targets.shape and np.all(loss[targets == F.IGNORE_INDEX] == 0)
        d = d * g[:, None]  # row i of d is ∂ℓ_i/∂logits_i
    num = numeric_grad(scalar, logits)
    assert_close(d, num, tol=1e-6) if np.any(num) else np.testing.assert_array_equal(d, 0)


def test_cross_entropy_matches_torch_for_every_option():
    torch = _torch()
    TF = torch.nn.functional
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((2, 4, 6)) * 2
    targets = rng.integers(0, 6, (2, 4))
    targets[0, 1] = targets[1, 3] = 3  # a custom ignore_index below
    for reduction in ("mean", "sum", "none"):
        for weight in (None, rng.random(6) + 0.2):
            for eps in (0.0, 0.15):
                for ignore in (-100, 3):
                    tl = torch.tensor(logits, requires_grad=True)
                    w = None if weight is None else torch.tensor(weight)
                    ref = TF.cross_entropy(tl.permute(0, 2, 1), torch.tensor(targets), weight=w, ignore_index=ignore,
                                           label_smoothing=eps, reduction=reduction)
                    upstream = torch.tensor(rng.standard_normal(targets.shape)) if reduction == "none" else 1.0
                    (ref * upstream).sum().backward()
                    loss, d = F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore,
                                              label_smoothing=eps, reduction=reduction, grad=True)
                    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
                    if reduction == "none":
                        d = d * upstream.numpy()[..., None]
                    np.testing.assert_allclose(d, tl.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_gelu_exact_and_tanh_match_torch():
    torch = _torch()
    x = np.linspace(-8, 8, 401)
    for approximate in ("none", "tanh"):
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.gelu(tx, approximate=approximate)
        ty.sum().backward()
        y, kept = F.gelu(x, approximate=approximate)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(F.gelu_backward(np.ones_like(x), x, kept, approximate=approximate),
                                   tx.grad.numpy(), rtol=1e-13, atol=1e-13)  # the tails cancel in 1 + t
    assert GELU().approximate == "tanh"  # lm's default (GPT-2's); torch's is "none"
    assert F.gelu(x.astype(np.float32), approximate="none")[0].dtype == np.float32
    with pytest.raises(ValueError, match="approximate"):
        GELU("erf")


def test_cross_entropy_matches_definition():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 5))
    targets = np.array([[0, 4, -100], [2, 2, 1]])
    eps = 0.2
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    q = (1 - eps) * np.eye(5)[np.where(targets < 0, 0, targets)] + eps / 5
    per = -(q * np.log(p)).sum(-1)
    expected = per[targets != -100].mean()
    assert F.cross_entropy(logits, targets, label_smoothing=eps) == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy(logits, np.full((2, 3), -100)) == 0.0
    with pytest.raises(ValueError, match="target ids"):
        F.cross_entropy(logits, np.full((2, 3), 5))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(logits, np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(logits, np.zeros((2, 3)))
    assert F.cross_entropy(logits[0], [0, 4, -100]) == pytest.approx(F.cross_entropy(logits[0], np.array([0, 4, -100])))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(logits, targets, label_smoothing=1.0)
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, targets, reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(logits, targets, weight=np.ones(4))
    # nothing counted: 0 for every reduction (torch's mean is NaN there)
    assert F.cross_entropy(logits, np.full((2, 3), -100), reduction="sum") == 0.0
    np.testing.assert_array_equal(F.cross_entropy(logits, np.full((2, 3), -100), reduction="none"), 0.0)


@SETTINGS
@given(shape=st.lists(dims, min_size=1, max_size=2), k=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_softmax_log_softmax_token_log_probs(shape, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape + [k])
    g = rng.standard_normal(shape + [k])
    assert_close(F.softmax_backward(g, F.softmax(x)), numeric_grad(lambda: np.sum(F.softmax(x) * g), x))
    assert_close(F.log_softmax_backward(g, F.log_softmax(x)), numeric_grad(lambda: np.sum(F.log_softmax(x) * g), x))
    t = rng.integers(0, k, shape)
    gt = rng.standard_normal(shape)
    assert_close(F.token_log_probs_backward(gt, x, t), numeric_grad(lambda: np.sum(F.token_log_probs(x, t) * gt), x))


# ----------------------------------------------------------------------------- float32 stays float32

def test_no_layer_promotes_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ctx = rng.standard_normal((2, 5, 4)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4)).astype(np.float32)
    layers = [Linear(4, 4, rng=rng), LayerNorm(4), RMSNorm(4), GELU(), Tanh(), Dropout(0.5, rng=rng),
              MultiHeadAttention(4, 2, rng=rng, causal=True), Block(4, 2, 8, rng=rng, causal=True, dropout=0.1),
              Block(4, 2, 8, rng=rng, causal=False, cross=True, norm="rms")]
    for layer in layers:
        cross = getattr(layer, "cross", False)
        y = layer.forward(x, context=ctx) if cross else layer.forward(x)
        assert y.dtype == np.float32, type(layer).__name__
        out = layer.backward(g)
        for arr in out if isinstance(out, tuple) else (out,):
            assert arr.dtype == np.float32, type(layer).__name__
        for name, p in layer.named_parameters():
            assert p.data.dtype == np.float32 and p.grad.dtype == np.float32, (type(layer).__name__, name)
    emb = Embedding(7, 4, rng=rng)
    assert emb.forward(np.array([[1, 2, 2]])).dtype == np.float32
    emb.backward(g[:1])
    assert emb.weight.grad.dtype == np.float32
    loss, d = F.cross_entropy(x, np.array([[0, 1, 2], [3, -100, 1]]), label_smoothing=0.1, grad=True)
    assert d.dtype == np.float32
    for fn in (F.softmax, F.log_softmax):
        assert fn(x).dtype == np.float32
    assert F.gelu(x)[0].dtype == np.float32
    assert F.token_log_probs_backward(np.ones((2, 3), np.float32), x, np.zeros((2, 3), int)).dtype == np.float32


def test_float32_promotion_detector_is_not_vacuous():
    """The constant GELU needs is the textbook promotion trap: show the check above would catch it."""
    x = np.ones(3, dtype=np.float32)
    assert (x * np.sqrt(2 / np.pi)).dtype == np.float64
    assert F.gelu(x)[0].dtype == np.float32


def test_results_do_not_depend_on_the_thread_count():
    """Large elementwise kernels split across threads; chunks never overlap, so outputs are bitwise equal."""
    from lm.nn import GPT, GPTConfig

    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 1000)).astype(np.float32)  # above the parallel threshold
    logits = rng.standard_normal((64, 64, 300)).astype(np.float32)
    targets = rng.integers(0, 300, (64, 64))
    model = GPT(GPTConfig(vocab_size=300, block_size=64, n_layer=1, n_head=4, d_model=64), rng=rng)
    idx = rng.integers(0, 300, (64, 64))
    before = F.get_num_threads()
    results = []
    try:
        for n in (1, 3):
            F.set_num_threads(n)
            y, t = F.gelu(x)
            loss, d = F.cross_entropy(logits, targets, label_smoothing=0.1, grad=True)
            model.zero_grad()
            model.forward(idx, targets)
            model.backward()
            results.append([y, F.gelu_backward(x, x, t), np.float32(loss), d] + [p.grad.copy() for p in model.parameters()])
    finally:
        F.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        F.set_num_threads(0)
