"""The end-to-end demo: pre-train a tiny GPT → label pairs with a hidden rule → reward model → PPO (with
and without the KL penalty) → DPO on the same pairs → one table.

Everything is drawn from one seed: two runs with the same seed and corpus print identical numbers.
"""
import time
from dataclasses import dataclass, field, replace

import numpy as np

import fasttok
from fasttok._files import atomic_write  # the one atomic writer of both packages

from .. import functional as F
from ..nn.generation import generate
from ..nn.gpt import GPT, GPTConfig
from ..optim import AdamW, clip_grad_norm
from ..ranges import AT_LEAST_ONE, POSITIVE, check_ranges
from .dpo import train_dpo
from .policy import copy_gpt, response_logits
from .ppo import PPOConfig, train_ppo
from .preference import PreferenceRule, collect_pairs
from .reward import RewardModel, reward_model_accuracy, train_reward_model


# ----------------------------------------------------------------------------- corpus and tokens

def load_corpus(path=None):
    """The text of `path`, or by default CPython's own documentation topics (pydoc_data, always installed)."""
    if path is not None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    else:
        from pydoc_data.topics import topics
        text = "\n".join(topics[key] for key in sorted(topics))
    if len(text) < 1000:
        raise ValueError(f"corpus is too short for the demo ({len(text)} characters; need at least 1000)")
    return text


def make_tokenizer(text, *, kind, vocab_size):
    """A fasttok tokenizer trained on `text`.

    "char": character-level BPE with no merges, i.e. one id per distinct character of `text`, numbered in
    code-point order. The demo's default: a word-level rule on a character-level policy means the policy
    must learn to spell the words the labeller likes, which a tiny GPT does within a few minutes on CPU.
    "bpe": byte-level BPE with `vocab_size` ids.
    """
    if kind == "char":
        return fasttok.train_bpe(text, vocab_size=len(set(text)), byte_level=False)
    if kind == "bpe":
        return fasttok.train_bpe(text, vocab_size=vocab_size)
    raise ValueError(f"tokenizer must be 'char' or 'bpe'; got {kind!r}")


# ----------------------------------------------------------------------------- configuration

@dataclass
class DemoConfig:
    tokenizer: str = "char"          # "char" (one id per character) or "bpe" (fasttok, needs the compiled core)
    bpe_vocab_size: int = 512        # vocabulary of the BPE tokenizer
    n_layer: int = 2                 # tiny GPT shared by policy, reference and reward model
    n_head: int = 4
    d_model: int = 64
    prompt_length: int = 24          # tokens of corpus context before each response
    response_length: int = 24        # tokens the policy writes
    pretrain_steps: int = 800        # maximum-likelihood steps on the corpus
    pretrain_batch: int = 32
    pretrain_lr: float = 3e-3
    n_pairs: int = 1536              # labelled comparisons (train + held out)
    n_candidates: int = 4            # responses the labeller ranks per prompt (best vs worst = a pair)
    n_heldout: int = 384             # pairs kept out of reward-model training
    rm_epochs: int = 4
    rm_lr: float = 1e-3
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(
        n_iterations=60, batch_size=32, minibatch_size=16, ppo_epochs=4, lr=3e-4,
        kl_coef=0.2, target_kl=8.0, horizon=320))
    dpo_beta: float = 0.1
    dpo_epochs: int = 3
    dpo_lr: float = 1e-4
    n_eval: int = 256                # prompts of the final evaluation of each policy

    def __post_init__(self):
        sizes = ("bpe_vocab_size", "n_layer", "n_head", "d_model", "prompt_length", "response_length",
                 "pretrain_steps", "pretrain_batch", "n_pairs", "n_heldout", "rm_epochs", "dpo_epochs", "n_eval")
        check_ranges(self, {**dict.fromkeys(sizes, AT_LEAST_ONE), "n_candidates": (lambda v: v >= 2, ">= 2"),
                            **dict.fromkeys(("pretrain_lr", "rm_lr", "dpo_lr", "dpo_beta"), POSITIVE)})
        if self.n_heldout >= self.n_pairs:
            raise ValueError(f"n_heldout must be below n_pairs ({self.n_pairs}), got {self.n_heldout}")


def bpe_config():
    """The demo on fasttok BPE tokens: 12-token prompts and responses (about 26 characters each)."""
    return DemoConfig(tokenizer="bpe", prompt_length=12, response_length=12)


def quick_config(**overrides):
    """A scaled-down demo (seconds, not minutes) to check an installation; its numbers mean little."""
    return DemoConfig(**overrides, n_layer=1, n_head=2, d_model=32, prompt_length=12, response_length=8,
                      pretrain_steps=25, pretrain_batch=16, n_pairs=48, n_heldout=16, rm_epochs=1, dpo_epochs=1,
                      n_eval=16, ppo=PPOConfig(n_iterations=2, batch_size=16, minibatch_size=16, ppo_epochs=1,
                                               lr=3e-4, kl_coef=0.3, target_kl=6.0, horizon=320))


# ----------------------------------------------------------------------------- stages

