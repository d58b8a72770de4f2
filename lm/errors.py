"""The one family of file errors of lm: every loader raises an `LMFileError` when a file it reads is
missing pieces, damaged, malformed or of another kind (fasttok's analogue is `fasttok.ModelFileError`).

    LMFileError(ValueError)
    ├── CheckpointError      a neural checkpoint .npz (lm.checkpoint)
    ├── TokenizerFileError   a tokenizer file, or the wrong one for a model (lm.tokenizer_file)
    ├── ArpaFormatError      an ARPA back-off file (lm.ngram.arpa)
    └── NgramFileError       an n-gram model .npz (lm.ngram.model)

Each subclass is also importable from the module that raises it, so ``except CheckpointError`` keeps
working; ``except LMFileError`` catches them all. This module imports nothing of lm, so every other
module may import it.
"""


class LMFileError(ValueError):
    """A file lm was asked to read is not a readable file of the expected kind."""


class CheckpointError(LMFileError):
    """A checkpoint file that is not ours, is damaged, or does not fit the model it is loaded into."""


class TokenizerFileError(LMFileError):
    """A tokenizer file that cannot be read or loaded, or that is not the one a model was trained with."""


class ArpaFormatError(LMFileError):
    """A malformed or truncated ARPA file."""


class NgramFileError(LMFileError):
    """An .npz that is not a readable n-gram model (damaged, another format, or one of lm's checkpoints)."""
