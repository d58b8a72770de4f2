"""Real clients load what we export: HF tokenizers, tiktoken; and we load OpenAI's GPT-2 files."""
import json

import pytest
from hypothesis import given, strategies as st

import fasttok
from fasttok.pretokenize import GPT2_PATTERN
from tests.conftest import SHARED

tokenizers = pytest.importorskip("tokenizers")  # installed in CI by the interop extra
tiktoken = pytest.importorskip("tiktoken")

GPT2 = SHARED / "refs" / "gpt2"
SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def gpt2():
    return fasttok.load_gpt2(GPT2 / "encoder.json", GPT2 / "vocab.bpe")


@pytest.fixture(scope="module")
def tiktoken_gpt2():
    ranks = {}
    from fasttok.tokenizer import CHAR_TO_BYTE
    encoder = json.loads((GPT2 / "encoder.json").read_text(encoding="utf-8"))
    for token, i in encoder.items():
        if token != "<|endoftext|>":
            ranks[bytes(CHAR_TO_BYTE[c] for c in token)] = i
    return tiktoken.Encoding("gpt2-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


@pytest.fixture(scope="module")
def trained():
    text = SHAKESPEARE.read_text(encoding="utf-8")[:300_000]
    return fasttok.train_bpe(text, vocab_size=2000, special_tokens=["<|endoftext|>"])


def test_gpt2_hello_world(gpt2):
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.vocab_size == 50257 and gpt2.special_tokens == {"<|endoftext|>": 50256}


def test_gpt2_matches_tiktoken_on_tinyshakespeare(gpt2, tiktoken_gpt2):
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines(keepends=True)
    assert gpt2.encode_batch(lines) == tiktoken_gpt2.encode_ordinary_batch(lines)


@given(text=st.text(max_size=300))
def test_gpt2_matches_tiktoken_on_any_text(gpt2, tiktoken_gpt2, text):
    assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)
    assert gpt2.decode(gpt2.encode_ordinary(text)) == text


def test_tiktoken_ranks_give_identical_ids(trained):
    enc = tiktoken.Encoding("ours", pat_str=GPT2_PATTERN, mergeable_ranks=trained.to_tiktoken_ranks(),
                            special_tokens=trained.special_tokens)
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines()[::7]
    assert trained.encode_batch(lines) == enc.encode_ordinary_batch(lines)
    assert enc.encode("a<|endoftext|>b", allowed_special="all") == trained.encode("a<|endoftext|>b", allowed_special="all")


@pytest.mark.parametrize("pattern", ["gpt2", "gpt4", "whitespace"])
def test_hf_tokenizer_json_loads_in_tokenizers_with_identical_ids(tmp_path, pattern):
    text = SHAKESPEARE.read_text(encoding="utf-8")[:200_000]
    tok = fasttok.train_bpe(text, vocab_size=700, pattern=pattern, special_tokens=["<|endoftext|>"])
    path = tmp_path / "tokenizer.json"
    tok.save(path, format="hf")
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines()[1000:3000] + ["<|endoftext|> x", "日本語 ümlaut"]
    ours = tok.encode_batch(lines, allowed_special="all")
    theirs = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    assert ours == theirs
    # and we read it back
    again = fasttok.load(path)
    assert again.encode_batch(lines, allowed_special="all") == ours


def test_character_level_hf_export(tmp_path):
    text = SHAKESPEARE.read_text(encoding="utf-8")[:100_000]
    tok = fasttok.train_bpe(text, vocab_size=400, pattern="whitespace", byte_level=False,
                            continuing_subword_prefix="##", unk_token="[UNK]")
    path = tmp_path / "tokenizer.json"
    tok.save(path, format="hf")
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines()[5000:5500]
    assert tok.encode_batch(lines) == [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]


def test_load_hf_file_written_by_tokenizers(tmp_path):
    # A tokenizer trained and saved by HF itself, read by us, gives the ids HF gives.
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines()
    hf.train_from_iterator(lines[:5000], trainer)
    path = tmp_path / "hf.json"
    hf.save(str(path))
    ours = fasttok.load(path)
    assert ours.encode_batch(lines[5000:6000]) == [e.ids for e in hf.encode_batch(lines[5000:6000])]
