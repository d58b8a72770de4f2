"""Every `>>>` example in fasttok and lm runs, so the docstrings stay true."""
import doctest
import importlib
import pkgutil

import pytest

import fasttok
import lm


def _modules():
    names = []
    for package in (fasttok, lm):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):  # importing a __main__ runs the command line
                names.append(info.name)
    return names


def _has_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError:  # an optional extra (matplotlib, dask) that this machine lacks
        return False
    return any(test.examples for test in doctest.DocTestFinder().find(module))


MODULES = [name for name in _modules() if _has_examples(name)]


def test_the_examples_are_found():
    # the list is computed, so make sure it is not silently empty
    assert {"fasttok", "fasttok.bpe", "fasttok.wordpiece", "fasttok._reference.bpe", "lm.ngram.model",
            "lm.schedules"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result}"
