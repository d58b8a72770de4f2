"""The exceptions fasttok raises. Each subclasses ValueError so `except ValueError` keeps working."""


class FasttokError(ValueError):
    """Base class of every error fasttok raises on bad input."""


class CorpusError(FasttokError):
    """The training corpus cannot be used (empty, unreadable, invalid UTF-8, a str that names a file)."""


class ModelFileError(FasttokError):
    """A tokenizer file is truncated, corrupt or of an unknown format or version."""


class PatternTimeoutError(FasttokError):
    """A custom split regex ran longer than its time bound on one text (fasttok.pretokenize.TIMEOUT_SECONDS)."""


class CountOverflowError(FasttokError, OverflowError):
    """A word count, or a pair count training derives from the word counts, would exceed 2**63 - 1."""


class UnknownTokenError(FasttokError, KeyError):
    """A token id or token string is not in the vocabulary."""

    def __str__(self):  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""
