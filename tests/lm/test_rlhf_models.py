"""RewardModel, the PPO actor-critic, the trainers and the labeller on tiny GPTs: gradients against
finite differences, learning on trivial tasks, bit-identical seeded runs, and bad input."""
import numpy as np
import pytest

import fasttok
import lm.nn.generation
import lm.rlhf.ppo
import lm.rlhf.preference
from lm import functional as F
from lm.nn.gpt import GPT, GPTConfig
from lm.rlhf import (PPOConfig, PreferencePairs, PreferenceRule, RewardModel, VocabMismatchError, collect_pairs,
                     copy_gpt, reward_loss, reward_model_accuracy, train_dpo, train_ppo, train_reward_model)
from lm.rlhf.demo import load_corpus, make_tokenizer
from lm.rlhf.dpo import sequence_logprobs
from lm.rlhf.policy import PolicyWithValue

from .gradcheck import check_param_grads

V, P, N = 8, 3, 5  # vocabulary, prompt and response lengths of the toy tasks
GOOD = 3           # the toy labeller likes this token


def tiny_gpt(seed=0, *, vocab_size=V, dtype="float64", block_size=P + N):
    cfg = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2, d_model=16, dtype=dtype)
    return GPT(cfg, rng=np.random.default_rng(seed))


def count_good(ids):
    return (ids[:, P:] == GOOD).sum(axis=1).astype(np.float64)


def test_reward_model_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    rm = RewardModel(tiny_gpt(1), rng=rng)
    chosen, rejected = rng.integers(0, V, size=(4, P + N)), rng.integers(0, V, size=(4, P + N))

    def loss():
        return reward_loss(rm.forward(chosen), rm.forward(rejected), margin=0.3)[0]

    s = rm.forward(np.concatenate([chosen, rejected]))
    _, dc, dr = reward_loss(s[:4], s[4:], margin=0.3)
    rm.zero_grad()
    rm.backward(np.concatenate([dc, dr]))
    params = dict(rm.named_parameters())
    check_param_grads(loss, [params["head_w"], params["head_b"], params["trunk.wte.weight"],
                    params["trunk.blocks.0.attn.qkv.weight"] if "trunk.blocks.0.attn.qkv.weight" in params
                    else params["trunk.ln_f.weight"]], rng)


def test_policy_with_value_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    model = PolicyWithValue(tiny_gpt(2), rng=rng)
    ids = rng.integers(0, V, size=(3, P + N))
    w_logp, w_val = rng.normal(size=(3, N)), rng.normal(size=(3, N))

    def loss():
        logits, values = model.forward(ids, prompt_length=P)
        return float((F.token_log_probs(logits, ids[:, P:]) * w_logp).sum() + (values * w_val).sum())

    logits, _ = model.forward(ids, prompt_length=P)
    model.zero_grad()
    model.backward(F.token_log_probs_backward(w_logp, logits, ids[:, P:]), w_val)
    params = dict(model.named_parameters())
    check_param_grads(loss, [params["value_w"], params["value_b"], params["gpt.wte.weight"], params["gpt.wpe.weight"]], rng)


def test_rollouts_sample_through_the_models_own_generator():
    # lm.rlhf has no sampler of its own: rollouts are GPT.generate's key/value-cached sampler
    assert lm.rlhf.ppo.generate is lm.rlhf.preference.generate is lm.nn.generation.generate


def test_collect_pairs_orders_by_the_rule_and_drops_ties():
    rng = np.random.default_rng(3)
    prompts = rng.integers(0, V, size=(10, P))
    pairs = collect_pairs(tiny_gpt(3), prompts, label=count_good, n_pairs=40, response_length=N, rng=rng,
                          batch_size=16)
    best_of_4 = collect_pairs(tiny_gpt(3), prompts, label=count_good, n_pairs=40, response_length=N, rng=rng,
                              batch_size=16, n_candidates=4)
    # ranking four candidates and pairing best with worst widens the labelled gap
    gap = lambda p: (count_good(p.chosen) - count_good(p.rejected)).mean()  # noqa: E731
    assert gap(best_of_4) > gap(pairs) >= 1
    assert len(pairs) == 40 and pairs.chosen.shape == (40, P + N)
    assert np.all(count_good(pairs.chosen) > count_good(pairs.rejected))
    assert np.all(pairs.chosen[:, :P] == pairs.rejected[:, :P])  # same prompt in both halves


