"""lm.ngram: n-gram language models, from MLE to KenLM-exact modified Kneser-Ney.

Two families: `train_ngram` / `NgramModel` (KenLM's conventions: log10, backoff tables, ARPA, fast) and
the counted models for NLTK's users (`MLE`, `Lidstone`, `KneserNeyInterpolated`, ... over an
`NgramCounter` and a `Vocabulary`: NLTK's conventions and numbers, log2).

>>> from lm.ngram import train_ngram
>>> model = train_ngram([["je", "suis", "content"], ["je", "suis"]], order=2, smoothing="mle")
>>> 10 ** model.logprob("suis", ["je"])
1.0
"""
from ..errors import ArpaFormatError, NgramFileError
from .counted import (MLE, AbsoluteDiscountingInterpolated, KneserNeyInterpolated, Laplace, Lidstone, NgramCounter,
                      StupidBackoff, WittenBellInterpolated)
from .estimators import SMOOTHINGS
from .model import Evaluation, NgramModel, check_train_options, train_ngram
from .vocabulary import Vocabulary, everygrams, pad_both_ends, padded_everygram_pipeline

__all__ = ["ArpaFormatError", "NgramFileError", "Evaluation", "NgramModel", "SMOOTHINGS", "check_train_options",
           "train_ngram", "NgramCounter", "Vocabulary", "pad_both_ends", "everygrams", "padded_everygram_pipeline",
           "MLE", "Lidstone", "Laplace", "StupidBackoff", "WittenBellInterpolated",
           "AbsoluteDiscountingInterpolated", "KneserNeyInterpolated"]
