"""Label smoothing is a training regulariser: evaluation and every reported perplexity use ε = 0 (through the
command line: tests/lm/test_cli_gpt.py)."""
import dataclasses

import numpy as np
import pytest

from lm.nn import BERT, GPT, T5, BERTConfig, GPTConfig, T5Config
from lm.train import evaluate, forward_loss

SIZES = dict(vocab_size=13, block_size=6, n_layer=1, n_head=2, d_model=8, dtype="float64")


def _batches(family, rng):
    """Two batches in the family's format, some targets ignored."""
    out = []
    for _ in range(2):
        x = rng.integers(0, 13, (3, 6))
        y = np.where(rng.random((3, 6)) < 0.7, rng.integers(0, 13, (3, 6)), -100)
        y[0, 0] = 5
        if family == "t5":
            out.append((x, np.ones((3, 6), dtype=bool), rng.integers(0, 13, (3, 4)), y[:, :4]))
        else:
            out.append((x, y))
    return out


FAMILIES = {"gpt": (GPT, GPTConfig, {}), "bert": (BERT, BERTConfig, {}), "t5": (T5, T5Config, {"target_size": 4})}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_smoothed_model_evaluates_to_exactly_the_unsmoothed_loss(family):
    cls, config_cls, more = FAMILIES[family]
    smoothed = cls(config_cls(**SIZES, **more, label_smoothing=0.2), rng=np.random.default_rng(0))
    plain_cfg = dataclasses.replace(smoothed.config, label_smoothing=0.0)
    plain = cls(plain_cfg, rng=np.random.default_rng(1))
    plain.load_state_dict(smoothed.state_dict())
    batches = _batches(family, np.random.default_rng(2))
    assert evaluate(smoothed, batches) == evaluate(plain, batches)
    assert smoothed.training  # evaluate restores the mode
    # ... while training still optimises the smoothed objective
    assert abs(forward_loss(smoothed, batches[0]) - forward_loss(plain, batches[0])) > 1e-6
