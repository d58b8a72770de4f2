import json
import math

import numpy as np
import pytest

from lm import checkpoint as ckpt
from lm.files import content_hash
from lm.nn import GPT, GPTConfig
from lm.nn.module import Parameter
from lm.optim import SGD, Adam, AdamW, clip_grad_norm
from tests.conftest import missing

try:
    import torch
except ImportError:  # the oracle of most tests here; CI installs the torch extra
    torch = None


@pytest.fixture
def needs_torch():
    if torch is None:
        missing("torch is not installed: pip install 'fasttok[torch]' (it is the oracle here)")


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
    for opt in (SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1), Adam(params, weight_decay=0.1, amsgrad=True),
                AdamW(params)):
        for p in params:
            p.grad[...] = rng.standard_normal(p.shape)
        opt.step()
        clip_grad_norm(params, 0.1)
        assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in params)
        assert all(a.dtype == np.float32 for a in opt.state_arrays().values() if a.ndim)


def test_clip_grad_norm_matches_torch(needs_torch):
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
    with pytest.raises(ValueError, match="missing"):
        Adam([p]).load_state_arrays({"t": np.array(1)})
    with pytest.raises(ValueError, match="wrong shape"):
        Adam([p]).load_state_arrays({"t": np.array(1), "m.0": np.zeros(3), "v.0": np.zeros(2)})
    with pytest.raises(TypeError, match="weight_decay=2λ"):
        SGD([p], lr=0.1, l2=0.1)
    with pytest.raises(TypeError, match="weight_decay=2λ"):
        Adam([p], l2=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="unknown option"):
        SGD([{"params": [p], "betas": (0.9, 0.9)}], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


# ----------------------------------------------------------------------------- torch traces

SHAPES = [(3, 4), (4,), (2, 2)]


def _groups(params, spec):
    """The same parameter-group structure for lm and torch: ``spec`` is None (a plain list) or a list of
    (slice, options)."""
    if spec is None:
        return list(params)
    return [{"params": params[sl], **opts} for sl, opts in spec]


GROUPS = [(slice(0, 1), {"lr": 0.1}), (slice(1, 3), {"lr": 0.003, "weight_decay": 0.05})]
ADAM_GROUPS = [(slice(0, 1), {"lr": 0.1, "betas": (0.5, 0.9)}), (slice(1, 3), {"eps": 1e-3, "weight_decay": 0.2})]
CASES = [
    ("SGD", dict(lr=0.05), None),
    ("SGD", dict(lr=0.05, momentum=0.9), None),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5), None),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    ("SGD", dict(lr=0.05, weight_decay=0.1), None),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True), None),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True), None),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.1), GROUPS),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.01, amsgrad=True), None),
    ("Adam", dict(lr=0.01, weight_decay=0.1), None),
    ("Adam", dict(lr=0.01, maximize=True), None),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.95), eps=1e-6), None),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True, betas=(0.8, 0.99)), None),
    ("Adam", dict(lr=0.01, amsgrad=True), ADAM_GROUPS),
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.01, amsgrad=True), None),
    ("AdamW", dict(lr=0.01, weight_decay=0.3), None),
    ("AdamW", dict(lr=0.01, maximize=True), None),
    ("AdamW", dict(lr=0.01, betas=(0.3, 0.95)), None),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.2, maximize=True, betas=(0.8, 0.99)), None),
    ("AdamW", dict(lr=0.01), ADAM_GROUPS),
]
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}


def _feed(ours, theirs, grads: np.random.Generator) -> None:
    """Give lm's and torch's parameters the same fresh gradients."""
    for p, tp in zip(ours, theirs):
        g = grads.standard_normal(p.shape)
        p.grad[...] = g
        tp.grad = torch.tensor(g.copy())


