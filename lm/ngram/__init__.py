"""lm.ngram: n-gram language models, from MLE to KenLM-exact modified Kneser-Ney.

>>> from lm.ngram import train_ngram
>>> model = train_ngram([["je", "suis", "content"], ["je", "suis"]], order=2, smoothing="mle")
>>> 10 ** model.logprob("suis", ["je"])
1.0
"""
from ..errors import ArpaFormatError, NgramFileError
from .estimators import SMOOTHINGS
from .model import Evaluation, NgramModel, check_train_options, train_ngram

__all__ = ["ArpaFormatError", "NgramFileError", "Evaluation", "NgramModel", "SMOOTHINGS", "check_train_options",
           "train_ngram"]
