"""`lm gpt train|sample|eval` end to end on tiny synthetic corpora and fasttok tokenizers: training options
(--eval-iters, the default warm-up), errors, progress lines, checkpoints that embed their tokenizer, and
perplexities reported without label smoothing."""
import dataclasses
import hashlib
import json
import math
import shutil

import numpy as np
import pytest

import fasttok
from lm import checkpoint as ckpt
from lm.cli import main as lm_main
from lm.data import causal_batches, causal_eval_batches, encode_corpus, split_ids
from lm.nn import GPT
from lm.train import eval_rng, evaluate

from .cli_support import KING, MOON, SMALL, TINY, TINY_RUN, last_json, run_lm, train_small, word_text, write_corpus


def test_gpt_train_sample_eval_resume(king_files, capsys):
    d, corpus, tok_path = king_files
    out, result = train_small("gpt", king_files, capsys, steps=4)
    assert result["val_ppl"] > 1 and result["val_loss"] > 0
    meta = ckpt.read_meta(out)
    assert meta["family"] == "gpt" and meta["step"] == 4 and meta["config"]["d_model"] == 16
    assert lm_main(["gpt", "sample", str(out), "--prompt", "the king", "-n", "5", "--top-k", "5"]) == 0
    assert capsys.readouterr().out.startswith("the king")
    assert lm_main(["gpt", "eval", str(out), str(corpus)]) == 0
    assert json.loads(capsys.readouterr().out)["ppl"] > 1
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "6", "--resume", "-o", str(out),
                    *SMALL, str(corpus)]) == 0
    assert "resuming from step 4" in capsys.readouterr().err
    assert ckpt.read_meta(out)["history"]["step"] == [1, 2, 3, 4, 5, 6]


def test_cli_errors_are_one_line_with_their_exit_status(king_files, capsys, tmp_path):
    """A runtime or data error exits 1, an option value the model config refuses 2 (tests/lm/test_cli.py)."""
    d, corpus, tok_path = king_files
    short = tmp_path / "short.txt"
    short.write_text("the king", encoding="utf-8")
    cases = [
        (["gpt", "train", "--tokenizer", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.npz"), str(corpus)],
         "cannot load tokenizer", 1),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), str(short)], "too short", 1),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), "--d-model", "10",
          "--n-head", "3", str(corpus)], "divisible", 2),
        (["gpt", "train", "--tokenizer", str(tok_path), "-o", str(tmp_path / "x.npz"), "--resume", str(corpus)],
         "no checkpoint", 1),
        (["gpt", "sample", str(tmp_path / "missing.npz"), "--prompt", "the"], "no checkpoint", 1),
        (["gpt", "eval", str(tmp_path / "missing.npz"), str(corpus)], "no checkpoint", 1),
    ]
    for argv, message, status in cases:
        assert lm_main(argv) == status, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    # a checkpoint of another shape cannot be resumed into
    out = d / "gpt.npz"
    if not out.exists():
        lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "2", "-o", str(out), *SMALL, str(corpus)])
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "8", "--resume", "-o", str(out),
                    "--d-model", "32", str(corpus)]) == 1
    assert "d_model" in capsys.readouterr().err


def test_gpt_train_reports_progress_line_by_line(tmp_path):
    write_corpus(tmp_path, word_text(KING, n_lines=150, per_line=7), vocab_size=280)
    run = run_lm("gpt", "train", "--tokenizer", "tok.fasttok", "-o", "gpt.npz", "--steps", "4", *TINY,
                 "--eval-every", "2", "train.txt", cwd=tmp_path)
    lines = run.stderr.splitlines()
    assert [line.split(" |")[0] for line in lines if line.startswith("train step")] == ["train step      4/4"]
    assert [line.split(" |")[0] for line in lines if line.startswith("eval  step")] == [
        "eval  step      2", "eval  step      4"]
    assert lines[-1].startswith("wrote gpt.npz (") and lines[-1].endswith(" s in all)")


# ----------------------------------------------------------------------------- training options

RAIN = "rain falls on the green hills while the river runs to the sea".split()


