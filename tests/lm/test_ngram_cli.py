"""`python -m lm ngram train|eval`."""
import subprocess
import sys
from pathlib import Path

import pytest

from lm import tokenizer_file
from lm.cli_ngram import main
from lm.ngram import NgramModel, train_ngram

TRAIN = "the cat sat on the mat\nthe dog sat\n\na cat ran on the mat\n"
TEST = "the cat ran\nthe bird sat\n"


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "train.txt").write_text(TRAIN)
    (tmp_path / "test.txt").write_text(TEST)
    return tmp_path


def _parse(out: str) -> dict:
    return dict(line.split("\t") for line in out.strip().split("\n"))


@pytest.mark.parametrize("name", ["m.arpa", "m.arpa.gz", "m.npz"])
def test_train_then_eval(files, capsys, name):
    model_path = str(files / name)
    assert main(["train", "--order", "2", "--smoothing", "witten_bell", "-o", model_path, str(files / "train.txt")]) == 0
    capsys.readouterr()
    assert main(["eval", model_path, str(files / "test.txt")]) == 0
    report = _parse(capsys.readouterr().out)
    expected = train_ngram([line.split() for line in TRAIN.split("\n") if line], order=2, smoothing="witten_bell")
    test = [line.split() for line in TEST.split("\n") if line]
    ev = expected.evaluate(test)
    assert int(report["tokens"]) == ev.n_tokens == 8
    assert int(report["oov"]) == ev.n_oov == 1
    assert float(report["perplexity"]) == pytest.approx(ev.perplexity, rel=1e-5)
    assert float(report["perplexity_excluding_oov"]) == pytest.approx(ev.perplexity_excluding_oov, rel=1e-5)


def test_python_dash_m_entry_point(files):
    out = files / "m.arpa"
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "lm", "ngram", "train", "--order", "3", "-o", str(out), str(files / "train.txt")],
        cwd=root, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "discounts order 1" in run.stderr
    assert NgramModel.from_arpa(out).order == 3


def test_errors_are_reported(files, capsys):
    (files / "empty.txt").write_text("\n\n")
    assert main(["train", "-o", str(files / "m.arpa"), str(files / "empty.txt")]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["eval", str(files / "missing.arpa"), str(files / "test.txt")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["train", "-o", str(files / "no" / "such" / "dir.arpa"), str(files / "train.txt")]) == 1
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--smoothing", "nope", "-o", "x.arpa", str(files / "train.txt")])


class _CharTokenizer:
    """Stands in for a fasttok Tokenizer (same encode contract): one id per character."""

    def __init__(self, path):
        self.path = path

    def encode(self, text):
        return [ord(c) for c in text]

    def encode_batch(self, texts):
        return [self.encode(text) for text in texts]


def test_tokenizer_option_models_ids(files, capsys, monkeypatch):
    monkeypatch.setattr(tokenizer_file.fasttok, "load", _CharTokenizer)
    (files / "tok.json").write_text("a stand-in: the CLI hashes its bytes into the model's record")
    model_path = str(files / "ids.arpa")
    argv = ["--tokenizer", str(files / "tok.json")]
    assert main(["train", "--order", "3", *argv, "-o", model_path, str(files / "train.txt")]) == 0
    assert main(["eval", *argv, model_path, str(files / "test.txt")]) == 0
    report = _parse(capsys.readouterr().out)
    lines = [line for line in TEST.split("\n") if line]
    assert int(report["tokens"]) == sum(len(line) + 1 for line in lines)
    assert int(report["oov"]) == 2  # the "b" and "i" of "bird" never occur in the training text
    model = NgramModel.from_arpa(model_path)
    assert set(model.vocab[3:]) == {str(ord(c)) for c in TRAIN if c != "\n"}


def test_tokenizer_option_with_fasttok(files, capsys):
    pytest.importorskip("fasttok.tokenizer")  # lands with the fasttok branch; CI has it after the merge
    import fasttok

    if not hasattr(fasttok, "load"):  # only in this branch before the merge: fasttok/__init__ is the skeleton
        pytest.skip("fasttok/__init__.py does not export load yet")
    tok_path = files / "tok.json"
    fasttok.train_bpe([line for line in TRAIN.split("\n") if line], vocab_size=270).save(tok_path)
    tokenizer = fasttok.load(tok_path)
    model_path = str(files / "ids.arpa")
    argv = ["--tokenizer", str(tok_path)]
    assert main(["train", "--order", "3", *argv, "-o", model_path, str(files / "train.txt")]) == 0
    assert main(["eval", *argv, model_path, str(files / "test.txt")]) == 0
    report = _parse(capsys.readouterr().out)
    test = [[str(i) for i in tokenizer.encode(line)] for line in TEST.split("\n") if line]
    assert int(report["tokens"]) == sum(len(s) + 1 for s in test)
    model = NgramModel.from_arpa(model_path)
    assert all(t.isdigit() for t in model.vocab[3:])
    assert float(report["perplexity"]) == pytest.approx(model.perplexity(test), rel=1e-5)
