import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.schedules import constant, cosine, exponential, inverse_sqrt, make_schedule

lr_maxes = st.floats(1e-5, 1.0)
warmups = st.integers(1, 500)


@given(lr_max=lr_maxes, n_warmup=warmups)
def test_warmup_is_linear_and_reaches_lr_max(lr_max, n_warmup):
    for fn in (lambda t: inverse_sqrt(t, lr_max=lr_max, n_warmup=n_warmup),
               lambda t: cosine(t, lr_max=lr_max, n_warmup=n_warmup, n_total=n_warmup + 100),
               lambda t: exponential(t, lr_max=lr_max, n_warmup=n_warmup, gamma=0.99)):
        assert fn(1) == pytest.approx(lr_max / n_warmup)
        assert fn(n_warmup) == pytest.approx(lr_max)
        ups = [fn(t) for t in range(1, n_warmup + 1)]
        assert all(a < b for a, b in zip(ups, ups[1:]))


@settings(max_examples=25)
@given(lr_max=lr_maxes, n_warmup=warmups, gamma=st.floats(0.5, 0.9999), extra=st.integers(10, 300))
def test_continuous_at_boundary_bounded_and_monotone_after(lr_max, n_warmup, gamma, extra):
    n_total = n_warmup + extra
    schedules = [lambda t: inverse_sqrt(t, lr_max=lr_max, n_warmup=n_warmup),
                 lambda t: cosine(t, lr_max=lr_max, n_warmup=n_warmup, n_total=n_total, lr_min=lr_max / 10),
                 lambda t: exponential(t, lr_max=lr_max, n_warmup=n_warmup, gamma=gamma)]
    for fn in schedules:
        # continuity: the decay branch starts at η_max (steps may be real numbers)
        assert fn(n_warmup + 1e-9) == pytest.approx(lr_max, rel=1e-6)
        after = [fn(t) for t in range(n_warmup, n_total + 20)]
        assert all(0 <= v <= lr_max * (1 + 1e-12) for v in after)
        assert all(b <= a * (1 + 1e-12) for a, b in zip(after, after[1:]))


def test_exact_values():
    assert inverse_sqrt(400, lr_max=1.0, n_warmup=100) == pytest.approx(0.5)
    assert cosine(150, lr_max=1.0, n_warmup=100, n_total=200) == pytest.approx(0.5)
    assert cosine(500, lr_max=1.0, n_warmup=100, n_total=200, lr_min=0.1) == pytest.approx(0.1)
    assert exponential(103, lr_max=2.0, n_warmup=100, gamma=0.5) == pytest.approx(0.25)
    assert constant(7, lr_max=0.3) == 0.3
    assert constant(1, lr_max=0.3, n_warmup=3) == pytest.approx(0.1)
    assert math.isclose(make_schedule("inverse_sqrt", lr_max=1.0, n_warmup=4)(16), 0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="from 1"):
        inverse_sqrt(0, lr_max=1.0, n_warmup=10)
    with pytest.raises(ValueError, match="n_warmup"):
        inverse_sqrt(5, lr_max=1.0, n_warmup=0)
    with pytest.raises(ValueError, match="n_total"):
        cosine(5, lr_max=1.0, n_warmup=10, n_total=10)
    with pytest.raises(ValueError, match="gamma"):
        exponential(5, lr_max=1.0, n_warmup=1, gamma=1.5)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("linear", lr_max=1.0)
    with pytest.raises(ValueError, match="n_total"):
        make_schedule("cosine", lr_max=1.0, n_warmup=5, n_total=3)


# ----------------------------------------------------------------------------- torch's scheduler objects

import numpy as np  # noqa: E402

from lm import schedules as S  # noqa: E402
from lm.nn.module import Parameter  # noqa: E402
from lm.optim import SGD, Adam  # noqa: E402
from tests.conftest import missing  # noqa: E402

try:
    import torch
