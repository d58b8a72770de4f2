"""The demo's labeller: a hidden, human-readable rule that says which of two continuations is better.

The rule plays the human of InstructGPT's step 2. It is deliberately *not* the reward model: the reward
model only ever sees the pairs the rule labelled, and the demo reports the rule's own score of PPO's and
DPO's samples, so reward hacking (a high learned reward, a low rule score) is visible.
"""
import re
from dataclasses import dataclass, field

import numpy as np

from ..nn.generation import generate
from ._checks import VocabMismatchError

# Words of Python's data model; they make up about 8% of the words of the default corpus, so a short
# sampled continuation contains one only sometimes and the labeller sees real variation.
TOPIC_WORDS = ("object", "class", "value", "function", "method", "name", "type", "list", "string",
               "module", "exception", "instance", "attribute", "sequence", "dictionary", "key")

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class PreferenceRule:
    """score(text) = #distinct topic words in text − repeat_penalty · #repeated words.

    "A labeller who likes continuations that talk about Python's objects, without saying the same word
    twice." Distinctness and the penalty keep the trivial hack (one topic word over and over) from paying.

    >>> PreferenceRule().score("the class of an object is a class")   # 2 topic words, 1 repeat
    1.0
    """
    topic_words: frozenset = field(default_factory=lambda: frozenset(TOPIC_WORDS))
    repeat_penalty: float = 1.0

    def score(self, text):
        words = _WORD.findall(text.lower())
        hits = len(set(words) & self.topic_words)
        repeats = len(words) - len(set(words))
        return float(hits - self.repeat_penalty * repeats)

    def score_batch(self, texts):
        return np.array([self.score(t) for t in texts], dtype=np.float64)  # (B,)

    def prefer(self, text_a, text_b):
        """+1 if the labeller prefers a, -1 if b, 0 if it cannot tell them apart."""
        return int(np.sign(self.score(text_a) - self.score(text_b)))


@dataclass(frozen=True)
class PreferencePairs:
    """Labelled comparisons: row i of `chosen` was preferred over row i of `rejected`.

    Both are (N, L) token ids: the same prompt (first `prompt_length` tokens) and two responses.
    """
    chosen: np.ndarray       # (N, L)
    rejected: np.ndarray     # (N, L)
    prompt_length: int

    def __len__(self):
        return len(self.chosen)

    def subset(self, idx):
        return PreferencePairs(self.chosen[idx], self.rejected[idx], self.prompt_length)

    def split(self, n_heldout, *, rng):
        """(train, heldout) by a seeded shuffle."""
        if not 0 < n_heldout < len(self):
            raise ValueError(f"n_heldout must lie in (0, {len(self)}); got {n_heldout}")
        order = rng.permutation(len(self))
        return self.subset(order[n_heldout:]), self.subset(order[:n_heldout])


def check_pairs(pairs, *, vocab_size=None):
    """Raise ValueError for an empty or malformed preference set, VocabMismatchError for foreign ids."""
    if not isinstance(pairs, PreferencePairs):
        raise TypeError(f"expected PreferencePairs, got {type(pairs).__name__}")
    if len(pairs) == 0:
        raise ValueError("the preference set is empty: no pairs to learn from")
    if pairs.chosen.shape != pairs.rejected.shape or pairs.chosen.ndim != 2:
        raise ValueError(f"chosen {pairs.chosen.shape} and rejected {pairs.rejected.shape} must be equal (N, L)")
    if not 1 <= pairs.prompt_length < pairs.chosen.shape[1]:
        raise ValueError(f"prompt_length {pairs.prompt_length} leaves no response in length {pairs.chosen.shape[1]}")
    if vocab_size is not None:
        top = max(int(pairs.chosen.max()), int(pairs.rejected.max()))
        if top >= vocab_size or min(int(pairs.chosen.min()), int(pairs.rejected.min())) < 0:
            raise VocabMismatchError(f"pairs use token id {top}, outside the model's vocabulary of {vocab_size}")


def collect_pairs(policy, prompts, *, label, n_pairs, response_length, rng, n_candidates=2, batch_size=64,
                  temperature=1.0, max_rounds=100):
    """Sample `n_candidates` responses per prompt from `policy` (a GPT); the labeller ranks them and the
    best and the worst become one pair (InstructGPT's labellers rank K = 4..9 responses per prompt).

    prompts: (M, P) token ids, drawn with replacement. label(ids (B, L)) -> (B,) scores; higher is
    preferred; a prompt whose best and worst responses score the same is dropped (the labeller cannot
    tell them apart). Returns PreferencePairs with exactly n_pairs rows; ValueError if max_rounds give fewer.
    """
    prompts = np.asarray(prompts)
    if n_pairs <= 0 or len(prompts) == 0:
        raise ValueError(f"need n_pairs > 0 and at least one prompt; got {n_pairs} pairs, {len(prompts)} prompts")
    if n_candidates < 2:
        raise ValueError(f"n_candidates must be at least 2; got {n_candidates}")
    chosen, rejected, n_have = [], [], 0
    for _ in range(max_rounds):
        batch = prompts[rng.integers(0, len(prompts), size=batch_size)]  # (B, P)
        ids = generate(policy, np.tile(batch, (n_candidates, 1)), response_length, temperature=temperature,
                       rng=rng).reshape(n_candidates, batch_size, -1)  # (K, B, L)
        scores = np.asarray(label(ids.reshape(n_candidates * batch_size, -1)), dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise ValueError("the labeller returned a non-finite score")
        scores = scores.reshape(n_candidates, batch_size)  # (K, B)
        # first best and first worst candidate: a fixed tie-break keeps runs reproducible
        best, worst = scores.argmax(axis=0), scores.argmin(axis=0)  # (B,)
        keep = scores.max(axis=0) > scores.min(axis=0)  # (B,)
        rows = np.arange(batch_size)
        chosen.append(ids[best, rows][keep])
        rejected.append(ids[worst, rows][keep])
        n_have += int(keep.sum())
        if n_have >= n_pairs:
            break
    if n_have < n_pairs:
        raise ValueError(f"the labeller separated only {n_have} of the {n_pairs} requested pairs "
                         f"in {max_rounds} rounds: the rule almost never distinguishes the policy's samples")
    return PreferencePairs(np.concatenate(chosen)[:n_pairs], np.concatenate(rejected)[:n_pairs],
                           prompts.shape[1])
