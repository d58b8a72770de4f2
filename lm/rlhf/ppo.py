"""PPO for a language-model policy (Ziegler et al. 2019; InstructGPT; TRL's PPOTrainer), in numpy.

One iteration: sample responses for a batch of prompts → score them → fold the per-token KL penalty to
the frozen reference into the rewards → GAE → several epochs of minibatch updates of the clipped
policy surrogate and the clipped value loss → update β.
"""
import math
import time
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..nn.generation import generate
from ..optim import AdamW, clip_grad_norm
from ..ranges import AT_LEAST_ONE, NON_NEGATIVE, OPEN_UNIT, POSITIVE, UNIT, check_ranges, optional
from ._checks import check_finite
from .gae import gae, whiten
from .kl import AdaptiveKLController, FixedKLController, shape_rewards
from .policy import PolicyWithValue, check_models, response_logits, split_response
from .ppo_loss import ppo_policy_loss, ppo_value_loss


@dataclass
class PPOConfig:
    n_iterations: int = 40          # rollout + update rounds
    batch_size: int = 32            # responses sampled per iteration
    minibatch_size: int = 16        # responses per gradient step
    ppo_epochs: int = 4             # passes over each rollout batch
    response_length: int = 16       # tokens generated per prompt
    temperature: float = 1.0        # sampling temperature of the rollouts (1 = the policy itself)
    lr: float = 1e-4                # AdamW learning rate of the policy and its value head
    max_grad_norm: float = 1.0      # global-norm clip of each step's gradient
    clip_eps: float = 0.2           # ε of the policy ratio clip
    value_clip: float = 0.2         # clip range of the value update
    vf_coef: float = 0.1            # weight of the value loss in the shared trunk's loss
    gamma: float = 1.0              # discount; 1 is usual for short responses
    lam: float = 0.95               # GAE λ
    kl_coef: float = 0.1            # β: fixed, or the adaptive controller's starting value; 0 disables
    target_kl: float | None = None  # nats per response; None keeps β fixed
    horizon: int = 10_000           # adaptive controller horizon, in samples
    whiten_advantages: bool = True  # normalise advantages per rollout batch

    def __post_init__(self):
        check_ranges(self, {"temperature": POSITIVE, "lr": POSITIVE, "max_grad_norm": POSITIVE,
                            "clip_eps": OPEN_UNIT, "value_clip": POSITIVE, "vf_coef": NON_NEGATIVE, "gamma": UNIT,
                            "lam": UNIT, "kl_coef": NON_NEGATIVE, "target_kl": optional(POSITIVE),
                            "horizon": AT_LEAST_ONE})
        if self.minibatch_size > self.batch_size or self.minibatch_size <= 0:
            raise ValueError(f"minibatch_size must lie in [1, batch_size]; got {self.minibatch_size}")
        if self.n_iterations < 0 or self.response_length <= 0 or self.ppo_epochs <= 0:
            raise ValueError("n_iterations >= 0, response_length > 0 and ppo_epochs > 0 are required")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0; got {self.kl_coef}")


@dataclass
class PPOResult:
    policy: object     # the trained GPT (the same object that was passed in)
    value_model: PolicyWithValue
    history: list      # one dict per iteration


