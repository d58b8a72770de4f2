import io
import json
import math
import os
import stat

import numpy as np
import pytest

from lm import checkpoint as ckpt
from lm.data import causal_batches, causal_eval_batches
from lm.nn import BERT, GPT, T5, BERTConfig, GPTConfig, T5Config
from lm.optim import AdamW
from lm.schedules import make_schedule
from lm.train import TrainingDivergedError, evaluate, train

CFG = dict(vocab_size=11, block_size=8, n_layer=1, n_head=2, d_model=16)
STREAM = np.tile(np.arange(11), 40)  # a cyclic stream: perfectly predictable


def _setup(seed=0):
    model = GPT(GPTConfig(**CFG), rng=np.random.default_rng(seed))
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    rng = np.random.default_rng(seed + 1)
    return model, opt, rng, causal_batches(STREAM, batch_size=4, block_size=8, rng=rng)


def test_training_learns_a_cyclic_stream_and_logs():
    model, opt, rng, batches = _setup()
    log = io.StringIO()
    eval_fn = lambda: causal_eval_batches(STREAM[:100], batch_size=4, block_size=8)  # noqa: E731
    before = evaluate(model, eval_fn())
    assert before == pytest.approx(math.log(11), rel=0.05)  # untrained ≈ uniform
    hist = train(model, batches, optimizer=opt, steps=60, schedule=make_schedule("cosine", lr_max=2e-2, n_warmup=5,
                 n_total=60), eval_batches=eval_fn, eval_every=30, log_every=20, log=log)
    assert hist["step"] == list(range(1, 61)) and hist["eval_step"] == [30, 60]
    assert hist["eval_loss"][-1] < 0.1 * before
    assert hist["lr"][0] == pytest.approx(2e-2 / 5)
    text = log.getvalue()
    assert "train step     20/60" in text and "ppl" in text


def test_resume_from_checkpoint_is_exact(tmp_path):
    path = tmp_path / "run.npz"
    model, opt, rng, batches = _setup()
    sched = make_schedule("inverse_sqrt", lr_max=1e-2, n_warmup=3)
    full = train(model, batches, optimizer=opt, steps=8, schedule=sched, log_every=0)
    reference = model.state_dict()

    model, opt, rng, batches = _setup()
    train(model, batches, optimizer=opt, steps=4, schedule=sched, log_every=0, checkpoint_path=path, rng=rng)
    model2, opt2, rng2, batches2 = _setup(seed=7)  # different init and data rng: all must be restored
    rng2 = np.random.default_rng(1)
    meta = ckpt.load_into(path, model2, optimizer=opt2, rng=rng2)
    assert meta["step"] == 4 and meta["history"]["step"] == [1, 2, 3, 4]
    batches2 = causal_batches(STREAM, batch_size=4, block_size=8, rng=rng2)
    hist = train(model2, batches2, optimizer=opt2, steps=8, schedule=sched, log_every=0, start_step=4,
                 history=meta["history"])
    assert hist["loss"] == pytest.approx(full["loss"], rel=1e-6)
    for name, value in model2.state_dict().items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-5, atol=1e-7)


def test_checkpoint_round_trip_every_family(tmp_path):
    rng = np.random.default_rng(0)
    for model in (GPT(GPTConfig(**CFG), rng=rng), BERT(BERTConfig(**CFG), rng=rng),
                  T5(T5Config(**CFG, target_size=4), rng=rng)):
        path = ckpt.save(tmp_path / "m.npz", model, step=3)
        loaded, meta = ckpt.load(path)
        assert type(loaded) is type(model) and meta["step"] == 3
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(loaded.state_dict()[name], value)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp files
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_checkpoint_mismatch_and_garbage(tmp_path):
    model, opt, _, _ = _setup()
    path = ckpt.save(tmp_path / "a.npz", model, optimizer=opt)
    other = GPT(GPTConfig(**{**CFG, "d_model": 8}), rng=np.random.default_rng(0))
    with pytest.raises(ckpt.CheckpointError, match="d_model"):
        ckpt.load_into(path, other)
    with pytest.raises(ckpt.CheckpointError, match="bert"):
        ckpt.load_into(path, BERT(BERTConfig(**CFG), rng=np.random.default_rng(0)))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ckpt.CheckpointError, match="not an lm checkpoint"):
        ckpt.load(bad)
    np.savez(tmp_path / "foreign.npz", __meta__=np.array(json.dumps({"format": "other"})))
    with pytest.raises(ckpt.CheckpointError, match="unsupported"):
        ckpt.load(tmp_path / "foreign.npz")
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "missing.npz")


def test_nan_loss_stops_with_the_step():
    model, opt, rng, batches = _setup()
    opt.lr = 1e-3
    real = model.forward

    def poisoned(x, y=None, **kw):
        logits, loss = real(x, y, **kw)
        return logits, float("nan") if len(opt_steps) >= 3 else loss

    opt_steps = []
    orig_step = opt.step
    opt.step = lambda: (opt_steps.append(1), orig_step())
    model.forward = poisoned
    with pytest.raises(TrainingDivergedError, match="step 4"):
        train(model, batches, optimizer=opt, steps=10, log_every=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf in, NaN out: expected
def test_infinite_gradient_stops():
    model, opt, rng, batches = _setup()
    model.wte.weight.data[0, 0] = np.inf
    with pytest.raises(TrainingDivergedError, match="step 1"):
        train(model, batches, optimizer=opt, steps=3, log_every=0)
