"""Shared test configuration: hypothesis profiles and the two ways tests reach files from outside the clone.

The suite runs in a plain clone with nothing beside it. Text comes from `tests/texts.py` (what every machine
has). Files that only publishers can provide come through two fixtures:

- `refs(*parts)`: a published reference file (GPT-2's encoder.json/vocab.bpe, the BERT uncased vocabulary,
  the KenLM golden ARPA) under `$FASTTOK_REFS`, else `../shared/refs` beside the clone;
- `published(name)`: a file that ships inside a package on the index (`python tests/assets.py` fetches them).

Where a file is missing the test is skipped with a reason that says how to provide it; when `CI` is set a
missing file is a failure instead, because a test that silently skips in CI proves nothing.
"""
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests import assets
from tests.texts import docs_text

# CI runs on 2 cores with a 15-minute budget for the whole suite: keep example counts modest there.
settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)

REPO = Path(__file__).resolve().parents[1]
REFS_VARIABLE = "FASTTOK_REFS"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if in_ci() else "dev"))
# Tests write only under tmp_path, never into the clone: hypothesis keeps its example database and
# caches (by default ./.hypothesis) in the temporary directory, unless told where.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fasttok-hypothesis")


@pytest.fixture(autouse=True, scope="session")
def _class_table_cache_in_tmp(tmp_path_factory):
    """fasttok caches its Unicode class table on disk ($FASTTOK_CACHE_DIR, else ~/.cache/fasttok): the
    suite, and the subprocesses it starts, write that cache in a session temporary directory instead."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FASTTOK_CACHE_DIR", str(tmp_path_factory.mktemp("fasttok-cache")))
        yield


def refs_dir() -> Path:
    return Path(os.environ.get(REFS_VARIABLE) or REPO.parent / "shared" / "refs")


def missing(reason: str):
    """Skip the calling test with `reason`, or fail it under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so a missing file is a failure)", pytrace=False)
    pytest.skip(reason)


def present(path: Path | None, reason: str) -> Path:
    """`path` when it names a file; otherwise skip (or, under CI, fail) the calling test with `reason`."""
    if path is None or not path.is_file():
        missing(reason)
    return path


def ref_path(*parts: str) -> Path:
    return present(refs_dir().joinpath(*parts),
                   f"reference file {'/'.join(parts)} not found in {refs_dir()}: set ${REFS_VARIABLE} to the "
                   "folder of published reference files (default: ../shared/refs beside the clone)")


@pytest.fixture(scope="session")
def refs():
    """`refs("gpt2", "vocab.bpe")` -> the path of that published reference file (or skip / fail)."""
    return ref_path


def published_path(name: str) -> Path:
    return present(assets.cached(name), f"{name} (from {assets.PACKAGE}=={assets.VERSION}) is not in "
                   f"{assets.cache_dir()}: run `python tests/assets.py` to fetch it")


@pytest.fixture(scope="session")
def published():
    """`published("gpt2.tiktoken")` -> the path of that file fetched by tests/assets.py (or skip / fail)."""
    return published_path


@pytest.fixture(scope="session")
def docs_file(tmp_path_factory):
    """The CPython documentation text (tests/texts.py) as a UTF-8 file, for tests that read files."""
    path = tmp_path_factory.mktemp("texts") / "docs.txt"
    path.write_text(docs_text(), encoding="utf-8", newline="")
    return path
