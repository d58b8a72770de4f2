"""lm.rlhf: reward model, PPO with a KL penalty to the base policy, and DPO, in numpy on CPU."""
from ._checks import VocabMismatchError
from ._logprobs import entropy, kl_full, token_logprobs, token_logprobs_backward
from .dpo_loss import dpo_loss
from .gae import gae, whiten
from .kl import AdaptiveKLController, FixedKLController, adaptive_beta, kl_per_token, shape_rewards
from .ppo_loss import ppo_policy_loss, ppo_value_loss
from .reward import pair_accuracy, reward_loss