def _toy_pairs(seed, n=160):
    rng = np.random.default_rng(seed)
    return collect_pairs(tiny_gpt(seed), rng.integers(0, V, size=(32, P)), label=count_good, n_pairs=n,
                         response_length=N, rng=rng, batch_size=64)


def test_reward_model_learns_a_trivial_rule():
    pairs = _toy_pairs(4)
    train, heldout = pairs.split(40, rng=np.random.default_rng(0))
    rm = RewardModel(tiny_gpt(5, dtype="float32"), rng=np.random.default_rng(5))
    before = reward_model_accuracy(rm, heldout)
    hist = train_reward_model(rm, train, n_epochs=8, batch_size=16, lr=3e-3, rng=np.random.default_rng(6))
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert reward_model_accuracy(rm, heldout) >= 0.85 > before


def test_ppo_raises_reward_on_a_trivial_task_and_is_bit_identical():
    def run(seed):
        rng = np.random.default_rng(seed)
        policy = tiny_gpt(7, dtype="float32")
        ref = copy_gpt(policy, rng=rng)
        cfg = PPOConfig(n_iterations=6, batch_size=16, minibatch_size=8, response_length=N, lr=1e-2,
                        kl_coef=0.01, target_kl=2.0, horizon=100)
        res = train_ppo(policy, ref, rng.integers(0, V, size=(20, P)), reward_fn=lambda ids: count_good(ids) / N,
                        config=cfg, rng=rng)
        return res.history, policy.state_dict()

    hist, state = run(11)
    rewards = [r["reward"] for r in hist]
    assert np.mean(rewards[-2:]) > rewards[0] + 0.3  # starts near 1/8, the policy learns to emit GOOD
    assert hist[0]["kl"] == 0.0 and hist[-1]["kl"] > 0  # the first rollout is the reference itself
    assert hist[-1]["beta"] != hist[0]["beta"]  # the adaptive controller moved β
    for key in ("reward", "kl", "clip_fraction", "entropy", "value_loss"):
        assert all(np.isfinite(r[key]) for r in hist), key
    hist2, state2 = run(11)
    drop = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert drop(hist) == drop(hist2)
    assert all(np.array_equal(state[k], state2[k]) for k in state)


def test_dpo_raises_chosen_over_rejected_likelihood():
    pairs = _toy_pairs(8)
    train, heldout = pairs.split(40, rng=np.random.default_rng(0))
    policy = tiny_gpt(8, dtype="float32")
    ref = copy_gpt(policy, rng=np.random.default_rng(0))

    def margin(pairs_):
        return np.mean(sequence_logprobs(policy, pairs_.chosen, P) - sequence_logprobs(policy, pairs_.rejected, P))

    before = margin(heldout)
    hist = train_dpo(policy, ref, train, beta=0.5, n_epochs=4, batch_size=16, lr=3e-3, rng=np.random.default_rng(9))
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["reward_accuracy"] > 0.8
    assert margin(heldout) > before + 1.0  # generalises: held-out chosen responses become likelier
    # the policy writes GOOD more often than the reference now
    rng = np.random.default_rng(10)
    prompts = rng.integers(0, V, size=(64, P))
    assert count_good(policy.generate(prompts, N, rng=np.random.default_rng(1))).mean() > \
        count_good(ref.generate(prompts, N, rng=np.random.default_rng(1))).mean()


def test_preference_rule_counts_distinct_topic_words_and_penalises_repeats():
    rule = PreferenceRule()
    assert rule.score("a list of string values") == 2.0
    assert rule.score("object object object") == 1.0 - 2.0
    assert rule.score("The Class, the CLASS") == 1.0 - 2.0  # case-insensitive: "the" and "class" repeat
    assert rule.prefer("a method of the class", "of the of the") == 1
    assert rule.prefer("", "") == 0


# ---------------------------------------------------------------- bad input

