"""fasttok: fast, exact subword tokenizer training.

    >>> import fasttok
    >>> tok = fasttok.train_bpe(["low lower lowest"] * 10, vocab_size=260)
    >>> tok.decode(tok.encode("lowest")) == "lowest"
    True
"""
try:
    from fasttok import _bpe, _pretok  # noqa: F401  the compiled core
except ImportError as e:  # pragma: no cover - depends on how the package was installed
    import os as _os
    raise ImportError(
        f"fasttok's compiled core is missing in {_os.path.dirname(__file__)} ({e}). This usually means "
        "Python imported the source tree instead of the installed package: run from another directory, "
        "or build in place with `pip install -e .`") from None

from fasttok.bpe import BPETokenizer, load_gpt2, train_bpe, train_bpe_from_counts
from fasttok.counts import WordCounts, count_words
from fasttok.errors import (CorpusError, CountOverflowError, FasttokError, ModelFileError, PatternTimeoutError,
                            UnknownTokenError)
from fasttok.io import load
from fasttok.sentencepiece import SentencePieceTokenizer
from fasttok.tokenizer import Tokenizer, TrainingWarning
from fasttok.unigram_train import train_unigram
from fasttok.wordpiece import WordPieceTokenizer, load_bert_vocab, train_wordpiece

__all__ = [
    "train_bpe", "train_bpe_from_counts", "train_wordpiece", "train_unigram", "count_words", "WordCounts",
    "load", "load_gpt2", "load_bert_vocab", "Tokenizer", "BPETokenizer", "WordPieceTokenizer",
    "SentencePieceTokenizer",
    "FasttokError", "CorpusError", "ModelFileError", "PatternTimeoutError", "UnknownTokenError",
    "CountOverflowError", "TrainingWarning",
]
__version__ = "0.1.0"