def _trace_pair(name, options, spec, *, n_steps=100, seed=0, resume_at=None):
    """Run lm's and torch's optimiser side by side for ``n_steps`` from the same float64 parameters, feeding
    both the same gradients (drawn from a fixed rng, independent of the parameters), so only the update
    rule is compared. With ``resume_at``, lm's optimiser is rebuilt from its ``state_dict`` at that step."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(a.copy(), decay=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = OURS[name](_groups(ours, spec), **options)
    topt = getattr(torch.optim, name)(_groups(theirs, spec), **options)
    grads = np.random.default_rng(seed + 1)
    for step in range(n_steps):
        if step == resume_at:
            saved = opt.state_dict()
            opt = OURS[name](_groups(ours, spec), **options)
            opt.load_state_dict(saved)
        _feed(ours, theirs, grads)
        opt.step()
        topt.step()
    return ours, theirs, opt, topt


@pytest.mark.parametrize("name, options, spec", CASES, ids=[f"{n}-{sorted(o)}-{'groups' if s else 'flat'}"
                                                            for n, o, s in CASES])
def test_matches_torch_for_100_steps(needs_torch, name, options, spec):
    ours, theirs, _, _ = _trace_pair(name, options, spec)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, options, spec", [CASES[7], CASES[13], CASES[21]])
def test_state_dict_round_trip_mid_run_equals_an_uninterrupted_run(needs_torch, name, options, spec):
    straight, _, opt, _ = _trace_pair(name, options, spec)
    resumed, theirs, opt2, topt = _trace_pair(name, options, spec, resume_at=37)
    for p, q in zip(straight, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    # torch's layout: the same integer indices, buffer names and group options
    ours_sd, torch_sd = opt2.state_dict(), topt.state_dict()
    assert ours_sd["state"].keys() == torch_sd["state"].keys()
    for i, s in torch_sd["state"].items():
        assert ours_sd["state"][i].keys() == {k for k, v in s.items() if v is not None}
        for k, v in ours_sd["state"][i].items():
            np.testing.assert_allclose(v, s[k].numpy(), rtol=1e-12, atol=1e-12)
    for mine, their in zip(ours_sd["param_groups"], torch_sd["param_groups"]):
        assert mine["params"] == their["params"]
        assert {k: their[k] for k in mine if k not in ("decay_all", "params")} == \
            {k: v for k, v in mine.items() if k not in ("decay_all", "params")}


def test_loads_a_torch_state_dict_and_continues_as_torch(needs_torch):
    name, options, spec = CASES[14]  # Adam, amsgrad, groups
    ours, theirs, opt, topt = _trace_pair(name, options, spec, n_steps=20)
    converted = {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in topt.state_dict()["state"].items()},
                 "param_groups": topt.state_dict()["param_groups"]}
    for p, tp in zip(ours, theirs):
        p.data[...] = tp.detach().numpy()
    fresh = Adam(_groups(ours, spec), lr=1.0)  # the options come from the state dict
    fresh.load_state_dict(converted)
    assert set(fresh.param_groups[0]) == set(opt.param_groups[0])  # not torch's foreach, fused, ...
    grads = np.random.default_rng(9)
    for _ in range(10):
        _feed(ours, theirs, grads)
        fresh.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_weight_decay_means_what_torch_means_and_skips_unflagged_parameters(needs_torch):
    # SGD's weight_decay=w adds w·θ (torch), not 2w·θ (the seed's l2); AdamW's is decoupled: θ ← θ − lr·w·θ
    p = Parameter(np.array([2.0]), decay=True)
    SGD([p], lr=0.1, weight_decay=0.5).step()  # zero gradient
    assert p.data[0] == pytest.approx(2.0 - 0.1 * 0.5 * 2.0, rel=1e-15)
    tp = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    tp.grad = torch.zeros(1, dtype=torch.float64)
    torch.optim.SGD([tp], lr=0.1, weight_decay=0.5).step()
    assert p.data[0] == tp.item()
    # unflagged parameters (biases, norms, embeddings) are not decayed unless decay_all: torch with wd=0 there
    keep = Parameter(np.ones(2), decay=False)
    SGD([keep], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_array_equal(keep.data, 1.0)
    SGD([keep], lr=0.1, weight_decay=0.5, decay_all=True).step()
    np.testing.assert_allclose(keep.data, 0.95)


def test_lr_property_sets_every_group():
    a, b = Parameter(np.ones(2), decay=True), Parameter(np.ones(3), decay=False)
    opt = AdamW([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.2)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2] and opt.lr == 0.1
    opt.lr = 0.5
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]
    assert opt.params == [a, b]


def test_checkpoint_arrays_round_trip_and_read_the_seeds_layout():
    rng = np.random.default_rng(5)
    a = _params(rng)
    opt = Adam(a, lr=0.1, amsgrad=True)
    for _ in range(3):
        _quad_grads(a, [np.zeros(p.shape) for p in a])
        opt.step()
    arrays = opt.state_arrays()
    assert sorted(arrays) == ["m.0", "m.1", "step.0", "step.1", "t", "v.0", "v.1", "vmax.0", "vmax.1"]
    b = Adam([Parameter(p.data.copy(), decay=p.decay) for p in a], lr=0.1, amsgrad=True)
    b.load_state_arrays(arrays)
    for i, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(b.state_dict()["state"][i][k], v)
    # the seed's checkpoints: "t" and "m.i"/"v.i" (Adam) or "buf.i" (SGD momentum), no per-parameter steps
    old = {"t": np.array(3), "m.0": np.ones((3, 4)), "v.0": np.ones((3, 4)), "m.1": np.ones(4), "v.1": np.ones(4)}
    c = AdamW(_params(rng), lr=0.1)
    c.load_state_arrays(old)
    assert c.t == 3 and int(c.state_dict()["state"][1]["step"]) == 3
    d = SGD(_params(rng), lr=0.1)
    d.load_state_arrays({"t": np.array(4)})
    assert d.t == 4


def test_a_checkpoint_in_the_seeds_optimizer_layout_still_resumes(tmp_path):
    """Checkpoints from before per-parameter steps held optim/t, optim/m.i, optim/v.i only: rewrite a new
    checkpoint into that layout (with a matching SHA-256) and resume from it."""
    def build():
        model = GPT(GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=2, d_model=8),
                    rng=np.random.default_rng(0))
        return model, AdamW(model.parameters(), lr=1e-2)

    model, opt = build()
    for p in model.parameters():
        p.grad[...] = 0.1
    opt.step()
    opt.step()
    path = ckpt.save(tmp_path / "new.npz", model, optimizer=opt, step=2)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if not k.startswith("optim/step.")}
    meta = json.loads(str(arrays.pop("__meta__")))
    meta["sha256"] = content_hash({k: v for k, v in meta.items() if k != "sha256"}, arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    old = tmp_path / "old.npz"
    np.savez(old, **arrays)
    model2, opt2 = build()
    ckpt.load_into(old, model2, optimizer=opt2)
    assert opt2.t == 2
    for (i, s), (_, s2) in zip(opt.state_dict()["state"].items(), opt2.state_dict()["state"].items()):
        assert s.keys() == s2.keys()
        for k in s:
            np.testing.assert_array_equal(s[k], s2[k])