@pytest.fixture(scope="module")
def rain(tmp_path_factory):
    d = tmp_path_factory.mktemp("options")
    text = word_text(RAIN, n_lines=150, per_line=7)
    write_corpus(d, text, vocab_size=280)
    return d, text


def _train(d, name, *extra, steps=4):
    out = d / name
    assert lm_main(["gpt", "train", "--tokenizer", str(d / "tok.fasttok"), "-o", str(out), "--steps", str(steps),
                    *TINY, *extra, str(d / "train.txt")]) == 0
    return out, ckpt.read_meta(out)["history"]


def test_eval_iters_estimates_on_seeded_random_batches(rain, capsys):
    d, text = rain
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


def test_eval_iters_is_checked(rain, capsys):
    d, _ = rain
    common = ["--tokenizer", str(d / "tok.fasttok"), "-o", str(d / "x.npz"), *TINY, str(d / "train.txt")]
    assert lm_main(["gpt", "train", "--eval-iters", "-1", *common]) == 2
    assert "--eval-iters" in capsys.readouterr().err
    # masked LM has no whole-validation-set evaluation: 0 is refused
    assert lm_main(["bert", "train", "--eval-iters", "0", *common]) == 2
    assert "--eval-iters must be >= 1" in capsys.readouterr().err


def test_default_warmup_is_at_most_a_tenth_of_the_steps(rain, capsys):
    d, _ = rain
    lr = 1e-3
    _, hist = _train(d, "w20.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", steps=20)
    assert hist["lr"][:3] == pytest.approx([lr / 2, lr, lr])  # 2 warm-up steps, not 19
    _, hist = _train(d, "w5.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", steps=5)
    assert hist["lr"] == pytest.approx([lr] * 5)  # 5 // 10 = 0: no warm-up
    _, hist = _train(d, "w3.npz", "--schedule", "constant", "--lr", str(lr), "--eval-every", "0", "--warmup", "3",
                     steps=5)
    assert hist["lr"][:4] == pytest.approx([lr / 3, 2 * lr / 3, lr, lr])  # an explicit --warmup is kept
    capsys.readouterr()


# ----------------------------------------------------------------------------- checkpoints embed their tokenizer

def _sample_and_eval(capsys, checkpoint, corpus, *extra):
    assert lm_main(["gpt", "sample", str(checkpoint), "--prompt", "the moon", "-n", "6", "--seed", "3", *extra]) == 0
    sample = capsys.readouterr().out
    assert lm_main(["gpt", "eval", str(checkpoint), str(corpus), *extra]) == 0
    return sample, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece vocab.txt"])
def test_a_moved_checkpoint_samples_and_evaluates_without_its_tokenizer_file(tmp_path, capsys, kind):
    text = word_text(MOON, n_lines=80, per_line=7)
    src = tmp_path / "src"
    src.mkdir()
    corpus = tmp_path / "train.txt"
    corpus.write_text(text, encoding="utf-8")
    if kind == "bpe":
        tok_path = src / "tok.fasttok"
        fasttok.train_bpe([text], vocab_size=280).save(str(tok_path))
    else:  # fasttok.load reads a .txt as a vocab.txt: the embedded copy must keep the name
        tok_path = src / "vocab.txt"
        fasttok.train_wordpiece([text], vocab_size=60, min_frequency=1).save(str(tok_path), format="vocab.txt")
    out = src / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY_RUN, str(corpus)]) == 0
    capsys.readouterr()
    before = _sample_and_eval(capsys, out, corpus)

    meta = ckpt.read_meta(out)
    data = tok_path.read_bytes()
    assert meta["tokenizer"] == {"name": tok_path.name, "sha256": hashlib.sha256(data).hexdigest()}
    with np.load(out) as npz:
        assert npz["tokenizer"].dtype == np.uint8 and npz["tokenizer"].tobytes() == data

    moved = tmp_path / "elsewhere" / "gpt.npz"
    moved.parent.mkdir()
    shutil.move(out, moved)
    shutil.rmtree(src)  # the tokenizer file and its directory are gone
    assert _sample_and_eval(capsys, moved, corpus) == before