def pretrain(gpt, data, *, steps, batch_size, lr, rng, log=None):
    """Maximum-likelihood next-token training on random windows of `data` (1-D ids); returns final loss."""
    t = gpt.config.block_size
    optimizer = AdamW(gpt.parameters(), lr=lr, weight_decay=0.01)
    gpt.train()
    losses = []
    for step in range(steps):
        starts = rng.integers(0, len(data) - t - 1, size=batch_size)
        windows = data[starts[:, None] + np.arange(t + 1)]  # (B, T+1)
        _, loss = gpt.forward(windows[:, :-1], windows[:, 1:])
        gpt.zero_grad()
        gpt.backward()
        # linear decay: a tiny model at a high learning rate needs cooling down to reach a good loss
        optimizer.lr = lr * (1 - step / steps)
        clip_grad_norm(optimizer.params, 1.0, error_if_nonfinite=True)
        optimizer.step()
        losses.append(loss)
        if log is not None and (step + 1) % 100 == 0:
            log(f"pretrain step {step + 1}/{steps}: loss {np.mean(losses[-100:]):.3f}")
    gpt.eval()
    return float(np.mean(losses[-50:]))


def sample_prompts(data, tokenizer, *, n, prompt_length, rng):
    """n prompts of `prompt_length` tokens cut from the encoded corpus `data`, each ending where a new word
    starts: after a token that ends with a space, or before one that starts with a space and a word
    (byte-level BPE glues the space to the word that follows it)."""
    texts = [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
    ends_space = np.array([t.endswith(" ") for t in texts])  # (V,)
    opens_word = np.array([len(t) > 1 and t[0] == " " and not t[1].isspace() for t in texts])  # (V,)
    last = np.arange(prompt_length - 1, len(data) - 1)  # candidate last prompt tokens
    last = last[ends_space[data[last]] | opens_word[data[last + 1]]]
    if len(last) == 0:
        raise ValueError("the corpus has no word boundaries to cut prompts at")
    ends = last[rng.integers(0, len(last), size=n)] + 1  # (n,)
    return data[ends[:, None] - prompt_length + np.arange(prompt_length)]  # (n, P)


def evaluate_policy(gpt, reference, prompts, *, rule_score, reward_score, response_length, rng):
    """Mean rule score, mean reward-model score and exact KL to the reference (nats per response)."""
    ids = generate(gpt, prompts, response_length, rng=rng)  # (n, L)
    p = prompts.shape[1]
    kl = []
    for i in range(0, len(ids), 64):
        chunk = ids[i:i + 64]
        kl.append(F.kl_divergence(response_logits(gpt, chunk, p), response_logits(reference, chunk, p)).sum(axis=1))
    return {"rule_score": float(np.mean(rule_score(ids))), "reward": float(np.mean(reward_score(ids))),
            "kl": float(np.mean(np.concatenate(kl))), "samples": ids}


def run_demo(config=None, *, corpus=None, seed=0, log=None):
    """The whole pipeline; returns a dict of results (the JSON keys) plus histories and sample texts."""
    cfg = config or DemoConfig()
    log = log or (lambda msg: None)
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    text = load_corpus(corpus)
    tok = make_tokenizer(text, kind=cfg.tokenizer, vocab_size=cfg.bpe_vocab_size)
    data = np.asarray(tok.encode(text), dtype=np.int64)  # (N,)
    block = cfg.prompt_length + cfg.response_length
    gpt_cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=cfg.n_layer, n_head=cfg.n_head,
                        d_model=cfg.d_model, dtype="float32")
    rule = PreferenceRule()
    p = cfg.prompt_length

    def rule_score(ids):
        return rule.score_batch([tok.decode(row) for row in ids[:, p:]])

    # 1. pre-train the base policy
    base = GPT(gpt_cfg, rng=rng)
    lm_loss = pretrain(base, data, steps=cfg.pretrain_steps, batch_size=cfg.pretrain_batch, lr=cfg.pretrain_lr,
                       rng=rng, log=log)
    log(f"pretrained: loss {lm_loss:.3f} nats/token")
    prompts = sample_prompts(data, tok, n=4096, prompt_length=p, rng=rng)
    eval_prompts = sample_prompts(data, tok, n=cfg.n_eval, prompt_length=p, rng=rng)

    # 2. the labeller compares pairs of the base policy's samples
    pairs = collect_pairs(base, prompts, label=rule_score, n_pairs=cfg.n_pairs,
                          response_length=cfg.response_length, n_candidates=cfg.n_candidates, rng=rng)
    train_pairs, heldout_pairs = pairs.split(cfg.n_heldout, rng=rng)
    log(f"collected {len(pairs)} labelled pairs")

    # 3. reward model from the base policy's weights
    rm = RewardModel.from_policy(base, rng=rng)
    train_reward_model(rm, train_pairs, n_epochs=cfg.rm_epochs, batch_size=32, lr=cfg.rm_lr, rng=rng,
                       log=lambda row: log(f"reward model epoch {row['epoch']}: loss {row['loss']:.3f}, "
                                           f"train accuracy {row['train_accuracy']:.3f}"))
    rm_acc = reward_model_accuracy(rm, heldout_pairs)
    log(f"reward model held-out accuracy {rm_acc:.3f}")
    # normalise the reward to mean 0, std 1 on the base policy's samples (InstructGPT normalises its RM too)
    base_scores = rm.score(np.concatenate([train_pairs.chosen, train_pairs.rejected]))
    mu, sd = float(base_scores.mean()), float(base_scores.std()) + 1e-8

    def reward_score(ids):
        return (rm.score(ids) - mu) / sd

    # 4. PPO with the KL penalty, and without it
    def ppo_log(name):
        return lambda r: log(f"{name} it {r['iteration']:3d}: reward {r['reward']:+.3f} rule {r['rule_score']:.3f} "
                             f"kl {r['kl']:.3f} beta {r['beta']:.3f} clip {r['clip_fraction']:.3f} "
                             f"entropy {r['entropy']:.3f} value_loss {r['value_loss']:.4f} ({r['seconds']:.2f} s)")
    runs = {}
    ppo_cfg = replace(cfg.ppo, response_length=cfg.response_length)
    for name, ppo_cfg in (("ppo", ppo_cfg), ("ppo_no_kl", replace(ppo_cfg, kl_coef=0.0, target_kl=None))):
        policy = copy_gpt(base, rng=rng)
        runs[name] = train_ppo(policy, base, prompts, reward_fn=reward_score, rule_fn=rule_score, config=ppo_cfg,
                               rng=rng, log=ppo_log(name)).history
        runs[name + "_policy"] = policy

    # 5. DPO on the same pairs, from the same base
    dpo_policy = copy_gpt(base, rng=rng)
    dpo_history = train_dpo(dpo_policy, base, train_pairs, beta=cfg.dpo_beta, n_epochs=cfg.dpo_epochs,
                            batch_size=32, lr=cfg.dpo_lr, rng=rng,
                            log=lambda r: log(f"dpo epoch {r['epoch']}: loss {r['loss']:.3f}, "
                                              f"implicit-reward accuracy {r['reward_accuracy']:.3f}"))

    # 6. evaluate every policy on the same held-out prompts with the same sampling seed
    table = {}
    for name, gpt in (("base", base), ("ppo", runs["ppo_policy"]), ("ppo_no_kl", runs["ppo_no_kl_policy"]),
                      ("dpo", dpo_policy)):
        table[name] = evaluate_policy(gpt, base, eval_prompts, rule_score=rule_score, reward_score=reward_score,
                                      response_length=cfg.response_length, rng=np.random.default_rng(seed + 1))
        table[name]["example"] = tok.decode(table[name].pop("samples")[0, p:])
    return {
        "reward_model_heldout_accuracy": rm_acc,
        "rule_score_base": table["base"]["rule_score"],
        "rule_score_ppo": table["ppo"]["rule_score"],
        "kl_ppo": table["ppo"]["kl"],
        "rule_score_ppo_no_kl": table["ppo_no_kl"]["rule_score"],
        "kl_ppo_no_kl": table["ppo_no_kl"]["kl"],
        "rule_score_dpo": table["dpo"]["rule_score"],
        "kl_dpo": table["dpo"]["kl"],
        "pretrain_loss": lm_loss,
        "seed": seed,
        "target_kl": cfg.ppo.target_kl,
        "seconds": time.perf_counter() - t_start,
        "table": table,
        "eval_prompt": tok.decode(eval_prompts[0]),
        "history": {"ppo": runs["ppo"], "ppo_no_kl": runs["ppo_no_kl"], "dpo": dpo_history},
    }


