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
