"""Fixtures of the lm tests."""
import pytest

from .cli_support import king_corpus


@pytest.fixture(scope="module")
def king_files(tmp_path_factory):
    """(directory, corpus, tokenizer) of `cli_support.king_corpus`, one per test module."""
    return king_corpus(tmp_path_factory)
