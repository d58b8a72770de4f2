"""RLHF objectives: gradients against central finite differences and torch autograd, clip properties,
KL of a policy against itself, GAE by hand, the adaptive KL controller's formula, and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lm.functional import entropy, kl_divergence, log_sigmoid, log_sigmoid_backward, sigmoid
from lm.functional import token_log_probs, token_log_probs_backward
from lm.rlhf.dpo_loss import dpo_loss
from lm.rlhf.gae import gae, whiten
from lm.rlhf.kl import AdaptiveKLController, FixedKLController, adaptive_beta, kl_per_token, shape_rewards
from lm.rlhf.ppo_loss import ppo_policy_loss, ppo_value_loss
from lm.rlhf.reward import pair_accuracy, reward_loss

from .gradcheck import numeric_grad, rel_err

torch = pytest.importorskip("torch")  # CI installs the torch extra, so this always runs there
F = torch.nn.functional


def fd_grad(f, x):
    """Finite differences of the scalar f(x) at x, on a float64 copy of x."""
    x = np.array(x, dtype=np.float64)
    return numeric_grad(lambda: f(x), x)


def t64(x):
    return torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)


def assert_matches_torch(loss, grads, tloss, leaves):
    """Our (loss, gradients) against torch autograd of tloss w.r.t. the float64 leaves, to 1e-12."""
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    for g, leaf in zip(grads, leaves):
        assert rel_err(g, leaf.grad.numpy()) < 1e-12


# ---------------------------------------------------------------- log-probs, entropy, KL

def test_token_log_probs_backward_matches_torch_and_fd():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)) * 3
    tokens = rng.integers(0, 5, size=(2, 3))
    w = rng.normal(size=(2, 3))
    g = token_log_probs_backward(w, logits, tokens)
    fd = fd_grad(lambda x: float((token_log_probs(x, tokens) * w).sum()), logits)
    assert rel_err(g, fd) < 1e-7
    tl = t64(logits)
    lp = F.log_softmax(tl, -1).gather(-1, torch.tensor(tokens)[..., None])[..., 0]
    (lp * torch.tensor(w)).sum().backward()
    assert rel_err(g, tl.grad.numpy()) < 1e-12
    np.testing.assert_allclose(token_log_probs(logits, tokens), lp.detach().numpy(), rtol=1e-12)


def test_log_sigmoid_and_sigmoid_match_torch_and_fd():
    z = np.array([-800.0, -30.0, -1.5, 0.0, 0.3, 4.0, 30.0, 800.0])
    w = np.linspace(-1, 1, z.size)
    tz = t64(z)
    tl = F.logsigmoid(tz)
    (tl * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(log_sigmoid(z), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(sigmoid(z), torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-12, atol=1e-300)
    assert rel_err(log_sigmoid_backward(w, z), tz.grad.numpy()) < 1e-12
    zs = z[1:-1]
    assert rel_err(log_sigmoid_backward(w[1:-1], zs), fd_grad(lambda x: float((log_sigmoid(x) * w[1:-1]).sum()), zs)) < 1e-7


def test_entropy_and_kl_match_torch():
    rng = np.random.default_rng(1)
    p, q = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    tp, tq = torch.tensor(p), torch.tensor(q)
    want_h = torch.distributions.Categorical(logits=tp).entropy().numpy()
    want_kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=tp),
                                                torch.distributions.Categorical(logits=tq)).numpy()
    np.testing.assert_allclose(entropy(p), want_h, rtol=1e-12)
    np.testing.assert_allclose(kl_divergence(p, q), want_kl, rtol=1e-10)


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=20)
def test_kl_of_policy_against_itself_is_zero(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 4, 6)) * 5
    tokens = rng.integers(0, 6, size=(3, 4))
    logp = token_log_probs(logits, tokens)
    assert np.all(kl_per_token(logp, logp) == 0)
    assert np.all(kl_divergence(logits, logits) == 0)
    # and a different policy has positive exact KL
    assert np.all(kl_divergence(logits, logits + rng.normal(size=logits.shape)) > 0)


def test_shape_rewards_folds_kl_and_score_on_last_token():
    logp = np.array([[-1.0, -2.0, -3.0], [-1.0, -1.0, -9.0]])
    ref = np.array([[-1.5, -1.0, -3.0], [-2.0, -1.0, -1.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0]])
    rewards, kl = shape_rewards(np.array([10.0, 20.0]), logp, ref, mask=mask, beta=0.5)
    np.testing.assert_allclose(kl, [[0.5, -1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rewards, [[-0.25, 0.5, 10.0], [-0.5, 20.0, 0.0]])


# ---------------------------------------------------------------- reward model loss

@pytest.mark.parametrize("margin", [0.0, 0.7])
def test_reward_loss_gradient_matches_torch_and_fd(margin):
    rng = np.random.default_rng(2)
    rp, rn = rng.normal(size=6) * 3, rng.normal(size=6) * 3
    loss, dp, dn = reward_loss(rp, rn, margin=margin)
    tp, tn = t64(rp), t64(rn)
    assert_matches_torch(loss, (dp, dn), -F.logsigmoid(tp - tn - margin).mean(), (tp, tn))
    assert rel_err(dp, fd_grad(lambda x: reward_loss(x, rn, margin=margin)[0], rp)) < 1e-7


def test_reward_loss_is_stable_for_huge_rewards_and_keeps_float32():
    loss, dp, _ = reward_loss(np.array([-1e4, 1e4], np.float32), np.array([1e4, -1e4], np.float32))
    assert np.isfinite(loss) and abs(loss - 1e4) < 1 and dp.dtype == np.float32
    assert pair_accuracy([1, 2, 3], [0, 2, 4]) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- PPO

def _ppo_data(seed, b=3, t=5):
    rng = np.random.default_rng(seed)
    old = rng.normal(size=(b, t)) - 2
    logp = old + rng.normal(size=(b, t)) * 0.3  # ratios spread across and beyond [0.8, 1.2]
    adv = rng.normal(size=(b, t))
    mask = (np.arange(t)[None, :] < rng.integers(1, t + 1, size=(b, 1))).astype(np.float64)
    return logp, old, adv, mask


def test_ppo_policy_loss_matches_torch_and_fd():
    logp, old, adv, mask = _ppo_data(3)
    loss, g, stats = ppo_policy_loss(logp, old, adv, mask=mask, clip_eps=0.2)
    tl = t64(logp)
    ratio = torch.exp(tl - torch.tensor(old))
    obj = torch.minimum(ratio * torch.tensor(adv), torch.clamp(ratio, 0.8, 1.2) * torch.tensor(adv))
    assert_matches_torch(loss, (g,), -(obj * torch.tensor(mask)).sum() / mask.sum(), (tl,))
    assert 0 < stats["clip_fraction"] < 1
    fd = fd_grad(lambda x: ppo_policy_loss(x, old, adv, mask=mask, clip_eps=0.2)[0], logp)
    assert rel_err(g, fd) < 1e-6


@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.5))
@settings(max_examples=30)
def test_ppo_clip_zeroes_gradient_exactly_where_it_binds(seed, eps):
    logp, old, adv, mask = _ppo_data(seed, b=4, t=6)
    _, g, stats = ppo_policy_loss(logp, old, adv, mask=np.ones_like(mask), clip_eps=eps)
    ratio = np.exp(logp - old)
    binds = ((ratio > 1 + eps) & (adv > 0)) | ((ratio < 1 - eps) & (adv < 0))
    assert np.all(g[binds] == 0)
    # on the other side of the clip (and inside it) the gradient is the unclipped one, never zero
    free = ~binds & (adv != 0)
    np.testing.assert_allclose(g[free], -(ratio * adv)[free] / g.size, rtol=1e-12)
    assert stats["clip_fraction"] == pytest.approx(binds.mean())


def test_ppo_value_loss_matches_torch_and_fd():
    rng = np.random.default_rng(4)
    old = rng.normal(size=(3, 5))
    values = old + rng.normal(size=(3, 5)) * 0.4
    returns = rng.normal(size=(3, 5))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=float)
    loss, g, stats = ppo_value_loss(values, old, returns, mask=mask, clip_range=0.2)
    tv = t64(values)
    tvc = torch.tensor(old) + torch.clamp(tv - torch.tensor(old), -0.2, 0.2)
    tr = torch.tensor(returns)
    tloss = 0.5 * (torch.maximum((tv - tr) ** 2, (tvc - tr) ** 2) * torch.tensor(mask)).sum() / mask.sum()
    assert_matches_torch(loss, (g,), tloss, (tv,))
    assert 0 < stats["value_clip_fraction"] < 1
    fd = fd_grad(lambda x: ppo_value_loss(x, old, returns, mask=mask, clip_range=0.2)[0], values)
    assert rel_err(g, fd) < 1e-6


# ---------------------------------------------------------------- DPO

def test_dpo_loss_matches_torch_and_fd():
    rng = np.random.default_rng(5)
    pc, pr, rc, rr = (rng.normal(size=7) * 4 - 20 for _ in range(4))
    loss, dc, dr, stats = dpo_loss(pc, pr, rc, rr, beta=0.3)
    tc, tr = t64(pc), t64(pr)
    tloss = -F.logsigmoid(0.3 * ((tc - torch.tensor(rc)) - (tr - torch.tensor(rr)))).mean()
    assert_matches_torch(loss, (dc, dr), tloss, (tc, tr))
    assert rel_err(dc, fd_grad(lambda x: dpo_loss(x, pr, rc, rr, beta=0.3)[0], pc)) < 1e-7
    # policy == reference: every implicit reward is 0, the loss is log 2
    assert dpo_loss(pc, pr, pc, pr, beta=0.3)[0] == pytest.approx(np.log(2))


# ---------------------------------------------------------------- GAE and KL control

def test_gae_hand_worked_example():
    # row 0 (γ=0.9, λ=0.8): δ = [1 + .9·1 − .5, 0 + .9·1.5 − 1, 2 − 1.5] = [1.4, 0.35, 0.5]
    #   Â2 = 0.5, Â1 = 0.35 + 0.72·0.5 = 0.71, Â0 = 1.4 + 0.72·0.71 = 1.9112
    # row 1 ends after two tokens, so V2 = 9 must not bootstrap: Â1 = 2 − 1 = 1, Â0 = 1.4 + 0.72 = 2.12
    rewards = np.array([[1.0, 0.0, 2.0], [1.0, 2.0, 5.0]])
    values = np.array([[0.5, 1.0, 1.5], [0.5, 1.0, 9.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask=mask, gamma=0.9, lam=0.8)
    np.testing.assert_allclose(adv, [[1.9112, 0.71, 0.5], [2.12, 1.0, 0.0]], rtol=1e-12)
    np.testing.assert_allclose(ret, [[2.4112, 1.71, 2.0], [2.62, 2.0, 0.0]], rtol=1e-12)


def test_gae_lambda_one_gives_discounted_return_minus_value():
    rng = np.random.default_rng(6)
    r, v = rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    adv, ret = gae(r, v, mask=np.ones((2, 6)), gamma=0.95, lam=1.0)
    disc = np.array([[sum(0.95 ** (k - t) * r[b, k] for k in range(t, 6)) for t in range(6)] for b in range(2)])
    np.testing.assert_allclose(ret, disc, rtol=1e-10)
    w = whiten(adv, np.ones((2, 6)))
    assert abs(w.mean()) < 1e-12 and abs(w.std(ddof=1) - 1) < 1e-6


def test_adaptive_kl_controller_follows_its_formula():
    ctl = AdaptiveKLController(beta=0.1, target=6.0, horizon=10_000)
    # KL 9 is 50% over target: the error clips to +0.2, β ← 0.1·(1 + 0.2·256/10000)
    assert ctl.update(9.0, n_steps=256) == pytest.approx(0.1 * 1.00512, rel=1e-14)
    # KL 5.4 is 10% under: β ← β·(1 − 0.1·256/10000)
    assert ctl.update(5.4, n_steps=256) == pytest.approx(0.1 * 1.00512 * 0.99744, rel=1e-14)
    assert adaptive_beta(0.2, 6.0, target=6.0, horizon=100, n_steps=50) == 0.2
    assert adaptive_beta(0.2, 0.0, target=6.0, horizon=100, n_steps=50) == pytest.approx(0.2 * 0.9)
    assert FixedKLController(0.05).update(100.0, n_steps=1) == 0.05


# ---------------------------------------------------------------- bad input

def test_bad_input_raises_typed_errors():
    with pytest.raises(ValueError, match="non-finite"):
        reward_loss(np.array([np.nan, 1.0]), np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match="non-empty"):
        reward_loss(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="non-empty"):
        dpo_loss(np.array([]), np.array([]), np.array([]), np.array([]), beta=0.1)
    with pytest.raises(ValueError, match="reward scores"):
        shape_rewards(np.array([np.nan]), np.zeros((1, 2)), np.zeros((1, 2)), mask=np.ones((1, 2)), beta=0.1)
    with pytest.raises(ValueError, match="rewards"):
        gae(np.array([[np.inf]]), np.zeros((1, 1)), mask=np.ones((1, 1)), gamma=1.0, lam=1.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        ppo_policy_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)), mask=np.ones((2, 3)), clip_eps=0.2)
    with pytest.raises(ValueError, match="no positions"):
        ppo_value_loss(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), mask=np.zeros((1, 2)), clip_range=0.2)
    with pytest.raises(ValueError, match="target ids"):
        token_log_probs(np.zeros((1, 2, 3)), np.array([[0, 3]]))
    with pytest.raises(ValueError, match="adaptive KL"):
        AdaptiveKLController(beta=0.1, target=0.0, horizon=10)
    with pytest.raises(ValueError, match="non-finite"):
        adaptive_beta(0.1, float("nan"), target=1.0, horizon=10, n_steps=1)
