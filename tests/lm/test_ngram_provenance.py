"""`lm ngram eval` reads the test text the way the model's own was read: a .npz model records its tokenizer
(name and SHA-256) and preprocessing, and eval refuses a missing or different tokenizer; a high OOV rate
(the only sign left with an ARPA model) is warned about."""
import hashlib
import shutil

import pytest
from pydoc_data.topics import topics

import fasttok
from lm.cli_ngram import main
from lm.ngram import NgramModel


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("provenance")
    lines = [line.strip() for key in sorted(topics)[:40] for line in topics[key].splitlines() if line.strip()]
    (d / "train.txt").write_text("\n".join(lines[:-60]) + "\n", encoding="utf-8")
    (d / "test.txt").write_text("\n".join(lines[-60:]) + "\n", encoding="utf-8")
    text = "\n".join(lines)
    fasttok.train_bpe([text], vocab_size=400).save(str(d / "tok.fasttok"))
    fasttok.train_bpe([text], vocab_size=350).save(str(d / "other.fasttok"))
    return d


def _report(out):
    return dict(line.split("\t") for line in out.strip().splitlines())


def _one_line_error(capsys, argv, *words):
    assert main(argv) == 1, argv
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def test_npz_records_the_tokenizer_and_preprocessing(files, capsys):
    model_path = files / "ids.npz"
    assert main(["train", "--order", "2", "--tokenizer", str(files / "tok.fasttok"), "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    meta = NgramModel.load(model_path).metadata
    assert meta["tokenizer"] == {"name": "tok.fasttok",
                                 "sha256": hashlib.sha256((files / "tok.fasttok").read_bytes()).hexdigest()}
    assert meta["preprocessing"] == {"tokens": "tokenizer ids", "lowercase": False}
    NgramModel.load(model_path).to_arpa(files / "ids_copy.arpa")
    assert NgramModel.from_arpa(files / "ids_copy.arpa").metadata == {}  # ARPA has no place for the record


def test_eval_refuses_a_missing_or_different_tokenizer(files, capsys, tmp_path):
    model_path = tmp_path / "ids.npz"
    tok = files / "tok.fasttok"
    assert main(["train", "--order", "2", "--tokenizer", str(tok), "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    capsys.readouterr()
    test = str(files / "test.txt")
    _one_line_error(capsys, ["eval", str(model_path), test], "tok.fasttok", "--tokenizer")
    _one_line_error(capsys, ["eval", "--tokenizer", str(files / "other.fasttok"), str(model_path), test],
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
    assert float(_report(out.out)["perplexity"]) == pytest.approx(model.perplexity(sentences), rel=1e-6)


def test_a_word_model_refuses_a_tokenizer(files, capsys, tmp_path):
    model_path = tmp_path / "words.npz"
    assert main(["train", "--order", "2", "-o", str(model_path), str(files / "train.txt")]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["eval", "--tokenizer", str(files / "tok.fasttok"), str(model_path),
                             str(files / "test.txt")], "words", "drop --tokenizer")


def test_recorded_lowercasing_is_applied_at_eval(files, capsys, tmp_path):
    model_path = tmp_path / "lower.npz"
    assert main(["train", "--order", "2", "--lowercase", "-o", str(model_path), str(files / "train.txt")]) == 0
    upper = tmp_path / "upper.txt"
    upper.write_text((files / "test.txt").read_text(encoding="utf-8").upper(), encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", str(model_path), str(upper)]) == 0
    shouted = _report(capsys.readouterr().out)
    assert main(["eval", str(model_path), str(files / "test.txt")]) == 0
    assert _report(capsys.readouterr().out) == shouted
    words_model = tmp_path / "cased.npz"
    assert main(["train", "--order", "2", "-o", str(words_model), str(files / "train.txt")]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["eval", "--lowercase", str(words_model), str(upper)], "not lowercased")


def test_a_high_oov_rate_is_warned_about(files, capsys, tmp_path):
    # an ARPA file carries no record: a model of tokenizer ids evaluated on words cannot be refused ...
    model_path = tmp_path / "ids.arpa"
    assert main(["train", "--order", "2", "--tokenizer", str(files / "tok.fasttok"), "-o", str(model_path),
                 str(files / "train.txt")]) == 0
    capsys.readouterr()
    assert main(["eval", str(model_path), str(files / "test.txt")]) == 0
    out = capsys.readouterr()
    report = _report(out.out)
    rate = int(report["oov"]) / (int(report["tokens"]) - int(report["sentences"]))
    assert rate > 0.9
    # ... but it is warned about, on one line of stderr
    warning = [line for line in out.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and f"{rate:.1%}" in warning[0] and "10%" in warning[0]
    # and with the right tokenizer the rate is low and there is no warning
    assert main(["eval", "--tokenizer", str(files / "tok.fasttok"), str(model_path), str(files / "test.txt")]) == 0
    assert "warning" not in capsys.readouterr().err
