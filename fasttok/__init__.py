"""fasttok: fast, exact subword tokenizer training.

    >>> import fasttok
    >>> tok = fasttok.train_bpe(["low lower lowest"] * 10, vocab_size=260)
    >>> tok.decode(tok.encode("lowest")) == "lowest"
    True
"""
from fasttok.errors import CorpusError, FasttokError, ModelFileError, UnknownTokenError
from fasttok.io import load, load_gpt2
from fasttok.tokenizer import BPETokenizer, Tokenizer
from fasttok.train import TrainingWarning, train_bpe

__all__ = [
    "train_bpe", "load", "load_gpt2", "Tokenizer", "BPETokenizer",
    "FasttokError", "CorpusError", "ModelFileError", "UnknownTokenError", "TrainingWarning",
]
__version__ = "0.1.0"