def _train_with_bpe(tmp_path):
    """A tiny GPT trained through the CLI on a fresh BPE tokenizer: (tokenizer, checkpoint, corpus) paths."""
    corpus, tok_path = write_corpus(tmp_path, word_text(MOON, n_lines=80, per_line=7), vocab_size=280)
    out = tmp_path / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "-o", str(out), *TINY_RUN, str(corpus)]) == 0
    return tok_path, out, corpus


def test_tokenizer_override_must_be_the_embedded_file(tmp_path, capsys):
    tok_path, out, corpus = _train_with_bpe(tmp_path)
    other = tmp_path / "other.fasttok"
    fasttok.train_bpe([corpus.read_text(encoding="utf-8")], vocab_size=281).save(str(other))
    capsys.readouterr()
    before = _sample_and_eval(capsys, out, corpus)
    copy = tmp_path / "copy" / "renamed.fasttok"
    copy.parent.mkdir()
    shutil.copy(tok_path, copy)
    assert _sample_and_eval(capsys, out, corpus, "--tokenizer", str(copy)) == before  # the same bytes: fine
    assert lm_main(["gpt", "eval", str(out), str(corpus), "--tokenizer", str(other)]) == 1
    err = capsys.readouterr().err
    assert "other.fasttok" in err and "tok.fasttok" in err and "not the tokenizer" in err
    assert len(err.strip().splitlines()) == 1


def test_a_damaged_embedded_tokenizer_is_reported(tmp_path, capsys):
    tok_path, out, corpus = _train_with_bpe(tmp_path)
    with np.load(out) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["tokenizer"] = arrays["tokenizer"].copy()
    arrays["tokenizer"][-2] ^= 1
    np.savez(out, **arrays)
    capsys.readouterr()
    assert lm_main(["gpt", "sample", str(out), "--prompt", "the"]) == 1
    assert "damaged" in capsys.readouterr().err


def test_a_checkpoint_without_an_embedded_tokenizer_still_uses_its_recorded_path(tmp_path, capsys):
    tok_path, out, corpus = _train_with_bpe(tmp_path)
    model, meta = ckpt.load(out)
    old = tmp_path / "old.npz"
    ckpt.save(old, model, extra={"tokenizer": str(tok_path)})  # the layout before tokenizers were embedded
    capsys.readouterr()
    assert _sample_and_eval(capsys, old, corpus) == _sample_and_eval(capsys, out, corpus)
    tok_path.unlink()
    assert lm_main(["gpt", "sample", str(old), "--prompt", "the"]) == 1
    assert "cannot load tokenizer" in capsys.readouterr().err


# ----------------------------------------------------------------------------- label smoothing

def test_gpt_eval_and_train_report_the_true_perplexity(tmp_path, capsys):
    """Label smoothing is a training regulariser: `eval` and the validation figure of `train` use ε = 0."""
    text = word_text("a bird sings while the old king sleeps in his tower".split(), n_lines=120, per_line=7)
    corpus, tok_path = write_corpus(tmp_path, text, vocab_size=280)
    out = tmp_path / "gpt.npz"
    assert lm_main(["gpt", "train", "--tokenizer", str(tok_path), "--steps", "3", "-o", str(out),
                    "--block-size", "8", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--d-model", "16",
                    "--label-smoothing", "0.2", "--eval-every", "3", str(corpus)]) == 0
    trained = last_json(capsys)
    assert lm_main(["gpt", "eval", str(out), str(corpus)]) == 0
    reported = json.loads(capsys.readouterr().out)

    model, _ = ckpt.load(out)
    assert model.config.label_smoothing == 0.2
    plain = GPT(dataclasses.replace(model.config, label_smoothing=0.0), rng=np.random.default_rng(0))
    plain.load_state_dict(model.state_dict())
    ids = encode_corpus(text, fasttok.load(str(tok_path)))
    true_loss = evaluate(plain, causal_eval_batches(ids, batch_size=32, block_size=8))
    assert reported["loss"] == round(true_loss, 4)
    assert reported["ppl"] == round(math.exp(true_loss), 3)
    # the validation figure of `train` is unsmoothed too
    val = ids[len(ids) - int(round(len(ids) * 0.1)):]
    assert trained["val_loss"] == round(evaluate(plain, causal_eval_batches(val, batch_size=4, block_size=8)), 4)
