"""The command line: train, encode, decode, demo — through the real entry points."""
import subprocess
import sys

import fasttok
from fasttok.cli import main
from tests.texts import docs_text


def test_train_encode_decode_round_trip(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(docs_text()[:50_000])
    out = tmp_path / "tok.fasttok"
    assert main(["train", "--vocab-size", "400", "--special-token", "<|endoftext|>", "-o", str(out), str(corpus)]) == 0
    tok = fasttok.load(out)
    assert tok.vocab_size == 400 and tok.special_tokens == {"<|endoftext|>": 399}
    assert "training:" in capsys.readouterr().err  # progress on stderr

    lines = ["First Citizen:", "Before we proceed any further, hear me speak.", "", "<|endoftext|> ünï"]
    text_in = tmp_path / "in.txt"
    text_in.write_text("\n".join(lines) + "\n")
    assert main(["encode", "--lines", "-t", str(out), str(text_in)]) == 0
    encoded = capsys.readouterr().out
    assert encoded.splitlines() == [" ".join(map(str, tok.encode(l, allowed_special="all"))) for l in lines]

    ids_in = tmp_path / "ids.txt"
    ids_in.write_text(encoded)
    assert main(["decode", "--lines", "-t", str(out), str(ids_in)]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["encode", "-t", str(tmp_path / "missing.fasttok")]) == 1
    assert "cannot read tokenizer file" in capsys.readouterr().err
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    assert main(["train", "--vocab-size", "300", "-q", "-o", str(tmp_path / "t"), str(bad)]) == 1
    assert "empty" in capsys.readouterr().err


def test_python_dash_m_demo_runs_on_the_bundled_corpus():
    # The README quick start's main job, as a user runs it.
    result = subprocess.run([sys.executable, "-m", "fasttok", "demo", "--vocab-size", "1000"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "vocab size: 1000" in result.stdout and "bytes per token:" in result.stdout


def test_train_wordpiece_from_the_cli(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(docs_text()[:60_000])
    encoded = []
    for fmt, name in (("native", "wp.fasttok"), ("hf", "tokenizer.json"), ("vocab.txt", "vocab.txt")):
        out = tmp_path / name
        assert main(["train", "--model", "wordpiece", "--vocab-size", "500", "--score", "likelihood", "-q",
                     "--format", fmt, "-o", str(out), str(corpus)]) == 0
        tok = fasttok.load(out)
        assert tok.vocab_size == 500
        encoded.append(tok.encode("First Citizen: speak, speak. [SEP]"))
    assert encoded[0] == encoded[1] == encoded[2]  # the same training run, read back from three formats
    assert encoded[0][-1] == tok.token_to_id("[SEP]")
    assert main(["encode", "--lines", "-t", str(tmp_path / "vocab.txt"), str(corpus)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(corpus.read_text().splitlines())
