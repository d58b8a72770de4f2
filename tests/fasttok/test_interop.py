"""Real clients load what we export: HF tokenizers, tiktoken; and we load OpenAI's published GPT-2 files."""
import json

import pytest
from hypothesis import given, strategies as st

import fasttok
from fasttok.pretokenize import GPT2_PATTERN
from fasttok.bpe import CHAR_TO_BYTE
from tests.fasttok.tiktoken_files import read_tiktoken, write_gpt2_files
from tests.fasttok.unicode_agreement import newer_code_points
from tests.texts import docs_lines, docs_text, stdlib_text

tokenizers = pytest.importorskip("tokenizers")  # installed in CI by the interop extra
tiktoken = pytest.importorskip("tiktoken")

# Three published byte-level BPE vocabularies: OpenAI's GPT-2 file pair (the refs folder), and the two
# `.tiktoken` rank files inside openai-whisper (tests/assets.py), turned into the same file pair.
SOURCES = ["gpt2-files", "whisper-gpt2", "whisper-multilingual"]


def _tiktoken_encoding(name, ranks):
    return tiktoken.Encoding(name, pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": len(ranks)})


@pytest.fixture(scope="module", params=SOURCES)
def published_pair(request, refs, published, tmp_path_factory):
    """(fasttok.load_gpt2 of the files, tiktoken.Encoding built from the same ranks)."""
    if request.param == "gpt2-files":
        encoder, vocab = refs("gpt2", "encoder.json"), refs("gpt2", "vocab.bpe")
        ours = fasttok.load_gpt2(encoder, vocab)
        # tiktoken's ranks straight from encoder.json, not through anything of ours
        ranks = {bytes(CHAR_TO_BYTE[c] for c in t): i
                 for t, i in json.loads(encoder.read_text(encoding="utf-8")).items() if t != "<|endoftext|>"}
    else:
        ranks = read_tiktoken(published(request.param.split("-", 1)[1] + ".tiktoken"))
        encoder, vocab = write_gpt2_files(ranks, tmp_path_factory.mktemp(request.param), eot=len(ranks))
        ours = fasttok.load_gpt2(encoder, vocab)
    return ours, _tiktoken_encoding(request.param, ranks)


def test_gpt2_hello_world(refs):
    gpt2 = fasttok.load_gpt2(refs("gpt2", "encoder.json"), refs("gpt2", "vocab.bpe"))
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.vocab_size == 50257 and gpt2.special_tokens == {"<|endoftext|>": 50256}


def test_whisper_gpt2_ranks_are_the_gpt2_files(refs, published):
    """The published rank file and OpenAI's file pair are one vocabulary: same tokens, same ranks."""
    gpt2 = fasttok.load_gpt2(refs("gpt2", "encoder.json"), refs("gpt2", "vocab.bpe"))
    assert gpt2.to_tiktoken_ranks() == read_tiktoken(published("gpt2.tiktoken"))


def test_published_vocabularies_match_tiktoken_on_real_text(published_pair):
    ours, theirs = published_pair
    lines = docs_lines(keepends=True) + stdlib_text(1_000_000).splitlines(keepends=True)
    assert ours.encode_batch(lines) == theirs.encode_ordinary_batch(lines)
    assert ours.encode(docs_text()) == theirs.encode_ordinary(docs_text())


@given(text=st.text(max_size=300))
def test_published_vocabularies_match_tiktoken_on_any_text(published_pair, text):
    ours, theirs = published_pair
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
    assert ours.decode(ours.encode_ordinary(text)) == text


def test_code_points_newer_than_unicodedata_encode_as_tiktoken_does(published_pair):
    """Where the `regex` oracle's newer tables disagree with ours (tests/fasttok/unicode_agreement.py),
    fasttok still gives tiktoken's ids: the test suite, not the library, has to account for the difference."""
    ours, theirs = published_pair
    texts = [f":{chr(cp)} a{chr(cp)}1 {chr(cp) * 3}" for cp in sorted(newer_code_points())[::50]]
    assert texts and ours.encode_batch(texts) == theirs.encode_ordinary_batch(texts)


@pytest.fixture(scope="module")
def trained():
    text = docs_text()[:300_000]
    return fasttok.train_bpe(text, vocab_size=2000, special_tokens=["<|endoftext|>"])


def test_tiktoken_ranks_give_identical_ids(trained):
    enc = tiktoken.Encoding("ours", pat_str=GPT2_PATTERN, mergeable_ranks=trained.to_tiktoken_ranks(),
                            special_tokens=trained.special_tokens)
    lines = docs_lines()[::7]
    assert trained.encode_batch(lines) == enc.encode_ordinary_batch(lines)
    assert enc.encode("a<|endoftext|>b", allowed_special="all") == trained.encode("a<|endoftext|>b", allowed_special="all")


@pytest.mark.parametrize("pattern", ["gpt2", "gpt4", "whitespace"])
def test_hf_tokenizer_json_loads_in_tokenizers_with_identical_ids(tmp_path, pattern):
    text = docs_text()[:200_000]
    tok = fasttok.train_bpe(text, vocab_size=700, pattern=pattern, special_tokens=["<|endoftext|>"])
    path = tmp_path / "tokenizer.json"
    tok.save(path, format="hf")
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = docs_lines()[1000:3000] + ["<|endoftext|> x", "日本語 ümlaut"]
    ours = tok.encode_batch(lines, allowed_special="all")
    theirs = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    assert ours == theirs
    # and we read it back
    again = fasttok.load(path)
    assert again.encode_batch(lines, allowed_special="all") == ours


def test_character_level_hf_export(tmp_path):
    text = docs_text()[:100_000]
    tok = fasttok.train_bpe(text, vocab_size=400, pattern="whitespace", byte_level=False,
                            continuing_subword_prefix="##", unk_token="[UNK]")
    path = tmp_path / "tokenizer.json"
    tok.save(path, format="hf")
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = text.splitlines()[-500:]  # characters the tokenizer knows (unknown ones: tests/fasttok/test_hf_export.py)
    assert tok.encode_batch(lines) == [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]


def test_load_hf_file_written_by_tokenizers(tmp_path):
    # A tokenizer trained and saved by HF itself, read by us, gives the ids HF gives.
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    lines = docs_lines()
    hf.train_from_iterator(lines[:5000], trainer)
    path = tmp_path / "hf.json"
    hf.save(str(path))
    ours = fasttok.load(path)
    assert ours.encode_batch(lines[5000:6000]) == [e.ids for e in hf.encode_batch(lines[5000:6000])]
