"""`lm ngram train|eval`: models in every format, the tokenizer option, errors, progress lines, and what made
a model: a .npz model records its tokenizer (name and SHA-256) and preprocessing, and eval refuses a missing
or different tokenizer; a high OOV rate (the only sign left with an ARPA model) is warned about."""
import hashlib
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
from pydoc_data.topics import topics

import fasttok
from lm import tokenizer_file
from lm.cli import main as lm_main
from lm.ngram import NgramModel, train_ngram
from lm.ngram import model as ngram_model

from .cli_support import ROOT, fails_naming, run_lm


def main(argv):
    """`lm ngram *argv`."""
    return lm_main(["ngram", *argv])

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
    assert main(["train", "--order", "2", "--smoothing", "witten_bell", "-o", model_path,
                 str(files / "train.txt")]) == 0
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
    run = subprocess.run(
        [sys.executable, "-m", "lm", "ngram", "train", "--order", "3", "-o", str(out), str(files / "train.txt")],
        cwd=ROOT, capture_output=True, text=True,
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
    assert main(["train", "--smoothing", "nope", "-o", "x.arpa", str(files / "train.txt")]) == 2  # a usage error
    assert "--smoothing" in capsys.readouterr().err
    assert main(["train", "--order", "0", "-o", "x.arpa", str(files / "train.txt")]) == 2
    assert "argument --order: must be >= 1, got 0" in capsys.readouterr().err


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


# ----------------------------------------------------------------------------- what made a model

@pytest.fixture(scope="module")
def topics_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("provenance")
    lines = [line.strip() for key in sorted(topics)[:40] for line in topics[key].splitlines() if line.strip()]
    (d / "train.txt").write_text("\n".join(lines[:-60]) + "\n", encoding="utf-8")
    (d / "test.txt").write_text("\n".join(lines[-60:]) + "\n", encoding="utf-8")
    text = "\n".join(lines)
    fasttok.train_bpe([text], vocab_size=400).save(str(d / "tok.fasttok"))
    fasttok.train_bpe([text], vocab_size=350).save(str(d / "other.fasttok"))
    return d


def _one_line_error(capsys, argv, *words):
    fails_naming(capsys, ["ngram", *argv], *words)


def test_npz_records_the_tokenizer_and_preprocessing(topics_files, capsys):
    model_path = topics_files / "ids.npz"
    assert main(["train", "--order", "2", "--tokenizer", str(topics_files / "tok.fasttok"), "-o", str(model_path),
                 str(topics_files / "train.txt")]) == 0
    meta = NgramModel.load(model_path).metadata
    assert meta["tokenizer"] == {"name": "tok.fasttok",
                                 "sha256": hashlib.sha256((topics_files / "tok.fasttok").read_bytes()).hexdigest()}
    assert meta["preprocessing"] == {"tokens": "tokenizer ids", "lowercase": False}
    NgramModel.load(model_path).to_arpa(topics_files / "ids_copy.arpa")
    assert NgramModel.from_arpa(topics_files / "ids_copy.arpa").metadata == {}  # ARPA has no place for the record


def test_eval_refuses_a_missing_or_different_tokenizer(topics_files, capsys, tmp_path):
    model_path = tmp_path / "ids.npz"
    tok = topics_files / "tok.fasttok"
    assert main(["train", "--order", "2", "--tokenizer", str(tok), "-o", str(model_path),
                 str(topics_files / "train.txt")]) == 0
    capsys.readouterr()
    test = str(topics_files / "test.txt")
    _one_line_error(capsys, ["eval", str(model_path), test], "tok.fasttok", "--tokenizer")
    _one_line_error(capsys, ["eval", "--tokenizer", str(topics_files / "other.fasttok"), str(model_path), test],
                    "other.fasttok", "tok.fasttok", "not the tokenizer")
    # the same bytes under another name and place are the same tokenizer
    copy = tmp_path / "moved.fasttok"
    shutil.copy(tok, copy)
    assert main(["eval", "--tokenizer", str(copy), str(model_path), test]) == 0
    out = capsys.readouterr()
    assert "warning" not in out.err
    model = NgramModel.load(model_path)
    tokenizer = fasttok.load(str(tok))
    sentences = [[str(i) for i in tokenizer.encode(line.strip())] for line in open(test, encoding="utf-8")
                 if line.strip()]
    assert float(_parse(out.out)["perplexity"]) == pytest.approx(model.perplexity(sentences), rel=1e-6)


def test_a_word_model_refuses_a_tokenizer(topics_files, capsys, tmp_path):
    model_path = tmp_path / "words.npz"
    assert main(["train", "--order", "2", "-o", str(model_path), str(topics_files / "train.txt")]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["eval", "--tokenizer", str(topics_files / "tok.fasttok"), str(model_path),
                             str(topics_files / "test.txt")], "words", "drop --tokenizer")


def test_recorded_lowercasing_is_applied_at_eval(topics_files, capsys, tmp_path):
    model_path = tmp_path / "lower.npz"
    assert main(["train", "--order", "2", "--lowercase", "-o", str(model_path), str(topics_files / "train.txt")]) == 0
    upper = tmp_path / "upper.txt"
    upper.write_text((topics_files / "test.txt").read_text(encoding="utf-8").upper(), encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", str(model_path), str(upper)]) == 0
    shouted = _parse(capsys.readouterr().out)
    assert main(["eval", str(model_path), str(topics_files / "test.txt")]) == 0
    assert _parse(capsys.readouterr().out) == shouted
    words_model = tmp_path / "cased.npz"
    assert main(["train", "--order", "2", "-o", str(words_model), str(topics_files / "train.txt")]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["eval", "--lowercase", str(words_model), str(upper)], "not lowercased")


def test_a_high_oov_rate_is_warned_about(topics_files, capsys, tmp_path):
    # an ARPA file carries no record: a model of tokenizer ids evaluated on words cannot be refused ...
    model_path = tmp_path / "ids.arpa"
    assert main(["train", "--order", "2", "--tokenizer", str(topics_files / "tok.fasttok"), "-o", str(model_path),
                 str(topics_files / "train.txt")]) == 0
    capsys.readouterr()
    assert main(["eval", str(model_path), str(topics_files / "test.txt")]) == 0
    out = capsys.readouterr()
    report = _parse(out.out)
    rate = int(report["oov"]) / (int(report["tokens"]) - int(report["sentences"]))
    assert rate > 0.9
    # ... but it is warned about, on one line of stderr
    warning = [line for line in out.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and f"{rate:.1%}" in warning[0] and "10%" in warning[0]
    # and with the right tokenizer the rate is low and there is no warning
    assert main(["eval", "--tokenizer", str(topics_files / "tok.fasttok"), str(model_path),
                 str(topics_files / "test.txt")]) == 0
    assert "warning" not in capsys.readouterr().err


# ----------------------------------------------------------------------------- progress

def test_ngram_train_and_eval_report_progress_line_by_line(topics_files):
    train = run_lm("ngram", "train", "--order", "3", "--tokenizer", "tok.fasttok", "-o", "m.arpa", "train.txt",
                   cwd=topics_files)
    lines = train.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines if line.startswith("training:")] == [
        f"training: {k}/4 steps" for k in (1, 2, 3, 4)]
    assert [line.split(" (")[0] for line in lines if line.startswith("writing m.arpa:")] == [
        f"writing m.arpa: {k}/3 orders" for k in (1, 2, 3)]
    assert any(line.startswith("encoding train.txt:") for line in lines)
    assert lines[-1].startswith("wrote m.arpa (") and lines[-1].endswith(" s in all)")
    ev = run_lm("ngram", "eval", "--tokenizer", "tok.fasttok", "m.arpa", "train.txt", cwd=topics_files)
    assert any(line.startswith("evaluating:") and "sentences (100.0%" in line for line in ev.stderr.splitlines())
    assert "perplexity\t" in ev.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_oov_warning_starts_its_own_line(topics_files, monkeypatch, tmp_path):
    model_path = tmp_path / "ids.npz"
    train_ngram([[str(i) for i in range(50)]], order=2).save(model_path)  # a vocabulary the text misses
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["eval", str(model_path), str(topics_files / "train.txt")]) == 0
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


def test_ngram_none_context_is_the_empty_context():
    m = train_ngram([["a", "b", "c"], ["b", "c", "a"], ["c"]], order=3)
    assert m.generate(20, context=None, rng=np.random.default_rng(5)) == m.generate(20, rng=np.random.default_rng(5))
    assert m.logprob("a", None) == m.logprob("a")
    np.testing.assert_array_equal(m.next_distribution(None), m.next_distribution())


def test_stdin_and_per_sentence(files, capsys, monkeypatch):
    """`train -` and `eval -` read standard input (lmplz reads its corpus so); --per-sentence prints one line
    per non-empty input line (log10 p, tokens with </s>, OOVs) before the totals, equal to the library's."""
    model_path = str(files / "m.arpa")
    monkeypatch.setattr(sys, "stdin", io.StringIO(TRAIN))
    assert main(["train", "--order", "2", "-o", model_path, "-"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST))
    assert main(["eval", "--per-sentence", model_path, "-"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    test = [line.split() for line in TEST.split("\n") if line]
    model = NgramModel.from_arpa(model_path)
    per_sentence = [line.split("\t") for line in lines[:len(test)]]
    for (score, tokens, oov), words in zip(per_sentence, test):
        assert float(score) == pytest.approx(model.score(words), abs=1e-6)
        assert int(tokens) == len(words) + 1
        assert int(oov) == sum(o for _, _, o in model.full_scores(words))
    assert [int(oov) for _, _, oov in per_sentence] == [0, 1]
    report = _parse("\n".join(lines[len(test):]))
    assert int(report["sentences"]) == 2
    assert float(report["log10_prob"]) == pytest.approx(sum(float(s) for s, _, _ in per_sentence), abs=1e-5)


def test_discount_option(files, capsys):
    model_path = files / "m.npz"
    assert main(["train", "--order", "2", "--smoothing", "absolute", "--discount", "0.6", "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    expected = train_ngram([line.split() for line in TRAIN.split("\n") if line], order=2, smoothing="absolute",
                           discount=0.6)
    assert NgramModel.load(model_path).discounts == expected.discounts == ((0.6,) * 3,) * 2
    capsys.readouterr()
    fails_naming(capsys, ["ngram", "train", "--discount", "1.5", "-o", str(model_path), str(files / "train.txt")],
                 "discount", status=2)


def test_vocabulary_options(files, capsys):
    (files / "vocab.txt").write_text("the cat\nzebra\n")
    model_path = files / "m.npz"
    assert main(["train", "--order", "2", "--vocabulary", str(files / "vocab.txt"), "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    assert NgramModel.load(model_path).vocab == ("<unk>", "<s>", "</s>", "the", "cat", "zebra")
    assert main(["train", "--order", "2", "--max-vocab-size", "1", "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    assert NgramModel.load(model_path).vocab == ("<unk>", "<s>", "</s>", "the")
    capsys.readouterr()
    fails_naming(capsys, ["ngram", "train", "--max-vocab-size", "-1", "-o", str(model_path),
                          str(files / "train.txt")], "max-vocab-size", status=2)


def test_prune_option(files, capsys):
    model_path = files / "m.npz"
    assert main(["train", "--order", "3", "--prune", "0", "1", "-o", str(model_path), str(files / "train.txt")]) == 0
    expected = train_ngram([line.split() for line in TRAIN.split("\n") if line], order=3, prune=(0, 1))
    assert NgramModel.load(model_path).counts == expected.counts
    capsys.readouterr()
    fails_naming(capsys, ["ngram", "train", "--prune", "1", "-o", str(model_path), str(files / "train.txt")],
                 "prune", status=2)
