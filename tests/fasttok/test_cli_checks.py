"""`fasttok train` checks everything it can before training: no input files, options that do not fit
the model, the output path, the input files. A mistake is reported before any work, and no output
file appears. Options it takes (--unk-token for character-level BPE) are used, never ignored."""
import os

import pytest
from pydoc_data.topics import topics

import fasttok
from fasttok.cli import main

TEXT = "".join(topics[k] for k in sorted(topics))[:30_000]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def trained(monkeypatch):
    """Records every training call instead of training: a check that comes first leaves it empty."""
    calls = []
    monkeypatch.setattr(fasttok, "train_bpe", lambda *a, **k: calls.append("bpe"))
    monkeypatch.setattr(fasttok, "train_wordpiece", lambda *a, **k: calls.append("wordpiece"))
    return calls


def fails_before_training(argv, trained, capsys, output, message):
    try:
        code = main(argv)
    except SystemExit as e:  # a usage error: argparse's exit status 2
        code = e.code
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err, err
    assert trained == []
    assert not output.exists() or output.is_dir()
    return err


def test_no_input_files(tmp_path, trained, capsys):
    out = tmp_path / "tok"
    err = fails_before_training(["train", "--vocab-size", "300", "-o", str(out)], trained, capsys, out,
                                "no input files")
    assert "fasttok demo" in err  # the bundled corpus is the demo's, and the message says where it went


@pytest.mark.parametrize("input_name, message", [("missing.txt", "missing.txt': No such file or directory"),
                                                 (".", "it is a directory")])
def test_bad_input_files(tmp_path, corpus, trained, capsys, input_name, message):
    out = tmp_path / "tok"
    bad = str(tmp_path / input_name)
    # the bad file comes last: it must be found before the good one is read
    fails_before_training(["train", "--vocab-size", "300", "-o", str(out), str(corpus), bad], trained, capsys,
                          out, message)


def test_unreadable_input_file(tmp_path, corpus, trained, capsys, monkeypatch):
    corpus.chmod(0)
    # root reads any file whatever its mode, so the permission check is also made to say no for this path
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: os.fspath(p) != str(corpus) and real_access(p, mode, **kw))
    out = tmp_path / "tok"
    fails_before_training(["train", "--vocab-size", "300", "-o", str(out), str(corpus)], trained, capsys, out,
                          "permission denied")


@pytest.mark.parametrize("where, message", [("no/such/dir/tok", "the directory does not exist"),
                                            (".", "it is a directory")])
def test_bad_output_path(tmp_path, corpus, trained, capsys, where, message):
    out = tmp_path / where
    fails_before_training(["train", "--vocab-size", "300", "-o", str(out), str(corpus)], trained, capsys, out,
                          message)


def test_output_that_is_an_input(tmp_path, corpus, trained, capsys):
    fails_before_training(["train", "--vocab-size", "300", "-o", str(corpus), str(corpus)], trained, capsys,
                          tmp_path / "none", "also an input file")
    assert corpus.read_text(encoding="utf-8") == TEXT


@pytest.mark.parametrize("options, message", [
    (["--format", "vocab.txt"], "--format vocab.txt holds a WordPiece vocabulary"),
    (["--score", "pmi"], "--score is only for --model wordpiece"),
    (["--no-lowercase"], "--no-lowercase is only for --model wordpiece"),
    (["--strip-accents", "no"], "--strip-accents is only for --model wordpiece"),
    (["--unk-token", "<unk>"], "--unk-token is only for --model wordpiece or --char-level BPE"),
    (["--continuing-subword-prefix", "##"], "--continuing-subword-prefix is only for"),
    (["--model", "wordpiece", "--pattern", "gpt4"], "--pattern is only for --model bpe"),
    (["--model", "wordpiece", "--char-level"], "--char-level is only for --model bpe"),
])
def test_options_that_do_not_fit_the_model(tmp_path, corpus, trained, capsys, options, message):
    out = tmp_path / "tok"
    fails_before_training(["train", "--vocab-size", "300", *options, "-o", str(out), str(corpus)], trained,
                          capsys, out, message)


def test_bad_values_are_caught_before_counting(tmp_path, corpus, capsys):
    # The real trainers check their options before reading the corpus; nothing is written.
    out = tmp_path / "tok"
    for options, message in ([["--threads", "0"], "num_threads must be at least 1"],
                             [["--pattern", "gtp2"], "unknown pattern name 'gtp2'"],
                             [["--model", "wordpiece", "--min-frequency", "0"], "min_frequency must be at least 1"]):
        assert main(["train", "--vocab-size", "300", *options, "-q", "-o", str(out), str(corpus)]) == 1
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_unk_token_is_used_by_character_level_bpe(tmp_path, corpus, capsys):
    out = tmp_path / "tok"
    assert main(["train", "--char-level", "--unk-token", "<unk>", "--vocab-size", "300", "-q", "-o", str(out),
                 str(corpus)]) == 0
    tok = fasttok.load(out)
    assert tok.unk_token == "<unk>" and "<unk>" in tok.special_tokens
    assert tok.encode("\u2603")[-1] == tok.token_to_id("<unk>")  # a snowman is not in the corpus
    assert main(["train", "--char-level", "--continuing-subword-prefix", "##", "--vocab-size", "300", "-q",
                 "-o", str(out), str(corpus)]) == 0
    assert fasttok.load(out).continuing_subword_prefix == "##"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_a_readable_input(tmp_path, capsys):
    # `fasttok train <(zcat corpus.gz)` hands over a pipe: it passes the checks and can be read once.
    import threading
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # daemon: should training never open the pipe, the blocked writer must not keep pytest alive
    writer = threading.Thread(target=lambda: fifo.write_text(TEXT, encoding="utf-8"), daemon=True)
    writer.start()
    out = tmp_path / "tok"
    assert main(["train", "--vocab-size", "300", "-q", "-o", str(out), str(fifo)]) == 0
    writer.join(timeout=10)
    assert fasttok.load(out) == fasttok.train_bpe([TEXT], vocab_size=300)


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_cli_threads_and_its_old_spelling(model, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("low lower lowest newer wider new news\n" * 100, encoding="utf-8")
    size = "270" if model == "bpe" else "40"
    common = ["train", "--model", model, "--vocab-size", size, "--min-frequency", "1", "-q", str(corpus)]
    assert main([*common, "--threads", "2", "-o", str(tmp_path / "a")]) == 0
    assert main([*common, "--workers", "2", "-o", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