except ImportError:  # the oracle here; CI installs the torch extra
    torch = None


@pytest.fixture
def needs_torch():
    if torch is None:
        missing("torch is not installed: pip install 'fasttok[torch]' (it is the oracle here)")


def _optimizers(kind="sgd"):
    """lm's and torch's optimiser over two parameter groups with different learning rates."""
    ours = [Parameter(np.zeros(2), decay=True), Parameter(np.zeros(3), decay=False)]
    theirs = [torch.zeros(2, dtype=torch.float64, requires_grad=True),
              torch.zeros(3, dtype=torch.float64, requires_grad=True)]
    groups = lambda ps: [{"params": ps[:1], "lr": 0.1}, {"params": ps[1:], "lr": 0.02}]  # noqa: E731
    if kind == "adam":
        return Adam(groups(ours), lr=0.1), torch.optim.Adam(groups(theirs), lr=0.1)
    return SGD(groups(ours), lr=0.1, momentum=0.9), torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9)


def _warmup_cosine(mod, opt):
    return mod.SequentialLR(opt, [mod.LinearLR(opt, start_factor=0.01, total_iters=10),
                                  mod.CosineAnnealingLR(opt, T_max=90, eta_min=1e-3)], milestones=[10])


def _three_part(mod, opt):
    return mod.SequentialLR(opt, [mod.ExponentialLR(opt, gamma=0.9), mod.StepLR(opt, step_size=5, gamma=0.5),
                                  mod.CosineAnnealingLR(opt, T_max=20)], milestones=[15, 40])


SCHEDULERS = {
    "LambdaLR": lambda mod, opt: mod.LambdaLR(opt, lambda e: 0.95 ** e),
    "LambdaLR-per-group": lambda mod, opt: mod.LambdaLR(opt, [lambda e: 1 / (1 + e), lambda e: (e % 7) / 7]),
    "StepLR": lambda mod, opt: mod.StepLR(opt, step_size=7, gamma=0.5),
    "MultiStepLR": lambda mod, opt: mod.MultiStepLR(opt, milestones=[10, 30, 30, 70], gamma=0.3),
    "LinearLR-up": lambda mod, opt: mod.LinearLR(opt, start_factor=0.1, total_iters=20),
    "LinearLR-down": lambda mod, opt: mod.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=30),
    "LinearLR-default": lambda mod, opt: mod.LinearLR(opt),
    "ExponentialLR": lambda mod, opt: mod.ExponentialLR(opt, gamma=0.97),
    "CosineAnnealingLR-past-T_max": lambda mod, opt: mod.CosineAnnealingLR(opt, T_max=30, eta_min=1e-3),
    "CosineAnnealingWarmRestarts": lambda mod, opt: mod.CosineAnnealingWarmRestarts(opt, T_0=10, eta_min=1e-4),
    "CosineAnnealingWarmRestarts-mult": lambda mod, opt: mod.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2),
    "OneCycleLR": lambda mod, opt: mod.OneCycleLR(opt, max_lr=[0.5, 0.1], total_steps=100),
    "OneCycleLR-linear-3-phase": lambda mod, opt: mod.OneCycleLR(opt, max_lr=0.3, total_steps=120,
                                                                 anneal_strategy="linear", three_phase=True),
    "SequentialLR-warmup-cosine": _warmup_cosine,
    "SequentialLR-three": _three_part,
}


def _trace(opt, sched, n_steps=100, metrics=None):
    """[(lrs, momentum-ish)] after construction and after each step."""
    def snapshot():
        extra = [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]
        return list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], extra
    out = [snapshot()]
    for i in range(n_steps):
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[i])
        out.append(snapshot())
    return out


def _assert_same_trace(ours, theirs):
    assert len(ours) == len(theirs)
    for (a_last, a_lr, a_m), (b_last, b_lr, b_m) in zip(ours, theirs):
        np.testing.assert_allclose(a_last, b_last, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a_lr, b_lr, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.array(a_m, dtype=float), np.array(b_m, dtype=float), rtol=1e-12)


