"""lm.rlhf: reward model, PPO with a KL penalty to the base policy, and DPO, in numpy on CPU.

Losses are pure functions returning (loss, gradient(s)[, stats]); trainers update a `lm.nn.gpt.GPT` in
place and return a per-iteration history. Every random choice comes from an explicit `rng`.

Built on lm: token log-probabilities, entropy, exact KL and log σ come from `lm.functional`, rollouts
from `lm.nn.generation` (the key/value-cached sampler `GPT.generate` uses), updates from `lm.optim`
(AdamW after `clip_grad_norm`).
"""
from ._checks import VocabMismatchError
from .dpo import sequence_logprobs, train_dpo
from .dpo_loss import dpo_loss
from .gae import gae, whiten
from .kl import AdaptiveKLController, FixedKLController, adaptive_beta, kl_per_token, shape_rewards
from .policy import PolicyWithValue, copy_gpt
from .ppo import PPOConfig, PPOResult, train_ppo
from .ppo_loss import ppo_policy_loss, ppo_value_loss
from .preference import PreferencePairs, PreferenceRule, collect_pairs
from .reward import RewardModel, pair_accuracy, reward_loss, reward_model_accuracy, train_reward_model

__all__ = [
    "VocabMismatchError", "sequence_logprobs",
    "train_dpo", "dpo_loss", "gae", "whiten", "AdaptiveKLController", "FixedKLController", "adaptive_beta",
    "kl_per_token", "shape_rewards", "PolicyWithValue", "copy_gpt", "PPOConfig", "PPOResult", "train_ppo",
    "ppo_policy_loss", "ppo_value_loss", "PreferencePairs", "PreferenceRule", "collect_pairs", "RewardModel",
    "pair_accuracy", "reward_loss", "reward_model_accuracy", "train_reward_model",
]
