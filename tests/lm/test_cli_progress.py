"""lm's command lines print progress through fasttok's Progress: one plain line per update when stderr is
not a terminal (no carriage returns in a log), an open terminal line ended before any warning, and n-gram
training, ARPA writing and evaluation report as they go."""
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydoc_data.topics import topics

import fasttok
from lm import cli_ngram
from lm.ngram import model as ngram_model
from lm.ngram import train_ngram

ROOT = Path(__file__).resolve().parents[2]


def _run(*argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "lm", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr  # stderr is a pipe here: one line per update
    return run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("progress")
    text = "\n".join(topics[key] for key in sorted(topics)[:30])
    (d / "train.txt").write_text(text, encoding="utf-8")
    fasttok.train_bpe([text], vocab_size=300).save(str(d / "tok.fasttok"))
    return d


def test_ngram_train_and_eval_report_progress_line_by_line(corpus):
    train = _run("ngram", "train", "--order", "3", "--tokenizer", "tok.fasttok", "-o", "m.arpa", "train.txt",
                 cwd=corpus)
    lines = train.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines if line.startswith("training:")] == [
        f"training: {k}/4 steps" for k in (1, 2, 3, 4)]
    assert [line.split(" (")[0] for line in lines if line.startswith("writing m.arpa:")] == [
        f"writing m.arpa: {k}/3 orders" for k in (1, 2, 3)]
    assert any(line.startswith("encoding train.txt:") for line in lines)
    assert lines[-1].startswith("wrote m.arpa (") and lines[-1].endswith(" s in all)")
    ev = _run("ngram", "eval", "--tokenizer", "tok.fasttok", "m.arpa", "train.txt", cwd=corpus)
    assert any(line.startswith("evaluating:") and "sentences (100.0%" in line for line in ev.stderr.splitlines())
    assert "perplexity\t" in ev.stdout


def test_gpt_train_reports_progress_line_by_line(corpus):
    run = _run("gpt", "train", "--tokenizer", "tok.fasttok", "-o", "gpt.npz", "--steps", "4", "--block-size", "8",
               "--batch-size", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "8", "--eval-every", "2",
               "train.txt", cwd=corpus)
    lines = run.stderr.splitlines()
    assert [line.split(" |")[0] for line in lines if line.startswith("train step")] == ["train step      4/4"]
    assert [line.split(" |")[0] for line in lines if line.startswith("eval  step")] == [
        "eval  step      2", "eval  step      4"]
    assert lines[-1].startswith("wrote gpt.npz (") and lines[-1].endswith(" s in all)")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_oov_warning_starts_its_own_line(corpus, monkeypatch, capsys):
    model_path = corpus / "ids.npz"
    train_ngram([[str(i) for i in range(50)]], order=2).save(model_path)  # a vocabulary the text misses
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli_ngram.main(["eval", str(model_path), str(corpus / "train.txt")]) == 0
    err = terminal.getvalue()
    assert "\r" in err  # progress lines are rewritten in place on a terminal ...
    warnings = [line for line in err.split("\n") if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith("lm ngram eval: warning: ")  # ... and ended first


def test_library_progress_callbacks(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    sentences = [list(rng.choice(list("abcdefg"), rng.integers(1, 6))) for _ in range(50)]
    calls = []
    model = train_ngram(sentences, order=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    model.to_arpa(tmp_path / "m.arpa", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    whole = model.evaluate(sentences)
    monkeypatch.setattr(ngram_model, "EVAL_CHUNK", 7)  # evaluation runs chunk by chunk
    calls.clear()
    chunked = model.evaluate(sentences, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(d, 50) for d in (7, 14, 21, 28, 35, 42, 49, 50)]
    assert (chunked.n_sentences, chunked.n_tokens, chunked.n_oov) == (whole.n_sentences, whole.n_tokens, whole.n_oov)
    assert chunked.log10_prob == pytest.approx(whole.log10_prob, rel=1e-12)
