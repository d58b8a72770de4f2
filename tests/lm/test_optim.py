import math

import numpy as np
import pytest
import torch

from lm.nn.module import Parameter
from lm.optim import SGD, Adam, AdamW, clip_grad_norm


def _params(rng, dtype=np.float64):
    return [Parameter(rng.standard_normal((3, 4)).astype(dtype), decay=True),
            Parameter(rng.standard_normal(4).astype(dtype), decay=False)]


def _quad_grads(params, targets):
    """Gradient of ½‖θ − target‖² for each parameter (a convex toy problem)."""
    for p, t in zip(params, targets):
        p.grad[...] = p.data - t


def test_adam_hand_computed_three_steps():
    # one scalar, constant gradient g: m_t = (1 − β1^t)·g, v_t = (1 − β2^t)·g², so m̂ = g, v̂ = g² and each
    # step moves θ by −η·g/(|g| + ε). Check against the formula written out step by step.
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p = Parameter(np.array([1.0]), decay=False)
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    theta, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -2.0, 3.0], start=1):
        p.grad[...] = g
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        theta -= lr * mhat / (math.sqrt(vhat) + eps)
        assert p.data[0] == pytest.approx(theta, rel=1e-14)
    # the first step is −η·sign(g) up to ε
    q = Parameter(np.array([0.0]), decay=False)
    q.grad[...] = 7.0
    Adam([q], lr=0.1).step()
    assert q.data[0] == pytest.approx(-0.1, rel=1e-8)


@pytest.mark.parametrize("kind", ["adam", "adamw", "adam_l2", "sgd", "sgd_momentum_l2"])
def test_matches_torch_optimizers(kind):
    rng = np.random.default_rng(0)
    params = _params(rng)
    targets = [rng.standard_normal(p.shape) for p in params]
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    lr = 0.05
    if kind == "adam":
        opt = Adam(params, lr=lr, betas=(0.8, 0.95), eps=1e-6)
        topt = torch.optim.Adam(tparams, lr=lr, betas=(0.8, 0.95), eps=1e-6)
    elif kind == "adamw":
        opt = AdamW(params, lr=lr, weight_decay=0.3)
        topt = torch.optim.AdamW([{"params": tparams[:1], "weight_decay": 0.3},
                                  {"params": tparams[1:], "weight_decay": 0.0}], lr=lr)
    elif kind == "adam_l2":
        # the seed's coupled L2 λ‖θ‖² has gradient 2λθ: torch's weight_decay=2λ
        opt = Adam(params, lr=lr, l2=0.2)
        topt = torch.optim.Adam([{"params": tparams[:1], "weight_decay": 0.4},
                                 {"params": tparams[1:], "weight_decay": 0.0}], lr=lr)
    elif kind == "sgd":
        opt = SGD(params, lr=lr)
        topt = torch.optim.SGD(tparams, lr=lr)
    else:
        opt = SGD(params, lr=lr, momentum=0.9, l2=0.1)
        topt = torch.optim.SGD([{"params": tparams[:1], "weight_decay": 0.2},
                                {"params": tparams[1:], "weight_decay": 0.0}], lr=lr, momentum=0.9)
    for _ in range(7):
        _quad_grads(params, targets)
        opt.step()
        topt.zero_grad()
        sum(0.5 * ((tp - torch.as_tensor(t)) ** 2).sum() for tp, t in zip(tparams, targets)).backward()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_adamw_decays_only_flagged_parameters_with_zero_gradient():
    p_decay = Parameter(np.ones(3), decay=True)
    p_keep = Parameter(np.ones(3), decay=False)
    opt = AdamW([p_decay, p_keep], lr=0.1, weight_decay=0.5)
    opt.step()  # zero gradients: only the decoupled decay moves anything
    np.testing.assert_allclose(p_decay.data, 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(p_keep.data, 1.0)
    q = Parameter(np.ones(3), decay=False)
    AdamW([q], lr=0.1, weight_decay=0.5, decay_all=True).step()
    np.testing.assert_allclose(q.data, 0.95)


def test_float32_parameters_stay_float32():
    rng = np.random.default_rng(1)
    params = _params(rng, np.float32)
    for opt in (SGD(params, lr=0.1, momentum=0.9, l2=0.1), Adam(params, l2=0.1), AdamW(params)):
        for p in params:
            p.grad[...] = rng.standard_normal(p.shape)
        opt.step()
        clip_grad_norm(params, 0.1)
        assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in params)
        assert all(a.dtype == np.float32 for a in opt.state_dict().values() if a.ndim)


def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(2)
    params = _params(rng)
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape) * 3
    tparams = [torch.tensor(p.data) for p in params]
    for tp, p in zip(tparams, params):
        tp.grad = torch.tensor(p.grad.copy())
    norm = clip_grad_norm(params, 1.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, 1.5)
    assert norm == pytest.approx(float(tnorm), rel=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    total = math.sqrt(sum((p.grad ** 2).sum() for p in params))
    assert total == pytest.approx(1.5, rel=1e-5)
    # below the threshold nothing changes
    before = [p.grad.copy() for p in params]
    clip_grad_norm(params, 100.0)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad, b)


def test_clip_grad_norm_can_refuse_a_non_finite_gradient():
    params = _params(np.random.default_rng(3))
    params[0].grad[...] = 1.0
    params[-1].grad.reshape(-1)[0] = np.nan
    before = [p.grad.copy() for p in params]
    assert math.isnan(clip_grad_norm([p for p in params], math.inf))  # measuring only: no error by default
    with pytest.raises(ValueError, match="non-finite gradient"):
        clip_grad_norm(params, 1.0, error_if_nonfinite=True)
    for p, b in zip(params, before):  # nothing was scaled
        np.testing.assert_array_equal(p.grad, b)


def test_state_dict_round_trip_resumes_identically():
    rng = np.random.default_rng(3)
    a = _params(rng)
    b = [Parameter(p.data.copy(), decay=p.decay) for p in a]
    targets = [rng.standard_normal(p.shape) for p in a]
    oa = AdamW(a, lr=0.1)
    for _ in range(3):
        _quad_grads(a, targets)
        oa.step()
    ob = AdamW(b, lr=0.1)
    for p, q in zip(a, b):
        q.data[...] = p.data
    ob.load_state_dict(oa.state_dict())
    for _ in range(2):
        _quad_grads(a, targets)
        _quad_grads(b, targets)
        oa.step()
        ob.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def test_bad_arguments():
    p = Parameter(np.ones(2), decay=True)
    with pytest.raises(ValueError, match="empty"):
        Adam([])
    with pytest.raises(TypeError, match="Parameter"):
        Adam([np.ones(2)])
    with pytest.raises(ValueError, match="betas"):
        Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="lr"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([p], 0)
    with pytest.raises(ValueError, match="wrong shape"):
        Adam([p]).load_state_dict({"t": np.array(1)})
