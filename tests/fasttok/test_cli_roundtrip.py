"""`fasttok encode FILE | fasttok decode` gives FILE back byte for byte, and encode's ids are exactly
`tok.encode(contents, allowed_special="all")`, however the input is cut into blocks while streaming."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydoc_data.topics import topics

import fasttok
from fasttok import cli
from fasttok.cli import main

REPO = Path(fasttok.__file__).resolve().parents[1]
DOCS = "".join(topics[k] for k in sorted(topics))

# \r\n and lone \r, blank lines, runs of spaces, non-ASCII (accents, CJK, emoji), a special token glued
# to text and one at the very end of a line, punctuation before a newline, and no final newline.
TRICKY = ("Hello,\r\nworld!\r\n\r\n\n\nblank lines above;   spaced    out\tand tabbed\n"
          "non-ASCII: ünïcödé 中文字 👍🏽 ΟΔΟΣ\r<|endoftext|>next document's start\n"
          "end of a line <|endoftext|>\n!\nx y 12345 it's\u00a0nbsp\r\n<|endoftext|><|endoftext|>"
          "last line, no newline")


@pytest.fixture(scope="module")
def bpe(tmp_path_factory):
    tok = fasttok.train_bpe([DOCS[:200_000], TRICKY], vocab_size=700, special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp("tok") / "bpe.fasttok"
    tok.save(path)
    return tok, path


def run(argv, capsysbinary):
    assert main(argv) == 0
    out = capsysbinary.readouterr().out
    return out


def ids_text(ids):
    return (" ".join(map(str, ids)) + "\n").encode("ascii")


def test_encode_gives_the_ids_of_the_whole_file_and_decode_the_same_bytes(bpe, tmp_path, capsysbinary):
    tok, model = bpe
    src = tmp_path / "in.txt"
    src.write_bytes(TRICKY.encode("utf-8"))
    ids = tok.encode(TRICKY, allowed_special="all")
    assert tok.encode("\r\n") and set(tok.encode("\r\n")) <= set(ids)  # newline tokens are emitted
    encoded = run(["encode", "-t", str(model), str(src)], capsysbinary)
    assert encoded == ids_text(ids)  # one line of space-separated ids
    ids_file = tmp_path / "ids.txt"
    ids_file.write_bytes(encoded)
    assert run(["decode", "-t", str(model), str(ids_file)], capsysbinary) == src.read_bytes()


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"no newline", b"\xef\xbb\xbfBOM kept\r\n"])
def test_edge_files_round_trip(bpe, tmp_path, capsysbinary, content):
    tok, model = bpe
    src = tmp_path / "in.txt"
    src.write_bytes(content)
    encoded = run(["encode", "-t", str(model), str(src)], capsysbinary)
    assert encoded == ids_text(tok.encode(content.decode("utf-8"), allowed_special="all"))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_bytes(encoded)
    assert run(["decode", "-t", str(model), str(ids_file)], capsysbinary) == content


def tokenizers(tmp_path):
    """Byte-level BPE with each cut rule (and one without), WordPiece: (tok, path, exact round trip)."""
    out = []
    for name, tok in [
        ("gpt2", fasttok.train_bpe([DOCS[:60_000], TRICKY], vocab_size=500, special_tokens=["<|endoftext|>"])),
        ("gpt4", fasttok.train_bpe([DOCS[:60_000]], vocab_size=500, pattern="gpt4")),
        ("whitespace", fasttok.train_bpe([DOCS[:60_000]], vocab_size=500, pattern="whitespace")),
        ("regex", fasttok.train_bpe([DOCS[:60_000]], vocab_size=500, pattern=r"\S+|\s+")),
        ("wordpiece", fasttok.train_wordpiece([DOCS[:60_000]], vocab_size=500)),
    ]:
        path = tmp_path / f"{name}.tok"
        tok.save(path)
        out.append((name, tok, path))
    return out


@pytest.mark.parametrize("block_bytes", [7, 300])
def test_streamed_encoding_equals_encoding_the_whole_text(tmp_path, capsysbinary, monkeypatch, block_bytes):
    # Tiny blocks force thousands of cuts (and blocks with no safe cut at all, which must grow).
    monkeypatch.setattr(cli, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(cli, "_BLOCKS_PER_BATCH", 5)
    text = (DOCS[200_000:230_000] + TRICKY) * 2
    src = tmp_path / "in.txt"
    src.write_bytes(text.encode("utf-8"))
    for name, tok, model in tokenizers(tmp_path):
        trust = ["--trust-pattern"] if name == "regex" else []   # a custom regex from a file needs it
        encoded = run(["encode", "-t", str(model), *trust, str(src)], capsysbinary)
        assert encoded == ids_text(tok.encode(text, allowed_special="all")), name
        ids_file = tmp_path / "ids.txt"
        ids_file.write_bytes(encoded)
        decoded = run(["decode", "-t", str(model), *trust, str(ids_file)], capsysbinary)
        assert decoded == tok.decode(tok.encode(text, allowed_special="all")).encode("utf-8"), name
        if name in ("gpt2", "gpt4", "regex"):  # lossless; "whitespace" drops spaces, WordPiece lowercases
            assert decoded == text.encode("utf-8"), name


def test_stdin_to_stdout_through_real_pipes(bpe):
    # As a user runs it: bytes in on stdin, no newline translation anywhere.
    _, model = bpe
    env = dict(os.environ, PYTHONPATH=str(REPO))
    data = TRICKY.encode("utf-8")
    enc = subprocess.run([sys.executable, "-m", "fasttok", "encode", "-t", str(model)], input=data,
                         capture_output=True, env=env, timeout=120)
    assert enc.returncode == 0, enc.stderr
    dec = subprocess.run([sys.executable, "-m", "fasttok", "decode", "-t", str(model)], input=enc.stdout,
                         capture_output=True, env=env, timeout=120)
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout == data


def test_lines_mode_encodes_each_line_on_its_own(bpe, tmp_path, capsysbinary):
    tok, model = bpe
    text = TRICKY + "\n"  # per-line mode writes a \n after every line, so only this file round-trips
    src = tmp_path / "in.txt"
    src.write_bytes(text.encode("utf-8"))
    encoded = run(["encode", "--lines", "-t", str(model), str(src)], capsysbinary)
    lines = text.split("\n")[:-1]  # split at \n only: a \r stays part of its line
    assert encoded.decode("ascii").split("\n")[:-1] == [
        " ".join(map(str, tok.encode(line, allowed_special="all"))) for line in lines]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_bytes(encoded)
    assert run(["decode", "--lines", "-t", str(model), str(ids_file)], capsysbinary) == text.encode("utf-8")


@pytest.mark.parametrize("ids, where", [(b"1 2\n3 1.5 4\n", "line 2: .*'1.5'"), (b"7 -3", "line 1: .*'-3'"),
                                        (b"\n\n12 abc", "line 3: .*'abc'")])
def test_decode_names_a_bad_id_and_its_line(bpe, tmp_path, capsys, ids, where):
    _, model = bpe
    path = tmp_path / "ids.txt"
    path.write_bytes(ids)
    assert main(["decode", "-t", str(model), str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fasttok: error: ") and "ids.txt" in err
    assert re.search(where, err), err


def test_decode_out_of_range_id_is_an_error(bpe, tmp_path, capsys):
    tok, model = bpe
    path = tmp_path / "ids.txt"
    path.write_bytes(f"1 {tok.vocab_size}\n".encode())
    assert main(["decode", "-t", str(model), str(path)]) == 1
    assert f"token id {tok.vocab_size} is not in the vocabulary" in capsys.readouterr().err


def test_encode_invalid_utf8_names_the_offset(bpe, tmp_path, capsys):
    _, model = bpe
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine text\n" * 3 + b"bad \xff byte\n")
    assert main(["encode", "-t", str(model), str(path)]) == 1
    assert "bad.txt: invalid UTF-8 at byte offset 34" in capsys.readouterr().err
