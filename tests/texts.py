"""Real and generated text that every machine has, so that the suite needs nothing beside the clone.

- `docs_text()`: the English prose of the Python documentation that ships inside CPython
  (`pydoc_data.topics`, about 470 KB). Real text, but it changes between Python releases, so use it for
  oracle comparisons (ours vs a reference or a peer), never for golden files.
- `stdlib_text()`: the standard library's own sources: code, comments, docstrings, many scripts.
- `generated_text(n_chars, seed=...)`: pseudo-English built from a fixed word list by an integer LCG; the
  same characters on every machine and every Python version, so golden files can be made from it.
"""
import sysconfig
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def docs_text() -> str:
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics))


def docs_lines(*, keepends: bool = False) -> list[str]:
    return docs_text().splitlines(keepends=keepends)


@lru_cache(maxsize=None)
def stdlib_text(max_bytes: int = 3_000_000) -> str:
    """Concatenated `*.py` sources of the standard library (sorted paths), up to about `max_bytes`."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, size = [], 0
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(text)
        size += len(text.encode("utf-8"))
        if size >= max_bytes:
            break
    return "".join(parts)


# A small hand-made lexicon (frequent words first, so a Zipf-like draw gives realistic pair statistics),
# with some accents, digits and punctuation so byte-level and character-level training both have work.
_WORDS = """the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no will what can more
out up said about other into than its time only could new them man some these then two first may any like
now my such make over our even most me state after also made many did must before back see through way
where get much go well your know should down work year because come people just say each those take day
good how long very little world own old great right too here thing still house hand place while number
lower lowest newer newest wider widest river rivers running runner ran café naïve façade über déjà élan
garden gardens gardener morning evening winter summer autumn spring water waters stone stones""".split()
_PUNCT = [" ", " ", " ", " ", " ", " ", ", ", ". ", "; ", "? ", "! ", ": ", " - ", " (", ") "]


def generated_text(n_chars: int, *, seed: int = 1) -> str:
    """Deterministic pseudo-English of exactly `n_chars` characters (lines of 40-100 characters)."""
    state = seed & 0xFFFFFFFF
    out, line, size = [], 0, 0

    def draw(n: int) -> int:
        nonlocal state
        state = (1103515245 * state + 12345) & 0x7FFFFFFF  # the classic ANSI C LCG: pure integers
        return (state >> 8) % n

    while size < n_chars:
        # Zipf-like: the minimum of two uniform draws favours the front of the lexicon
        word = _WORDS[min(draw(len(_WORDS)), draw(len(_WORDS)))]
        if draw(9) == 0:
            word = word.capitalize()
        if draw(23) == 0:
            word = str(draw(2000))
        sep = _PUNCT[draw(len(_PUNCT))]
        piece = word + sep
        line += len(piece)
        if line > 40 + draw(60):
            piece, line = word + "\n", 0
        out.append(piece)
        size += len(piece)
    return "".join(out)[:n_chars]
