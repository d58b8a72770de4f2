"""Training options: ms/step without evaluation time, and TrainingConfig's warm-up rule and schedules (through
the command line: tests/lm/test_cli_gpt.py)."""
import io
import types

import numpy as np
import pytest

import lm.train
from lm.data import causal_batches
from lm.nn import GPT, GPTConfig
from lm.optim import AdamW
from lm.train import TrainingConfig, train


@pytest.mark.parametrize("steps,warmup,expected", [(20, None, 2), (5, None, 0), (2000, None, 100), (5, 3, 3),
                                                   (5, 9, 4)])
def test_the_default_warmup_is_at_most_a_tenth_of_the_run(steps, warmup, expected):
    assert TrainingConfig(steps=steps, warmup=warmup).n_warmup() == expected


@pytest.mark.parametrize("schedule", ["constant", "inverse_sqrt", "cosine", "exponential"])
def test_every_schedule_warms_up_to_the_peak(schedule):
    lr_at = TrainingConfig(steps=100, warmup=10, lr=1e-2, schedule=schedule).lr_schedule()
    assert lr_at(1) == pytest.approx(1e-3)
    assert lr_at(10) == pytest.approx(1e-2)
    assert all(lr_at(t) <= 1e-2 * (1 + 1e-12) for t in range(1, 101))


def test_ms_per_step_excludes_evaluation_time(monkeypatch):
    """A fake clock that only evaluation moves: the steps themselves take no time at all."""
    clock = [0.0]
    monkeypatch.setattr(lm.train, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    model = GPT(GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=2, d_model=8), rng=np.random.default_rng(0))
    stream = np.tile(np.arange(11), 10)
    rng = np.random.default_rng(1)

    def eval_batches():
        clock[0] += 1000.0  # a very slow evaluation
        return [next(causal_batches(stream, batch_size=2, block_size=4, rng=np.random.default_rng(2)))]

    log = io.StringIO()
    train(model, causal_batches(stream, batch_size=2, block_size=4, rng=rng),
          optimizer=AdamW(model.parameters(), lr=1e-3), steps=6, eval_batches=eval_batches, eval_every=2,
          log_every=2, log=log, checkpoint_path=None)
    step_lines = [line for line in log.getvalue().splitlines() if line.startswith("train step")]
    assert len(step_lines) == 3
    assert all(line.endswith("| 0 ms/step") for line in step_lines), step_lines
