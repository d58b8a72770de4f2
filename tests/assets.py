"""Published tokenizer files that ship inside packages on the package index, fetched for the tests.

    python tests/assets.py            # download (once) and extract into the cache; prints the folder

`openai-whisper==20250625` (its sdist) carries OpenAI's `gpt2.tiktoken` (the GPT-2 ranks, identical to
encoder.json/vocab.bpe) and `multilingual.tiktoken` (Whisper's multilingual byte-level BPE). The sdist is
fetched with `pip download --no-deps` (nothing of whisper is installed), the two files are read out of the
archive by name, checked against pinned sha256 digests and written into the cache:
`$FASTTOK_ASSETS` if set, else `~/.cache/fasttok/assets`. The files are never committed to the repository.

Tests get them through the `published` fixture in tests/conftest.py, which skips with a reason naming this
script when they are absent, and fails when `CI` is set.
"""
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE, VERSION = "openai-whisper", "20250625"
ARCHIVE_MEMBER = "openai_whisper-20250625/whisper/assets/{name}"
FILES = {
    "gpt2.tiktoken": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    "multilingual.tiktoken": "b34b360dbb493e781e479794586d661700670d65564001f23024971d1f2fa126",
}


def cache_dir() -> Path:
    root = os.environ.get("FASTTOK_ASSETS") or os.path.join(os.path.expanduser("~"), ".cache", "fasttok", "assets")
    return Path(root) / f"{PACKAGE}-{VERSION}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached(name: str) -> Path | None:
    """The verified cached file, or None when it is missing or its digest is wrong."""
    path = cache_dir() / name
    try:
        return path if _sha256(path.read_bytes()) == FILES[name] else None
    except OSError:
        return None


def fetch() -> Path:
    """Make sure every file is in the cache; download the sdist only when one is missing."""
    missing = [name for name in FILES if cached(name) is None]
    if not missing:
        return cache_dir()
    with tempfile.TemporaryDirectory() as tmp:
        # --no-build-isolation: preparing the sdist's metadata then needs no further download
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-build-isolation",
                        "--dest", tmp, f"{PACKAGE}=={VERSION}"], check=True)
        archives = sorted(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise RuntimeError(f"pip download gave no sdist of {PACKAGE}=={VERSION} in {tmp}")
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0], "r:gz") as tar:
            for name in missing:
                # read the one member by name: nothing else in the archive touches the disk
                data = tar.extractfile(ARCHIVE_MEMBER.format(name=name)).read()
                if _sha256(data) != FILES[name]:
                    raise RuntimeError(f"{name} in {archives[0].name} does not have the pinned sha256")
                part = cache_dir() / f".{name}.part"
                part.write_bytes(data)
                os.replace(part, cache_dir() / name)
    return cache_dir()


if __name__ == "__main__":
    print(fetch())
