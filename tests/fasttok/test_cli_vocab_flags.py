"""`fasttok encode|decode -t vocab.txt` take --lowercase/--cased and --strip-accents for a bare BERT
vocab.txt, passed on to fasttok.load; without them the file's defaults apply."""
import pytest

from fasttok.cli import main

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "Hello", "cafe", "café", "Café", "Cafe", "!"]
TEXT = "Hello Café!"

@pytest.fixture
def files(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    text = tmp_path / "in.txt"
    text.write_text(TEXT, encoding="utf-8")
    return vocab, text


def encode(vocab, text, flags, capsysbinary):
    assert main(["encode", "-t", str(vocab), *flags, str(text)]) == 0
    return [int(i) for i in capsysbinary.readouterr().out.split()]


def ids_of(*tokens):
    return [VOCAB.index(t) for t in tokens]


def test_without_flags_a_bare_vocab_is_bert_uncased(files, capsysbinary):
    vocab, text = files
    assert encode(vocab, text, [], capsysbinary) == ids_of("hello", "cafe", "!")


@pytest.mark.parametrize("flags, tokens", [
    (["--cased"], ("Hello", "Café", "!")),                              # accents follow lowercasing: kept
    (["--cased", "--strip-accents", "yes"], ("Hello", "Cafe", "!")),
    (["--lowercase", "--strip-accents", "no"], ("hello", "café", "!")),
    (["--lowercase"], ("hello", "cafe", "!")),
    (["--strip-accents", "no"], ("hello", "café", "!")),
])
def test_flags_reach_the_loader(files, capsysbinary, flags, tokens):
    vocab, text = files
    assert encode(vocab, text, flags, capsysbinary) == ids_of(*tokens)


def test_decode_takes_the_same_flags(files, tmp_path, capsysbinary):
    vocab, _ = files
    ids = tmp_path / "ids.txt"
    ids.write_text(" ".join(map(str, ids_of("Hello", "Café", "!"))), encoding="utf-8")
    assert main(["decode", "-t", str(vocab), "--cased", str(ids)]) == 0
    assert capsysbinary.readouterr().out == "Hello Café!".encode()


def test_lowercase_and_cased_exclude_each_other(files):
    vocab, text = files
    with pytest.raises(SystemExit) as info:
        main(["encode", "-t", str(vocab), "--lowercase", "--cased", str(text)])
    assert info.value.code == 2
