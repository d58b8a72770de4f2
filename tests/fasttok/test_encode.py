"""Encoding and decoding: the core encoder against the reference, specials, batching, files."""
import pickle
import re

import pytest
from hypothesis import given, settings, strategies as st

import fasttok
from fasttok._reference import bpe as reference
from fasttok._reference.bpe import split
from fasttok.cli import default_corpus
from fasttok.normalize import repair_surrogates
from tests.fasttok.unicode_agreement import agreeing_text


@pytest.fixture(scope="module")
def tok():
    return fasttok.train_bpe(default_corpus()[:400], vocab_size=1200, special_tokens=["<|endoftext|>", "<|pad|>"])


@pytest.fixture(scope="module")
def ab_tok():
    # Long runs of few letters: pieces far longer than the encoder's short-word threshold.
    return fasttok.train_bpe(["ab" * 300, "aab" * 200, "b" * 500, "a" * 700], vocab_size=256 + 40, pattern=None)


def reference_encode(tok, text):
    table = {(l, r): (k, n) for k, (l, r, n) in enumerate(tok._merges.tolist())}
    out = []
    for piece in split(text, tok.pattern):
        out.extend(reference.encode_word(list(piece.encode("utf-8")), table))
    return out


@given(text=agreeing_text(max_size=200))
def test_encoder_matches_reference_on_any_text(tok, text):
    ids = tok.encode_ordinary(text)
    assert ids == reference_encode(tok, text)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")


@given(text=st.text(alphabet="ab", min_size=40, max_size=400))
def test_long_pieces_use_the_heap_path_and_agree(ab_tok, text):
    assert ab_tok.encode(text) == reference_encode(ab_tok, text)


def test_repeated_character_is_not_quadratic_and_correct(ab_tok):
    # Correctness only (speed lives in benchmarks/): 200k symbols through the heap path.
    text = "a" * 200_000
    ids = ab_tok.encode(text)
    assert ab_tok.decode(ids) == text
    assert ab_tok.encode("a" * 1500) == reference_encode(ab_tok, "a" * 1500)


@given(texts=st.lists(st.text(max_size=50), max_size=80), threads=st.integers(1, 4))
@settings(max_examples=20)
def test_encode_batch_equals_encode_for_any_thread_count(tok, texts, threads):
    # Errors included: hypothesis also draws the string constants of this module, so a text may hold a
    # disallowed special token, and then both must refuse it with the same message.
    assert _outcome(lambda: tok.encode_batch(texts, num_threads=threads)) == _outcome(
        lambda: [tok.encode(t) for t in texts])


def _outcome(call):
    """call()'s value, or the ValueError it raised as (type name, message)."""
    try:
        return call()
    except ValueError as e:
        return ("ValueError", str(e))


# Pieces for texts that cross the 1 KiB line below which encode skips the piece cache, with and
# without a special token's first character, and with surrogates to repair.
_ONE_TEXT_PARTS = ["a", "b", " ", "<", "<|endoftext|>", "<|pad|>", "\u00e9", "\U0001f44d", "\ud83d\udc4d", "\ud800",
                   "ab" * 300, " ba" * 100]


@given(parts=st.lists(st.sampled_from(_ONE_TEXT_PARTS), max_size=12))
@settings(max_examples=60)
def test_one_text_path_equals_batch_of_one_and_reference(tok, parts):
    # encode/encode_ordinary take a path of their own for one text: it must agree with encode_batch
    # (errors included) and, with or without the piece cache, with the reference encoder.
    text = "".join(parts)
    for options in ({}, {"allowed_special": "all"}, {"disallowed_special": ()}, {"allowed_special": {"<|pad|>"}}):
        try:
            expected = tok.encode_batch([text], **options)[0]
        except ValueError as error:
            with pytest.raises(ValueError, match=re.escape(str(error))):
                tok.encode(text, **options)
        else:
            assert tok.encode(text, **options) == expected
    ids = tok.encode_ordinary(text)
    assert ids == tok.encode_batch([text], disallowed_special=())[0]
    assert ids == reference_encode(tok, repair_surrogates(text))


def test_special_tokens_follow_tiktoken_semantics(tok):
    eot = tok.special_tokens["<|endoftext|>"]
    text = "hello<|endoftext|>world"
    with pytest.raises(ValueError, match="disallowed special token '<\\|endoftext\\|>'"):
        tok.encode(text)
    assert tok.encode(text, allowed_special={"<|endoftext|>"}) == tok.encode("hello") + [eot] + tok.encode("world")
    assert tok.encode(text, allowed_special="all") == tok.encode(text, allowed_special={"<|endoftext|>"})
    plain = tok.encode(text, disallowed_special=())
    assert eot not in plain and tok.decode(plain) == text
    assert tok.encode_ordinary(text) == plain
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode("x", allowed_special={"<|nope|>"})


def test_decode_errors_option_and_unknown_ids(tok):
    with pytest.raises(fasttok.UnknownTokenError, match="token id 99999 is not in the vocabulary"):
        tok.decode([1, 99999])
    with pytest.raises(fasttok.UnknownTokenError, match="-1"):
        tok.decode([-1])
    assert tok.decode([0xE2]) == "\ufffd"          # a lone UTF-8 lead byte
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xE2], errors="strict")
    assert tok.decode_bytes([0xE2]) == b"\xe2"


def test_vocab_lookups(tok):
    assert tok.token_to_id(tok.id_to_token(300)) == 300
    assert tok.token_to_id("<|pad|>") == tok.special_tokens["<|pad|>"]
    with pytest.raises(fasttok.UnknownTokenError):
        tok.token_to_id("no such token")
    with pytest.raises(fasttok.UnknownTokenError):
        tok.id_to_token(tok.vocab_size)
    assert tok.vocab_size == 1200 and len(tok.merges) == 1200 - 256 - 2


def test_native_save_load_and_pickle_round_trip(tok, tmp_path):
    path = tmp_path / "tok.fasttok"
    tok.save(path)
    again = fasttok.load(path)
    assert again == tok
    text = "Round trip: 3.14 ünïcode 日本語 <|endoftext|>"
    assert again.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert pickle.loads(pickle.dumps(tok)) == tok
    assert [p.name for p in tmp_path.iterdir()] == ["tok.fasttok"]  # no temp file left behind


def test_training_is_deterministic_across_runs_and_input_order():
    corpus = ["the quick brown fox", "jumps over", "the lazy dog", "the end"] * 5
    a = fasttok.train_bpe(corpus, vocab_size=280)
    b = fasttok.train_bpe(list(reversed(corpus)), vocab_size=280)
    assert a == b


@pytest.mark.filterwarnings("ignore::fasttok.TrainingWarning")
def test_character_level_encode_decode():
    tok = fasttok.train_bpe(["hello world hello there"] * 4, vocab_size=30, pattern="whitespace", byte_level=False,
                            continuing_subword_prefix="##", unk_token="[UNK]")
    ids = tok.encode("hello there")
    assert tok.decode(ids) == "hello there"
    assert tok.encode("hellz")[-1] == tok.token_to_id("[UNK]")
    strict = fasttok.train_bpe(["abc"], vocab_size=4, pattern="whitespace", byte_level=False)
    with pytest.raises(fasttok.UnknownTokenError, match="'z' is not in the vocabulary"):
        strict.encode("abz")
