"""tiktoken's surface on BPETokenizer, against tiktoken itself: built from the same published `.tiktoken`
files (whisper's gpt2 and multilingual), every method gives what `tiktoken.Encoding` gives."""
import base64
import sys

import pytest
from hypothesis import given, settings

import fasttok
from fasttok.bpe import from_tiktoken, read_tiktoken_ranks, tiktoken_merges
from fasttok.errors import ModelFileError
from fasttok.pretokenize import GPT2_PATTERN
from tests.fasttok.unicode_agreement import agreeing_text
from tests.texts import docs_lines, docs_text

tiktoken = pytest.importorskip("tiktoken")

SPECIALS = ["<|endoftext|>", "<|startoftranscript|>"]


@pytest.fixture(scope="module", params=["gpt2.tiktoken", "multilingual.tiktoken"])
def pair(request, published):
    """(fasttok from the file's ranks, tiktoken.Encoding from the same ranks, the file's path)."""
    path = published(request.param)
    ranks = read_tiktoken_ranks(path.read_bytes())
    special = {s: len(ranks) + k for k, s in enumerate(SPECIALS)}
    theirs = tiktoken.Encoding(request.param, pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special)
    ours = fasttok.BPETokenizer.from_tiktoken(pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special,
                                              name=request.param)
    return ours, theirs, path


def test_ids_equal_tiktoken_on_real_text(pair):
    ours, theirs, _ = pair
    lines = docs_lines(keepends=True)[::3]
    assert ours.encode_ordinary_batch(lines) == theirs.encode_ordinary_batch(lines)
    assert ours.encode(docs_text()[:300_000]) == theirs.encode(docs_text()[:300_000])
    text = "x <|endoftext|> y<|startoftranscript|>"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())


@settings(max_examples=200, deadline=None)
@given(text=agreeing_text(max_size=200))
def test_ids_and_decoding_equal_tiktoken_on_any_text(pair, text):
    ours, theirs, _ = pair
    ids = theirs.encode_ordinary(text)
    assert ours.encode_ordinary(text) == ids
    assert ours.decode_with_offsets(ids) == theirs.decode_with_offsets(ids)
    assert ours.decode_tokens_bytes(ids) == theirs.decode_tokens_bytes(ids)
    raw = text.encode("utf-8")
    for cut in {len(raw) - 1, len(raw) // 2}:  # truncated UTF-8: tiktoken's encode_bytes rule
        if cut >= 0:
            assert ours.encode_bytes(raw[:cut] + b"\xff" + raw[cut:]) == theirs._encode_bytes(raw[:cut] + b"\xff" + raw[cut:])
            assert ours.encode_bytes(raw[:cut]) == theirs._encode_bytes(raw[:cut])


def test_the_properties_equal_tiktoken(pair):
    ours, theirs, _ = pair
    assert ours.n_vocab == theirs.n_vocab and ours.max_token_value == theirs.max_token_value
    assert ours.eot_token == theirs.eot_token
    assert ours.special_tokens_set == theirs.special_tokens_set
    assert ours.name == theirs.name and ours.pat_str == theirs._pat_str and ours.pattern == "gpt2"
    assert [ours.is_special_token(i) for i in (0, ours.eot_token)] == [False, True]


def _outcome(function, arg):
    """function(arg), or the name and args of the exception it raised."""
    try:
        return function(arg)
    except Exception as e:  # noqa: BLE001 -- compared, not swallowed
        return type(e).__name__, e.args


def test_single_tokens_equal_tiktoken_and_fail_as_it_does(pair):
    ours, theirs, _ = pair
    for token in [" the", " world", b"\xe6\x97", "<|endoftext|>", "<|startoftranscript|>", b"!", b"\xff"]:
        assert ours.encode_single_token(token) == theirs.encode_single_token(token)
    for token in ["hello world", "<|endoftext", b"\xff\xfe\xfd", "", "hello", b"<|endoftext|>\xff"]:
        assert _outcome(ours.encode_single_token, token) == _outcome(theirs.encode_single_token, token)
    assert _outcome(ours.encode_single_token, "x y z") == ("KeyError", (b"x y z",))
    for i in [0, 255, 1000, theirs.n_vocab - 1, theirs.eot_token]:
        assert ours.decode_single_token_bytes(i) == theirs.decode_single_token_bytes(i)
    for i in [theirs.n_vocab, -1, 10**9]:
        with pytest.raises(KeyError):
            ours.decode_single_token_bytes(i)


def test_decode_with_offsets_splits_characters_across_tokens(pair):
    ours, theirs, _ = pair
    text = "我非常渴望与人工智能一起工作 naïve café 👍🏽 ∑x²"
    ids = theirs.encode(text)
    assert any(0x80 <= theirs.decode_single_token_bytes(i)[0] < 0xC0 for i in ids)  # a token starts mid-character
    assert ours.decode_with_offsets(ids) == theirs.decode_with_offsets(ids)
    broken = ids + [theirs.encode_single_token(b"\xe6")]  # strict UTF-8, in both
    for enc in (ours, theirs):
        with pytest.raises(UnicodeDecodeError):
            enc.decode_with_offsets(broken)


def test_batches_equal_tiktoken(pair):
    ours, theirs, _ = pair
    batch = [theirs.encode(t, allowed_special="all") for t in ["hello", "", "日本語 <|endoftext|>", "x" * 100]]
    batch.append(theirs.encode("我")[:1])  # invalid UTF-8 alone: errors= matters
    assert ours.decode_batch(batch) == theirs.decode_batch(batch)
    assert ours.decode_batch(batch, errors="ignore") == theirs.decode_batch(batch, errors="ignore")
    assert ours.decode_bytes_batch(batch) == theirs.decode_bytes_batch(batch)
    texts = ["a <|endoftext|> b", "", "  \n\n x"]
    assert ours.encode_ordinary_batch(texts, num_threads=2) == theirs.encode_ordinary_batch(texts, num_threads=2)


def test_encode_bytes_on_broken_utf8(pair):
    ours, theirs, _ = pair
    for data in [b"\xff", b"", b"hello \xe6\x97", b"  \n\n \xf0\x9f", b"ab\xffcd ef", b"\xe6\x97\xa5\xe6", b"x  \t\xff"]:
        assert ours.encode_bytes(data) == theirs._encode_bytes(data)


def test_to_tiktoken_gives_identical_ids(pair):
    ours, theirs, _ = pair
    again = ours.to_tiktoken()
    lines = docs_lines()[::11]
    assert again.encode_ordinary_batch(lines) == theirs.encode_ordinary_batch(lines)
    assert again.special_tokens_set == theirs.special_tokens_set and again.name == theirs.name
    assert again.encode("<|endoftext|>", allowed_special="all") == [theirs.eot_token]


def test_tiktoken_file_round_trip(pair, tmp_path):
    ours, theirs, path = pair
    loaded = fasttok.load(path)  # sniffed: `<base64> <rank>` lines; pattern gpt2, no special tokens
    assert loaded.pattern == "gpt2" and loaded.special_tokens == {}
    assert loaded.to_tiktoken_ranks() == ours.to_tiktoken_ranks()
    out = tmp_path / "again.tiktoken"
    ours.save(out, format="tiktoken")
    assert out.read_bytes() == path.read_bytes()
    again = fasttok.load(out)
    lines = docs_lines()[::13]
    assert again.encode_batch(lines) == theirs.encode_ordinary_batch(lines) == loaded.encode_batch(lines)
    assert fasttok.load(out, pattern="gpt4").pattern == "gpt4"


def test_merges_derived_from_ranks():
    assert tiktoken_merges({b"a": 0, b"b": 1, b"ab": 2, b"abb": 3}) == [(0, 1, 2), (2, 1, 3)]
    with pytest.raises(ModelFileError, match="not made by merging"):
        tiktoken_merges({b"a": 0, b"b": 1, b"c": 2, b"abc": 3})


def test_merge_derivation_is_bounded():
    """A rank file of 1024 ever-longer tokens is 0.7 MB and would take 18 s to derive: refused at once."""
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"a" * n: 254 + n for n in range(2, 1025)})
    with pytest.raises(ModelFileError, match="squared lengths"):
        tiktoken_merges(ranks)
    with pytest.raises(ModelFileError, match="at most 1024"):
        tiktoken_merges({b"a": 0, b"a" * 1025: 1})