def train_ppo(policy, reference, prompts, *, reward_fn, config, rng, rule_fn=None, log=None):
    """Optimise `policy` (a GPT, updated in place) for reward_fn − β·KL(policy ‖ reference).

    prompts: (M, P) token ids, sampled with replacement. reward_fn(ids (B, L)) -> (B,) scores of whole
    sequences (e.g. a RewardModel's `score`, whose vocabulary is then checked against the policy's). rule_fn, if given, is logged as "rule_score" but never
    optimised. log(row) is called once per iteration with the row appended to the history.
    """
    # a RewardModel's bound `score` carries its vocabulary: check it against the policy's too
    scorer = getattr(reward_fn, "__self__", None)
    check_models(policy, reference, scorer if hasattr(scorer, "vocab_size") else None)
    prompts = np.asarray(prompts)
    if prompts.ndim != 2 or len(prompts) == 0:
        raise ValueError(f"prompts must be a non-empty (M, P) array of ids; got shape {prompts.shape}")
    c = config
    prompt_length = prompts.shape[1]
    if prompt_length + c.response_length - 1 > policy.config.block_size:
        raise ValueError(f"prompt {prompt_length} + response {c.response_length} tokens exceed the context "
                         f"of {policy.config.block_size}")
    model = PolicyWithValue(policy, rng=rng)
    optimizer = AdamW(model.parameters(), lr=c.lr, weight_decay=0.0)
    controller = (FixedKLController(c.kl_coef) if c.target_kl is None else
                  AdaptiveKLController(beta=c.kl_coef, target=c.target_kl, horizon=c.horizon))
    reference.eval()
    history = []
    for iteration in range(c.n_iterations):
        t0 = time.perf_counter()
        # ---- rollout
        batch = prompts[rng.integers(0, len(prompts), size=c.batch_size)]  # (B, P)
        ids = generate(policy, batch, c.response_length, temperature=c.temperature, rng=rng)  # (B, L)
        tokens = split_response(ids, prompt_length)  # (B, N)
        mask = np.ones(tokens.shape, dtype=np.dtype(policy.config.dtype))  # (B, N) fixed-length responses
        model.eval()
        logits, values = model.forward(ids, prompt_length=prompt_length)  # (B, N, V), (B, N)
        old_logp = F.token_log_probs(logits, tokens)  # (B, N)
        ref_logits = response_logits(reference, ids, prompt_length)  # (B, N, V)
        ref_logp = F.token_log_probs(ref_logits, tokens)  # (B, N)
        scores = check_finite("reward_fn scores", np.asarray(reward_fn(ids), dtype=np.float64))  # (B,)
        beta = controller.beta
        rewards, kl_sampled = shape_rewards(scores.astype(old_logp.dtype), old_logp, ref_logp,
                                            mask=mask, beta=beta)  # (B, N)
        advantages, returns = gae(rewards, values, mask=mask, gamma=c.gamma, lam=c.lam)  # (B, N)
        if c.whiten_advantages:
            advantages = whiten(advantages, mask)
        kl_exact = float((F.kl_divergence(logits, ref_logits) * mask).sum(axis=1).mean())  # nats per response
        row = {
            "iteration": iteration,
            "reward": float(scores.mean()),
            "kl": kl_exact,
            "kl_sampled": float(kl_sampled.sum(axis=1).mean()),
            "entropy": float((F.entropy(logits) * mask).sum() / mask.sum()),
            "beta": float(beta),
        }
        if rule_fn is not None:
            row["rule_score"] = float(np.mean(rule_fn(ids)))
        # ---- updates
        model.train()
        stats = {"policy_loss": [], "value_loss": [], "clip_fraction": [], "approx_kl": []}
        for _ in range(c.ppo_epochs):
            order = rng.permutation(c.batch_size)
            for start in range(0, c.batch_size, c.minibatch_size):
                mb = order[start:start + c.minibatch_size]
                mb_logits, mb_values = model.forward(ids[mb], prompt_length=prompt_length)
                logp = F.token_log_probs(mb_logits, tokens[mb])  # (b, N)
                p_loss, dlogp, p_stats = ppo_policy_loss(logp, old_logp[mb], advantages[mb], mask=mask[mb],
                                                         clip_eps=c.clip_eps)
                v_loss, dvalues, _ = ppo_value_loss(mb_values, values[mb], returns[mb], mask=mask[mb],
                                                    clip_range=c.value_clip)
                model.zero_grad()
                model.backward(F.token_log_probs_backward(dlogp, mb_logits, tokens[mb]), c.vf_coef * dvalues)
                clip_grad_norm(optimizer.params, c.max_grad_norm or math.inf, error_if_nonfinite=True)
                optimizer.step()
                stats["policy_loss"].append(p_loss)
                stats["value_loss"].append(v_loss)
                stats["clip_fraction"].append(p_stats["clip_fraction"])
                stats["approx_kl"].append(p_stats["approx_kl"])
        row.update({k: float(np.mean(v)) for k, v in stats.items()})
        controller.update(kl_exact, n_steps=c.batch_size)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if log is not None:
            log(row)
    model.eval()
    return PPOResult(policy=policy, value_model=model, history=history)
