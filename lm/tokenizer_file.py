"""Tokenizer files as lm's models record them: the file's exact bytes, their SHA-256 and the file's name.

A model's token ids mean something only with the tokenizer that made them, so every model file says
which tokenizer that was: a neural checkpoint embeds the whole file (it then samples and evaluates after
being moved to another machine), an n-gram ``.npz`` records its name and hash. The hash is of the file's
bytes, so re-saving a tokenizer in another format counts as a different file: use the embedded copy, or
the original file.

    >>> tf = TokenizerFile(name="tok.fasttok", data=b"fasttok bpe 1\\n")
    >>> tf.record()["sha256"][:12]
    'bd6992692516'
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import fasttok

from .errors import TokenizerFileError
from .files import open_regular


def is_plain_name(name) -> bool:
    """Whether `name` is a file name without any directory part: an embedded copy is written under its name
    in a temporary directory, and a name from a hostile file must not reach outside it."""
    return (isinstance(name, str) and name not in ("", ".", "..")
            and not any(ch in name for ch in ("/", "\\", "\0")))


@dataclass(frozen=True)
class TokenizerFile:
    """The bytes of one tokenizer file. `name` is its base name: shown in messages, and kept when embedded
    bytes are loaded again, because `fasttok.load` reads a ``.txt`` file as a BERT vocab.txt."""

    name: str
    data: bytes
    path: str | None = None  # where it was read from; None for a copy embedded in a model file

    def __post_init__(self):
        if not is_plain_name(self.name):
            raise TokenizerFileError(f"tokenizer name {self.name!r} is not a plain file name")

    @classmethod
    def read(cls, path) -> "TokenizerFile":
        path = os.fspath(path)
        try:
            f, _ = open_regular(path, TokenizerFileError)  # a FIFO or device is refused, not read forever
            with f:
                data = f.read()
        except OSError as exc:
            raise TokenizerFileError(f"cannot load tokenizer {path}: {exc.strerror}") from None
        return cls(name=os.path.basename(path), data=data, path=os.path.abspath(path))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def record(self) -> dict:
        """What a model file stores about its tokenizer (JSON)."""
        return {"name": self.name, "sha256": self.sha256}

    def load(self):
        """The fasttok tokenizer these bytes hold."""
        try:
            if self.path is not None:
                return fasttok.load(self.path)
            with tempfile.TemporaryDirectory() as tmp:
                copy = os.path.join(tmp, self.name)
                with open(copy, "wb") as f:
                    f.write(self.data)
                return fasttok.load(copy)
        except ValueError as exc:  # fasttok's ModelFileError, naming a temporary path for an embedded copy
            where = self.path or f"the embedded copy of {self.name}"
            raise TokenizerFileError(f"cannot load tokenizer {where}: {exc}") from None


def describe(record: dict) -> str:
    """'tok.fasttok (sha256 bd6992692516…)' for messages."""
    return f"{record['name']} (sha256 {record['sha256'][:12]}…)"


def check_same(recorded: dict | None, given: TokenizerFile | None, *, model) -> None:
    """Raise TokenizerFileError unless `given` is the tokenizer `recorded` for `model` (a path, for the
    message); both None means a model of plain words read without a tokenizer."""
    if recorded is None and given is None:
        return
    if recorded is None:
        raise TokenizerFileError(f"{model} was trained on whitespace-separated words, not on tokenizer ids: "
                                 f"drop --tokenizer {given.path or given.name}")
    if given is None:
        raise TokenizerFileError(f"{model} was trained on the ids of tokenizer {describe(recorded)}: "
                                 f"pass --tokenizer with that file")
    if given.sha256 != recorded["sha256"]:
        raise TokenizerFileError(f"--tokenizer {given.path or given.name} (sha256 {given.sha256[:12]}…) is not the "
                                 f"tokenizer {model} was trained with, {describe(recorded)}")