def format_table(results):
    """A plain-text table of the evaluated policies."""
    lines = [f"{'policy':<12}{'rule score':>12}{'RM reward':>12}{'KL to base':>12}  sample continuation",
             "-" * 90]
    for name, row in results["table"].items():
        lines.append(f"{name:<12}{row['rule_score']:>12.3f}{row['reward']:>12.3f}{row['kl']:>12.3f}  "
                     f"{row['example']!r}")
    lines.append(f"reward model held-out pair accuracy: {results['reward_model_heldout_accuracy']:.3f}")
    lines.append(f"prompt of the sample: {results['eval_prompt']!r}")
    return "\n".join(lines)


def plot_history(results, path):
    """Reward, rule score and KL per PPO iteration, with and without the penalty; written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, style in (("ppo", "-"), ("ppo_no_kl", "--")):
        hist = results["history"][name]
        it = [r["iteration"] for r in hist]
        for ax, key in zip(axes, ("reward", "rule_score", "kl")):
            ax.plot(it, [r[key] for r in hist], style, label=name)
    target = results.get("target_kl")
    if target is not None:
        axes[2].axhline(target, color="grey", linewidth=0.8, linestyle=":", label="target KL")
    for ax, title in zip(axes, ("reward-model score (normalised)", "rule score (the labeller)",
                                "KL(policy ‖ base), nats/response")):
        ax.set_title(title)
        ax.set_xlabel("PPO iteration")
        ax.legend()
    fig.tight_layout()
    try:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, dpi=110, format="png")
    finally:
        plt.close(fig)

