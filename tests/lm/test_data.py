import numpy as np
import pytest

from lm.data import (causal_batches, causal_eval_batches, encode_corpus, mlm_batches, span_batches, special_ids,
                     split_ids)
from lm.functional import IGNORE_INDEX
from lm.objectives import span_reconstruct


class CharTokenizer:
    """A trivial tokenizer: one id per distinct character of a fixed alphabet."""

    def __init__(self, alphabet):
        self.chars = sorted(set(alphabet))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)

    def encode(self, text):
        return [self.index[c] for c in text]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


TEXT = "the quick brown fox jumps over the lazy dog. " * 20
TOK = CharTokenizer(TEXT)


def test_encode_and_split():
    ids = encode_corpus(TEXT, TOK)
    assert ids.dtype == np.int32 and len(ids) == len(TEXT)
    assert TOK.decode(ids) == TEXT
    train, val = split_ids(ids, val_fraction=0.25)
    assert len(val) == len(ids) // 4 and np.array_equal(np.concatenate([train, val]), ids)
    with pytest.raises(TypeError):
        encode_corpus(b"bytes", TOK)

    class Bad(CharTokenizer):
        def encode(self, text):
            return [self.vocab_size]

    with pytest.raises(ValueError, match="outside"):
        encode_corpus("a", Bad("a"))


def test_causal_batches_are_shifted_windows_of_the_stream():
    ids = encode_corpus(TEXT, TOK)
    x, y = next(causal_batches(ids, batch_size=4, block_size=16, rng=np.random.default_rng(0)))
    assert x.shape == y.shape == (4, 16)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    text = TOK.decode(ids)
    for row_x, row_y in zip(x, y):
        assert TOK.decode(np.r_[row_x, row_y[-1:]]) in text
    # eval windows: every token after the first predicted exactly once (tail dropped)
    ys = np.concatenate([yy.reshape(-1) for _, yy in causal_eval_batches(ids, batch_size=3, block_size=16)])
    n = (len(ids) - 1) // 16 * 16
    np.testing.assert_array_equal(ys, ids[1:n + 1])
    with pytest.raises(ValueError, match="at least"):
        next(causal_batches(ids[:5], batch_size=2, block_size=16, rng=np.random.default_rng(0)))


def test_mlm_batches_never_mask_specials_and_label_chosen():
    ids = encode_corpus(TEXT, TOK)
    sp = special_ids(TOK.vocab_size)
    assert (sp.pad, sp.mask) == (TOK.vocab_size, TOK.vocab_size + 1) and sp.vocab_size == TOK.vocab_size + 2
    inputs, labels = next(mlm_batches(ids, batch_size=8, block_size=32, specials=sp, rng=np.random.default_rng(1)))
    assert inputs.shape == labels.shape == (8, 32)
    chosen = labels != IGNORE_INDEX
    assert chosen.any() and np.all(inputs[~chosen] < TOK.vocab_size)
    assert np.all((inputs[chosen] == sp.mask) | (inputs[chosen] < TOK.vocab_size))


def test_span_batches_round_trip_and_shapes():
    ids = encode_corpus(TEXT, TOK)
    sp = special_ids(TOK.vocab_size, n_sentinels=8)
    enc, enc_mask, dec, tgt = next(span_batches(ids, batch_size=4, block_size=30, target_size=16, specials=sp,
                                                rng=np.random.default_rng(2)))
    assert enc.shape[0] == dec.shape[0] == tgt.shape[0] == 4 and dec.shape == tgt.shape == (4, 16)
    text = TOK.decode(ids)
    for b in range(4):
        inp = enc[b][enc_mask[b]]
        assert np.all(enc[b][~enc_mask[b]] == sp.pad)
        t = tgt[b][tgt[b] != IGNORE_INDEX]
        assert dec[b, 0] == sp.pad and np.array_equal(dec[b, 1:len(t)], t[:-1])  # teacher forcing shift
        original = span_reconstruct(inp, t, sentinel_ids=sp.sentinels)
        assert len(original) == 30 and TOK.decode(original) in text
    with pytest.raises(ValueError, match="sentinel"):
        next(span_batches(ids, batch_size=1, block_size=30, target_size=8, specials=special_ids(TOK.vocab_size),
                          rng=np.random.default_rng(0)))
