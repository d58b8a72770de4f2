"""Bad input gets a typed error that names the problem; nothing crashes or writes half a file."""
import os
import pathlib

import pytest

import fasttok
from fasttok import _files, pretokenize
from fasttok._reference import bpe as reference


@pytest.fixture(scope="module")
def tok():
    return fasttok.train_bpe(["some text to learn from, some text"] * 3, vocab_size=270)


@pytest.mark.parametrize("corpus", [[], [""], "", [pathlib.Path(os.devnull)]])
def test_empty_corpus(corpus):
    with pytest.raises(fasttok.CorpusError, match="empty"):
        fasttok.train_bpe(corpus, vocab_size=300)


def test_vocab_size_below_the_base_alphabet():
    with pytest.raises(ValueError, match="below the 1 special tokens plus the 256 byte tokens"):
        fasttok.train_bpe("abc", vocab_size=256, special_tokens=["<s>"])
    with pytest.raises(ValueError, match="plus the 3 characters"):
        fasttok.train_bpe("abc", vocab_size=2, byte_level=False, pattern="whitespace")


@pytest.mark.parametrize("value, error", [(0, ValueError), (-5, ValueError), (2**40, ValueError),
                                          (3.5, TypeError), ("300", TypeError)])
def test_absurd_vocab_sizes(value, error):
    with pytest.raises(error, match="vocab_size"):
        fasttok.train_bpe("abc", vocab_size=value)


def test_bad_options():
    with pytest.raises(ValueError, match="duplicate special tokens"):
        fasttok.train_bpe("abc", vocab_size=300, special_tokens=["<s>", "<s>"])
    with pytest.raises(TypeError, match="sequence of strings"):
        fasttok.train_bpe("abc", vocab_size=300, special_tokens="<s>")
    with pytest.raises(ValueError, match="character-level"):
        fasttok.train_bpe("abc", vocab_size=300, unk_token="[UNK]")
    with pytest.raises(TypeError, match="corpus items"):
        fasttok.train_bpe([b"bytes"], vocab_size=300)


def test_unknown_pattern_name_and_bad_regex():
    with pytest.raises(ValueError, match="unknown pattern name 'gtp2'.*gpt2, gpt4, whitespace"):
        fasttok.train_bpe("abc", vocab_size=300, pattern="gtp2")
    with pytest.raises(ValueError, match="invalid pattern regex"):
        fasttok.train_bpe("abc", vocab_size=300, pattern="([a-")


def test_invalid_utf8_names_file_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\n" * 3 + b"bad \xff byte\n")
    with pytest.raises(fasttok.CorpusError, match=r"bad\.txt: invalid UTF-8 at byte offset 34"):
        fasttok.train_bpe([path], vocab_size=300)


def test_invalid_utf8_offset_counts_across_blocks(tmp_path):
    path = tmp_path / "big.txt"
    line = b"word " * 19 + b"\n"  # 96 bytes
    path.write_bytes(line * 50 + b"x\xc3(\n")
    with pytest.raises(fasttok.CorpusError, match=f"offset {96 * 50 + 1}"):
        list(_files.read_blocks(path, cut=pretokenize.safe_cut(pretokenize.GPT2_PATTERN), block_size=200))


def test_missing_corpus_file(tmp_path):
    with pytest.raises(fasttok.CorpusError, match="cannot read corpus file"):
        fasttok.train_bpe([tmp_path / "nope.txt"], vocab_size=300)


def test_streamed_blocks_never_split_a_pretoken(tmp_path):
    text = ("Hello there, it's 2024!\n  indented\tline's end.\r\n" * 200 + "x" * 700 + " tail words " * 100)
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    for pattern in ("gpt2", "gpt4"):
        cut = pretokenize.safe_cut(pretokenize.pattern_source(pattern))
        pieces = [p for block in _files.read_blocks(path, cut=cut, block_size=97)
                  for p in pretokenize.split(block, pattern)]
        assert pieces == reference.split(text, pattern)


@pytest.mark.parametrize("damage", ["truncate", "garbage_line", "bad_header", "bad_version", "bad_settings",
                                    "binary", "empty", "json_truncated", "dangling_merge"])
def test_corrupt_model_files(tok, tmp_path, damage):
    path = tmp_path / "tok.fasttok"
    tok.save(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "garbage_line":
        lines[-3] = b"m 1 two 3"
        data = b"\n".join(lines)
    elif damage == "bad_header":
        data = b"fasttok bpe\n" + b"\n".join(lines[1:])
    elif damage == "bad_version":
        data = b"fasttok bpe 99\n" + b"\n".join(lines[1:])
    elif damage == "bad_settings":
        data = b"\n".join([lines[0], b"{not json"] + lines[2:])
    elif damage == "binary":
        data = b"\x00\xff\xfe" * 100
    elif damage == "empty":
        data = b""
    elif damage == "json_truncated":
        tok.save(path, format="hf")
        data = path.read_bytes()[:5000]
    elif damage == "dangling_merge":
        lines.insert(-2, b"m 1 99999 270")
        data = b"\n".join(lines).replace(b"end 270", b"end 271")
    path.write_bytes(data)
    with pytest.raises(fasttok.ModelFileError, match=str(path.name)):
        fasttok.load(path)


def test_failed_save_leaves_the_old_file_untouched(tok, tmp_path, monkeypatch):
    path = tmp_path / "tok.fasttok"
    path.write_text("previous content")

    def boom(self):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(type(tok), "to_native", boom)
    with pytest.raises(RuntimeError):
        tok.save(path)
    assert path.read_text() == "previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.fasttok"]


def test_unknown_save_format(tok, tmp_path):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        tok.save(tmp_path / "t", format="xml")


def test_encode_rejects_non_text(tok):
    with pytest.raises(TypeError, match="text must be str"):
        tok.encode(b"bytes")
    with pytest.raises(TypeError, match="text must be str"):
        tok.encode_batch(["ok", None])
