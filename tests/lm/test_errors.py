"""One file-error type for lm: every loader's complaint about a bad file is an `lm.LMFileError`."""
import numpy as np
import pytest

import lm
import lm.ngram
import lm.tokenizer_file
from lm import checkpoint as ckpt
from lm.errors import ArpaFormatError, CheckpointError, LMFileError, NgramFileError, TokenizerFileError
from lm.ngram import NgramModel, train_ngram
from lm.nn import GPT, GPTConfig
from lm.tokenizer_file import TokenizerFile


def test_hierarchy_and_old_names():
    assert lm.LMFileError is LMFileError and issubclass(LMFileError, ValueError)
    for cls in (CheckpointError, TokenizerFileError, ArpaFormatError, NgramFileError):
        assert issubclass(cls, LMFileError)
    # the names callers already catch are the same classes where they always lived
    assert ckpt.CheckpointError is CheckpointError
    assert lm.tokenizer_file.TokenizerFileError is TokenizerFileError
    assert lm.ngram.ArpaFormatError is ArpaFormatError


def _garbage(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 not a file of ours \xff")
    return path


def _checkpoint(tmp_path):
    path = tmp_path / "gpt.npz"
    ckpt.save(path, GPT(GPTConfig(vocab_size=8, block_size=4, n_layer=1, n_head=1, d_model=4),
                        rng=np.random.default_rng(0)))
    return path


def _ngram(tmp_path):
    path = tmp_path / "ngram.npz"
    train_ngram([["a", "b"]], order=2).save(path)
    return path


@pytest.mark.parametrize("load, make", [
    (ckpt.load, lambda tmp: _garbage(tmp, "x.npz")),
    (ckpt.read_meta, lambda tmp: _garbage(tmp, "x.npz")),
    (ckpt.load, _ngram),                                         # an n-gram model where a checkpoint belongs
    (NgramModel.load, lambda tmp: _garbage(tmp, "x.npz")),
    (NgramModel.load, _checkpoint),                              # a checkpoint where an n-gram model belongs
    (NgramModel.from_arpa, lambda tmp: _garbage(tmp, "x.arpa")),
    (NgramModel.from_arpa, lambda tmp: tmp / "missing.arpa"),
    (lambda path: TokenizerFile.read(path), lambda tmp: tmp / "missing.fasttok"),
    (lambda path: TokenizerFile.read(path).load(), lambda tmp: _garbage(tmp, "x.fasttok")),
], ids=["ckpt-garbage", "meta-garbage", "ckpt-is-ngram", "ngram-garbage", "ngram-is-ckpt", "arpa-garbage",
        "arpa-missing", "tokenizer-missing", "tokenizer-garbage"])
def test_every_loader_raises_an_lm_file_error(tmp_path, load, make):
    with pytest.raises(LMFileError):
        load(make(tmp_path))
