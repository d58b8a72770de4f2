import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.functional import IGNORE_INDEX
from lm.objectives import causal_lm_pair, mask_tokens, span_corrupt, span_noise_mask, span_reconstruct

V = 50
MASK, PAD, CLS = 0, 1, 2


def test_causal_pair_shifts_by_one():
    x, y = causal_lm_pair(np.arange(12).reshape(2, 6))
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(y, np.arange(12).reshape(2, 6)[:, 1:])
    with pytest.raises(ValueError):
        causal_lm_pair(np.arange(5))


def _mlm_draw(rng, p):
    ids = rng.integers(3, V, (16, 128))
    ids[:, 0] = CLS
    ids[:, -10:] = PAD
    inputs, labels = mask_tokens(ids, mask_id=MASK, vocab_size=V, special_ids=[PAD, CLS], mask_prob=p, rng=rng)
    return ids, inputs, labels


@pytest.mark.parametrize("p", [0.15, 0.3])
def test_mlm_rates_within_three_sigma_over_many_draws(p):
    # a fixed seed: the 3σ bounds are then a deterministic check, not a 0.3%-flaky one
    rng = np.random.default_rng(2024)
    n = k = n_mask = n_same = n_other = 0
    for _ in range(50):
        ids, inputs, labels = _mlm_draw(rng, p)
        chosen = labels != IGNORE_INDEX
        n += ((ids != PAD) & (ids != CLS)).sum()
        k += chosen.sum()
        n_mask += ((inputs == MASK) & chosen).sum()
        n_same += ((inputs == ids) & chosen).sum()
        n_other += (chosen & (inputs != MASK) & (inputs != ids)).sum()
    assert abs(k / n - p) <= 3 * np.sqrt(p * (1 - p) / n)
    # of the chosen: 80% [MASK], 10% random, 10% unchanged (a random draw can equal the original: 1/(V−3))
    for count, q in ((n_mask, 0.8), (n_same, 0.1 + 0.1 / (V - 3)), (n_other, 0.1 * (V - 4) / (V - 3))):
        assert abs(count / k - q) <= 3 * np.sqrt(q * (1 - q) / k)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), p=st.sampled_from([0.15, 0.3, 1.0]))
def test_mlm_never_masks_specials_and_labels_only_chosen(seed, p):
    ids, inputs, labels = _mlm_draw(np.random.default_rng(seed), p)
    ordinary = (ids != PAD) & (ids != CLS)
    chosen = labels != IGNORE_INDEX
    other = chosen & (inputs != MASK) & (inputs != ids)
    # special tokens never chosen, never altered; random replacements are never special
    assert not chosen[~ordinary].any()
    np.testing.assert_array_equal(inputs[~ordinary], ids[~ordinary])
    assert not np.isin(inputs[other], [MASK, PAD, CLS]).any()
    # labels: original ids where chosen, ignored elsewhere; unchosen inputs untouched
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])
    if p == 1.0:
        assert chosen[ordinary].all()


def test_mlm_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="out of range"):
        mask_tokens(np.array([[V]]), mask_id=MASK, vocab_size=V, rng=rng)
    with pytest.raises(ValueError, match="mask_id"):
        mask_tokens(np.array([[3]]), mask_id=V, vocab_size=V, rng=rng)
    with pytest.raises(TypeError):
        mask_tokens(np.array([[3.0]]), mask_id=MASK, vocab_size=V, rng=rng)
    with pytest.raises(ValueError):
        mask_tokens(np.array([[3]]), mask_id=MASK, vocab_size=V, rng=rng, replace_mask=0.95, replace_random=0.1)


SENTINELS = list(range(1000, 900, -1))


@settings(max_examples=60)
@given(ids=st.lists(st.integers(0, 500), min_size=2, max_size=80), seed=st.integers(0, 2**32 - 1),
       density=st.sampled_from([0.15, 0.3, 0.5]), mean_len=st.sampled_from([1.0, 3.0, 5.0]))
def test_span_corruption_reconstructs_exactly(ids, seed, density, mean_len):
    ids = np.array(ids)
    rng = np.random.default_rng(seed)
    inp, tgt = span_corrupt(ids, sentinel_ids=SENTINELS, noise_density=density, mean_span_length=mean_len, rng=rng)
    np.testing.assert_array_equal(span_reconstruct(inp, tgt, sentinel_ids=SENTINELS), ids)
    n_sent = np.isin(inp, SENTINELS).sum()
    assert n_sent == np.isin(tgt, SENTINELS).sum() >= 1
    # sentinels are used in order, each once, and the target starts with the first one
    assert list(inp[np.isin(inp, SENTINELS)]) == SENTINELS[:n_sent] == list(tgt[np.isin(tgt, SENTINELS)])
    # every token appears exactly once in inputs-without-sentinels + targets-without-sentinels
    assert len(inp) + len(tgt) - 2 * n_sent == len(ids)


def test_span_density_and_mean_length_match():
    rng = np.random.default_rng(0)
    n_noise = n_spans = n_tok = 0
    for _ in range(300):
        m = span_noise_mask(512, noise_density=0.15, mean_span_length=3.0, rng=rng)
        n_tok += m.size
        n_noise += m.sum()
        n_spans += (m & ~np.r_[False, m[:-1]]).sum()
    assert n_noise / n_tok == pytest.approx(0.15, abs=0.002)
    assert n_noise / n_spans == pytest.approx(3.0, abs=0.05)
    # other settings
    m = span_noise_mask(1000, noise_density=0.5, mean_span_length=10.0, rng=rng)
    assert m.sum() == 500 and (m & ~np.r_[False, m[:-1]]).sum() == 50


@pytest.mark.parametrize("length", [5, 10, 20, 30])
def test_short_sequences_place_spans_uniformly(length):
    """The reference puts a single span at the end of a short sequence every time; ours is uniform."""
    rng = np.random.default_rng(1)
    n_draws = 3000
    starts = []
    for _ in range(n_draws):
        m = span_noise_mask(length, rng=rng)
        n_noise = m.sum()
        assert n_noise == min(max(round(length * 0.15), 1), length - 1)
        spans = np.flatnonzero(m & ~np.r_[False, m[:-1]])
        if len(spans) == 1:
            starts.append(spans[0])
    n_pos = length - n_noise + 1  # possible start positions of one contiguous span
    counts = np.bincount(starts, minlength=n_pos)
    assert len(counts) == n_pos and counts.min() > 0  # first, last and every other position occur
    expected = len(starts) / n_pos
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < n_pos - 1 + 5 * np.sqrt(2 * (n_pos - 1))  # loose bound on a χ² with n_pos − 1 dof


def test_span_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least 2"):
        span_corrupt(np.array([1]), sentinel_ids=SENTINELS, rng=rng)
    with pytest.raises(ValueError, match="sentinel"):
        span_corrupt(np.array([1, 2, 1000]), sentinel_ids=SENTINELS, rng=rng)
    with pytest.raises(ValueError, match="sentinel ids"):
        span_corrupt(np.arange(100), sentinel_ids=[1000], rng=rng)
    with pytest.raises(ValueError, match="noise_density"):
        span_noise_mask(10, noise_density=1.0, rng=rng)
