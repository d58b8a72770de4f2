"""GPT training options: --eval-iters (a bounded, seeded evaluation), ms/step without evaluation time, and a
default warm-up that never exceeds a tenth of --steps."""
import io
import types

import numpy as np
import pytest

import fasttok
import lm.train
from lm import checkpoint as ckpt
from lm.__main__ import main as lm_main
from lm.cli_gpt import eval_rng
from lm.data import causal_batches, encode_corpus, split_ids
from lm.nn import GPT, GPTConfig
from lm.optim import AdamW
from lm.train import evaluate, train

TINY = ["--block-size", "8", "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8"]
WORDS = "rain falls on the green hills while the river runs to the sea".split()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("options")
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(rng.choice(WORDS, 7)) for _ in range(150))
    (d / "train.txt").write_text(text, encoding="utf-8")
    fasttok.train_bpe([text], vocab_size=280).save(str(d / "tok.fasttok"))
    return d, text


def _train(d, name, *extra, steps=4):
    out = d / name
    assert lm_main(["gpt", "train", "--tokenizer", str(d / "tok.fasttok"), "-o", str(out), "--steps", str(steps),
                    *TINY, *extra, str(d / "train.txt")]) == 0
    return out, ckpt.read_meta(out)["history"]


def test_eval_iters_estimates_on_seeded_random_batches(files, capsys):
    d, text = files
    _, full = _train(d, "full.npz", "--eval-every", "2")
    out, bounded = _train(d, "bounded.npz", "--eval-every", "2", "--eval-iters", "3", "--seed", "0")
    _, again = _train(d, "again.npz", "--eval-every", "2", "--eval-iters", "3", "--seed", "0")
    assert bounded == again  # deterministic
    assert bounded["loss"] == full["loss"]  # evaluating never draws from the training batches' generator
    assert bounded["eval_loss"] != full["eval_loss"]  # ... and is not the whole-set figure
    # the estimate is the mean loss over 3 batches of random validation windows drawn from the seed
    model, _ = ckpt.load(out)
    ids = encode_corpus(text, fasttok.load(str(d / "tok.fasttok")))
    _, val_ids = split_ids(ids, val_fraction=0.1)
    gen = causal_batches(val_ids, batch_size=2, block_size=8, rng=eval_rng(0))
    assert bounded["eval_loss"][-1] == pytest.approx(evaluate(model, [next(gen) for _ in range(3)]), rel=1e-6)
    _, other_seed = _train(d, "seed1.npz", "--eval-every", "2", "--eval-iters", "3", "--seed", "1")
    assert other_seed["eval_loss"] != bounded["eval_loss"]
    capsys.readouterr()


def test_eval_iters_is_checked(files, capsys):
    d, _ = files
    common = ["--tokenizer", str(d / "tok.fasttok"), "-o", str(d / "x.npz"), *TINY, str(d / "train.txt")]
    with pytest.raises(SystemExit) as exit_info:
        lm_main(["gpt", "train", "--eval-iters", "-1", *common])
    assert exit_info.value.code == 2 and "--eval-iters" in capsys.readouterr().err
    # masked LM has no whole-validation-set evaluation: 0 is refused
    assert lm_main(["bert", "train", "--eval-iters", "0", *common]) == 2
    assert "--eval-iters must be >= 1" in capsys.readouterr().err


def test_default_warmup_is_at_most_a_tenth_of_the_steps(files, capsys):
    d, _ = files
    lr = 1e-3
    _, hist = _train(d, "w20.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", steps=20)
    assert hist["lr"][:3] == pytest.approx([lr / 2, lr, lr])  # 2 warm-up steps, not 19
    _, hist = _train(d, "w5.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", steps=5)
    assert hist["lr"] == pytest.approx([lr] * 5)  # 5 // 10 = 0: no warm-up
    _, hist = _train(d, "w3.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", "--warmup", "3",
                     steps=5)
    assert hist["lr"][:4] == pytest.approx([lr / 3, 2 * lr / 3, lr, lr])  # an explicit --warmup is kept
    capsys.readouterr()


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