# the optimiser matters only to OneCycleLR, which cycles SGD's momentum or Adam's β1
@pytest.mark.parametrize("name, kind", [(n, "sgd") for n in sorted(SCHEDULERS)]
                         + [(n, "adam") for n in sorted(SCHEDULERS) if n.startswith("OneCycle")])
def test_scheduler_matches_torch_for_100_steps(needs_torch, name, kind):
    opt, topt = _optimizers(kind)
    n = 120 if name.endswith("3-phase") else 100
    _assert_same_trace(_trace(opt, SCHEDULERS[name](S, opt), n),
                       _trace(topt, SCHEDULERS[name](torch.optim.lr_scheduler, topt), n))


@pytest.mark.parametrize("options", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.05, patience=2,
                                                     cooldown=3, factor=0.5, min_lr=[0.01, 0.0])])
def test_reduce_on_plateau_matches_torch(needs_torch, options):
    metrics = np.cumsum(np.random.default_rng(4).standard_normal(100)) * 0.1
    opt, topt = _optimizers()
    _assert_same_trace(_trace(opt, S.ReduceLROnPlateau(opt, **options), metrics=metrics),
                       _trace(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **options), metrics=metrics))


def test_cosine_hold_at_min_is_torch_until_t_max_then_eta_min(needs_torch):
    opt, topt = _optimizers()
    ours = _trace(opt, S.CosineAnnealingLR(opt, T_max=30, eta_min=1e-3, hold_at_min=True), 60)
    theirs = _trace(topt, torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=30, eta_min=1e-3), 60)
    _assert_same_trace(ours[:31], theirs[:31])
    assert all(lrs == [1e-3, 1e-3] for lrs, _, _ in ours[30:])
    assert theirs[60][0][0] == pytest.approx(0.1)  # torch's cosine came back up to base_lr at 2·T_max


def test_functional_cosine_equals_warmup_then_held_cosine_objects():
    # the simple API and the objects agree: schedule(t) is the lr of the t-th update (constructing is step 0)
    p = Parameter(np.zeros(1), decay=False)
    opt = SGD([p], lr=1.0)
    sched = S.SequentialLR(opt, [S.LambdaLR(opt, lambda e: (e + 1) / 10),
                                 S.CosineAnnealingLR(opt, T_max=40, eta_min=0.1, hold_at_min=True)],
                           milestones=[9])
    for t in range(1, 80):
        assert opt.lr == pytest.approx(cosine(t, lr_max=1.0, n_warmup=10, n_total=50, lr_min=0.1), rel=1e-12)
        sched.step()


def test_scheduler_state_dict_round_trip_mid_run():
    def build():
        p = Parameter(np.zeros(2), decay=True)
        opt = SGD([{"params": [p], "lr": 0.1}], lr=0.1)
        return opt, _warmup_cosine(S, opt)
    opt, sched = build()
    straight = [sched.get_last_lr()]
    for _ in range(60):
        sched.step()
        straight.append(sched.get_last_lr())
    opt, sched = build()
    resumed = [sched.get_last_lr()]
    for _ in range(25):
        sched.step()
        resumed.append(sched.get_last_lr())
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    opt, sched = build()  # as in torch: build the scheduler, then load both states
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    for _ in range(35):
        sched.step()
        resumed.append(sched.get_last_lr())
    assert resumed == straight


def test_scheduler_bad_arguments():
    opt = SGD([Parameter(np.zeros(1), decay=False)], lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match="not an optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="milestones"):
        S.SequentialLR(opt, [S.ExponentialLR(opt, 0.9), S.ExponentialLR(opt, 0.9)], milestones=[])
    with pytest.raises(ValueError, match="past total_steps"):
        sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
        for _ in range(4):
            sched.step()
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)