def _byte_ranks():
    return {bytes([b]): b for b in range(256)}


def test_special_ids_must_follow_the_ranks():
    """cl100k-style specials (a gap after the ranks) cannot be represented: fasttok's ids have no holes."""
    with pytest.raises(ValueError, match="no gaps"):
        from_tiktoken(pat_str=GPT2_PATTERN, mergeable_ranks=_byte_ranks(), special_tokens={"<|endoftext|>": 257})
    with pytest.raises(ValueError, match="no gaps"):
        from_tiktoken(pat_str=GPT2_PATTERN, mergeable_ranks={b"a": 1}, special_tokens={})
    tok = from_tiktoken(pat_str=GPT2_PATTERN, mergeable_ranks=_byte_ranks(), special_tokens={"<|endoftext|>": 256})
    assert tok.eot_token == 256 and tok.name is None


def test_bad_tiktoken_files_are_model_file_errors(tmp_path):
    lines = b"".join(b"%s %d\n" % (base64.b64encode(bytes([b])), b) for b in range(256))
    for bad in [lines + b"!!!! 256\n", lines + b"YWI= x\n", lines + b"AA== 256\n"]:
        path = tmp_path / "bad.tiktoken"
        path.write_bytes(bad)
        with pytest.raises(ModelFileError, match="bad.tiktoken"):
            fasttok.load(path)
    path = tmp_path / "ok.tiktoken"
    path.write_bytes(lines)
    assert fasttok.load(path).vocab_size == 256


def test_to_tiktoken_without_tiktoken_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # `import tiktoken` now fails
    tok = from_tiktoken(pat_str=GPT2_PATTERN, mergeable_ranks=_byte_ranks(), special_tokens={})
    with pytest.raises(ImportError, match="pip install tiktoken"):
        tok.to_tiktoken()
