"""Strings holding surrogates encode as tiktoken encodes them (a pair is its character, a lone one
U+FFFD), in every encode path and in counting and training, instead of raising UnicodeEncodeError."""
import pytest
from hypothesis import given, strategies as st
from pydoc_data.topics import topics

import fasttok
from fasttok.pretokenize import PATTERNS

tiktoken = pytest.importorskip("tiktoken")

TEXT = "".join(topics[k] for k in sorted(topics))[:80_000] + " 👍 emoji 👍🏽 ok \ufffd"
SURROGATE_TEXTS = ["\ud83d\udc4d", "\ud800", "\udfff", "a\ud800b", "\udc4d\ud83d", "x \ud83d\udc4d y\ud800 z",
                   "\ud83d\udc4d\ud83d\udc4d<|endoftext|>\ud83d", "caf\u00e9 \ud83d \u4e2d"]


@pytest.fixture(scope="module", params=["gpt2", "gpt4"])
def pair(request):
    tok = fasttok.train_bpe([TEXT], vocab_size=600, pattern=request.param, special_tokens=["<|endoftext|>"])
    enc = tiktoken.Encoding(f"ours-{request.param}", pat_str=PATTERNS[request.param],
                            mergeable_ranks=tok.to_tiktoken_ranks(), special_tokens=tok.special_tokens)
    return tok, enc


@pytest.mark.parametrize("text", SURROGATE_TEXTS, ids=ascii)
def test_every_encode_path_matches_tiktoken(pair, text):
    tok, enc = pair
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.encode(text, disallowed_special=()) == enc.encode(text, disallowed_special=())
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.encode_batch([text, "plain"], allowed_special="all") == enc.encode_batch([text, "plain"],
                                                                                          allowed_special="all")


def test_a_pair_is_its_character_and_a_lone_one_is_the_replacement_character(pair):
    tok, _ = pair
    assert tok.encode("\ud83d\udc4d") == tok.encode("👍")
    assert tok.decode(tok.encode("\ud83d\udc4d")) == "👍"
    assert tok.decode(tok.encode("a\ud800b")) == "a\ufffdb"


# Surrogates are 2048 of 1.1 million code points: draw them on purpose, mixed with any other character.
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, blacklist_categories=())


@given(text=st.text(st.one_of(SURROGATE, st.characters(blacklist_categories=())), max_size=60))
def test_any_text_with_surrogates_matches_tiktoken(pair, text):
    tok, enc = pair
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_a_disallowed_special_token_still_raises(pair):
    tok, _ = pair
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode("\ud83d<|endoftext|>")


def test_character_level_bpe_and_a_custom_pattern_repair_too():
    char = fasttok.train_bpe(["👍 a \ufffd b"] * 3, vocab_size=8, byte_level=False)
    assert char.encode("\ud83d\udc4d a \ud800") == char.encode("👍 a \ufffd")
    regex = fasttok.train_bpe(["👍 a \ufffd b"] * 3, vocab_size=260, pattern=r"\S+|\s+")
    assert regex.encode("\ud83d\udc4d \ud800") == regex.encode("👍 \ufffd")


def test_wordpiece_encodes_the_repaired_text():
    wp = fasttok.train_wordpiece(["thumbs 👍 up " * 5], vocab_size=20, min_frequency=1)
    assert wp.encode("thumbs \ud83d\udc4d up") == wp.encode("thumbs 👍 up")
    assert wp.token_to_id("👍") in wp.encode("\ud83d\udc4d")
    assert wp.encode_batch(["\ud83d\udc4d", "[CLS] \ud83d\udc4d"]) == wp.encode_batch(["👍", "[CLS] 👍"])
    assert wp.encode_ordinary("\ud83d\udc4d") == wp.encode_ordinary("👍")


@pytest.mark.parametrize("pattern", ["gpt2", "whitespace", None])
def test_counting_and_training_repair_instead_of_raising(pattern):
    raw = ["thumbs \ud83d\udc4d up \ud800 " * 3, "\udc4d"]
    repaired = ["thumbs 👍 up \ufffd " * 3, "\ufffd"]
    assert fasttok.count_words(raw, pattern=pattern) == fasttok.count_words(repaired, pattern=pattern)
    assert fasttok.train_bpe(raw, vocab_size=262, pattern=pattern) == \
        fasttok.train_bpe(repaired, vocab_size=262, pattern=pattern)


def test_wordpiece_training_sees_the_repaired_text():
    raw = ["thumbs \ud83d\udc4d up " * 5]
    repaired = ["thumbs 👍 up " * 5]
    assert fasttok.train_wordpiece(raw, vocab_size=20, min_frequency=1) == \
        fasttok.train_wordpiece(repaired, vocab_size=20, min_frequency=1)
