"""lm: language models on top of fasttok tokens, in pure Python + numpy."""
from .errors import LMFileError

__all__ = ["LMFileError"]
