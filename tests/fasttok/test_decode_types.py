"""decode takes integer ids only, as tiktoken does: floats, strings and bools are a TypeError (never
truncated to an id), numpy integers are ids, and an id outside the vocabulary is UnknownTokenError."""
import numpy as np
import pytest

import fasttok
from fasttok.pretokenize import GPT2_PATTERN

tiktoken = pytest.importorskip("tiktoken")


@pytest.fixture(scope="module")
def bpe():
    return fasttok.train_bpe(["hello world, hello there"] * 5, vocab_size=270, special_tokens=["<|endoftext|>"])


@pytest.fixture(scope="module")
def wordpiece():
    return fasttok.train_wordpiece(["hello world, hello there"] * 5, vocab_size=27)


@pytest.fixture(scope="module")
def enc(bpe):
    return tiktoken.Encoding("ours", pat_str=GPT2_PATTERN, mergeable_ranks=bpe.to_tiktoken_ranks(),
                             special_tokens=bpe.special_tokens)


NOT_IDS = [[104.9], [104.0], ["104"], [b"h"], [None], [True], [np.bool_(True)], [1, 2.5], [np.float64(104)],
           np.array([104.0]), np.array([True]), "104", b"104", 104]


@pytest.mark.parametrize("ids", NOT_IDS, ids=repr)
def test_non_integers_are_a_type_error(bpe, wordpiece, ids):
    for tok in (bpe, wordpiece):
        with pytest.raises(TypeError, match="integers"):
            tok.decode(ids)
        with pytest.raises(TypeError, match="integers"):
            tok.decode_bytes(ids)


@pytest.mark.parametrize("ids", [[104.9], ["104"], [1, 2.5], 104])
def test_tiktoken_rejects_them_too(enc, ids):
    with pytest.raises(TypeError):
        enc.decode(ids)


def test_two_dimensional_arrays_are_refused(bpe):
    with pytest.raises(TypeError, match="1-D"):
        bpe.decode(np.array([[104, 101]]))


def test_numpy_integers_are_ids(bpe, wordpiece, enc):
    ids = bpe.encode("hello world<|endoftext|>", allowed_special="all")
    text = bpe.decode(ids)
    assert text == enc.decode(ids) == "hello world<|endoftext|>"
    for form in (np.array(ids), np.array(ids, dtype=np.uint16), np.array(ids, dtype=np.int32),
                 [np.int64(i) for i in ids], tuple(ids), iter(ids)):
        assert bpe.decode(form) == text
    assert bpe.decode_bytes(np.array(ids)) == text.encode()
    assert bpe.token_bytes(np.int64(104)) == b"h"
    wp_ids = wordpiece.encode("hello world")
    assert wordpiece.decode(np.array(wp_ids)) == wordpiece.decode(wp_ids) == "hello world"


def test_torch_integer_tensors_are_ids(bpe):
    torch = pytest.importorskip("torch")
    ids = bpe.encode("hello there")
    assert bpe.decode(torch.tensor(ids)) == "hello there"
    with pytest.raises(TypeError, match="integers"):
        bpe.decode(torch.tensor([104.0]))


@pytest.mark.parametrize("bad", [-1, 270, 10**30])
def test_out_of_range_ints_are_unknown_ids(bpe, wordpiece, bad):
    for tok in (bpe, wordpiece):
        for ids in ([3, bad], (np.int64(3), bad)):
            with pytest.raises(fasttok.UnknownTokenError, match=f"token id {bad} is not in the vocabulary"):
                tok.decode(ids)
    if bad < 2**63:
        with pytest.raises(fasttok.UnknownTokenError, match=str(bad)):
            bpe.decode(np.array([104, bad], dtype=np.int64))