def test_mismatched_vocabularies_raise():
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, V, size=(4, P))
    with pytest.raises(VocabMismatchError, match="reference=9"):
        train_ppo(tiny_gpt(0), tiny_gpt(0, vocab_size=9), prompts, reward_fn=count_good,
                  config=PPOConfig(n_iterations=1, batch_size=4, minibatch_size=4, response_length=N), rng=rng)
    with pytest.raises(VocabMismatchError, match="reward_model=9"):
        policy = tiny_gpt(0)
        train_ppo(policy, copy_gpt(policy, rng=rng), prompts,
                  reward_fn=RewardModel(tiny_gpt(0, vocab_size=9), rng=rng).score,
                  config=PPOConfig(n_iterations=1, batch_size=4, minibatch_size=4, response_length=N), rng=rng)
    with pytest.raises(VocabMismatchError):
        train_dpo(tiny_gpt(0), tiny_gpt(0, vocab_size=9), _toy_pairs(0, n=8), beta=0.1, n_epochs=1,
                  batch_size=4, lr=1e-3, rng=rng)
    pairs = PreferencePairs(np.full((2, P + N), V + 2), np.zeros((2, P + N), dtype=int), P)
    with pytest.raises(VocabMismatchError, match="outside the model's vocabulary"):
        train_reward_model(RewardModel(tiny_gpt(0), rng=rng), pairs, n_epochs=1, batch_size=2, lr=1e-3, rng=rng)


def test_empty_preference_set_raises():
    rng = np.random.default_rng(0)
    empty = PreferencePairs(np.zeros((0, P + N), dtype=int), np.zeros((0, P + N), dtype=int), P)
    with pytest.raises(ValueError, match="empty"):
        train_reward_model(RewardModel(tiny_gpt(0), rng=rng), empty, n_epochs=1, batch_size=2, lr=1e-3, rng=rng)
    with pytest.raises(ValueError, match="empty"):
        train_dpo(tiny_gpt(0), tiny_gpt(1), empty, beta=0.1, n_epochs=1, batch_size=2, lr=1e-3, rng=rng)
    with pytest.raises(ValueError, match="separated only 0"):
        collect_pairs(tiny_gpt(0), rng.integers(0, V, size=(4, P)), label=lambda ids: np.zeros(len(ids)),
                      n_pairs=5, response_length=N, rng=rng, batch_size=4, max_rounds=2)


def test_nan_rewards_raise():
    rng = np.random.default_rng(0)
    policy = tiny_gpt(0)
    with pytest.raises(ValueError, match="reward_fn scores contains"):
        train_ppo(policy, copy_gpt(policy, rng=rng), rng.integers(0, V, size=(4, P)),
                  reward_fn=lambda ids: np.where(ids[:, -1] >= 0, np.nan, 0.0),
                  config=PPOConfig(n_iterations=1, batch_size=4, minibatch_size=4, response_length=N), rng=rng)
    with pytest.raises(ValueError, match="non-finite score"):
        collect_pairs(policy, rng.integers(0, V, size=(4, P)), label=lambda ids: np.full(len(ids), np.nan),
                      n_pairs=2, response_length=N, rng=rng, batch_size=4)
    with pytest.raises(ValueError, match="same object|separate"):
        train_ppo(policy, policy, rng.integers(0, V, size=(4, P)), reward_fn=count_good,
                  config=PPOConfig(n_iterations=1, batch_size=4, minibatch_size=4, response_length=N), rng=rng)


def test_demo_tokenizers_are_fasttok_tokenizers():
    text = load_corpus()[:20_000]
    char = make_tokenizer(text, kind="char", vocab_size=0)
    assert isinstance(char, fasttok.Tokenizer)
    # one id per distinct character, in code-point order: what the demo's own character tokenizer gave
    chars = sorted(set(text))
    assert char.vocab_size == len(chars) and [char.decode([i]) for i in range(len(chars))] == chars
    index = {c: i for i, c in enumerate(chars)}
    assert char.encode(text[:500]) == [index[c] for c in text[:500]]
    bpe = make_tokenizer(text, kind="bpe", vocab_size=300)
    assert isinstance(bpe, fasttok.Tokenizer) and bpe.vocab_size == 300
    assert bpe.decode(bpe.encode(text[:500])) == text[:500]
    with pytest.raises(ValueError, match="'char' or 'bpe'"):
        make_tokenizer(text, kind="words", vocab_size=300)
